// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT

package cell

// A client connection to a cell: HELLO, then calls on the unix or SHM path.
//
// The protocol is Documentation/rpc.rst: connect to <runtime dir>/<name>.sock
// (SOCK_SEQPACKET), send HELLO (struct cell_hello), read WELCOME.  With the
// rings granted (three fds by SCM_RIGHTS: request ring, response ring,
// doorbell eventfd) calls go through shared memory (ring.go); otherwise
// every frame is one socket message (the unix path).
//
// Everything the server sends is checked before use: the WELCOME field by
// field as lib/handshake.c does, every frame by the wire rules, its
// fingerprint against the agreed one, its kind, method and correlation id
// against the call.  A violation is a BAD_MESSAGE error and drops the
// connection; a silent server gives DEADLINE_EXCEEDED when the context's
// deadline (or Options.Timeout) passes; a gone one UNAVAILABLE.  Nothing
// here blocks without a deadline.  One call at a time per connection (a
// mutex serialises goroutines).

import (
	"context"
	"encoding/binary"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Handshake features and limits of <linux/cell.h>.
const (
	FeatShmMemfd    = 0x0001
	FeatShmModule   = 0x0002
	FeatAttachments = 0x0004
	FeatCancel      = 0x0008
	FeatTrace       = 0x0010 // never offered: flag bit 7 stays reserved here
	featAll         = 0x001f

	helloMagic      = 0x4f4c4548
	welcomeMagic    = 0x434c4557
	hsSize          = 48
	SocketFrameMax  = 64 << 10 // payload bytes per socket message
	nameMax         = 32
	recvMax         = HeaderSize + SocketFrameMax + 64
	defaultTimeout  = 5 * time.Second
	defaultSpinTime = 50 * time.Microsecond
)

// Options of Dial; the zero value (or nil) is the default.
type Options struct {
	Path      string        // socket path; wins over the name
	Dir       string        // runtime directory; default as lib/runtime_dir.c
	Transport string        // "auto" (default), "shm" (rings or an error), "unix"
	Timeout   time.Duration // default of calls whose context has no deadline; 5 s
	RingSize  uint64        // ring data size asked for; 0: the server's choice
	Spin      time.Duration // busy wait before sleeping on the rings; 50 µs
}

// RuntimeDir is where local cells put their sockets (as lib/runtime_dir.c).
func RuntimeDir() (string, error) {
	if env, ok := os.LookupEnv("CELL_RUNTIME_DIR"); ok {
		if !strings.HasPrefix(env, "/") {
			return "", Errorf(StatusInvalidArgument, "CELL_RUNTIME_DIR is not absolute")
		}
		return env, nil
	}
	if env, ok := os.LookupEnv("XDG_RUNTIME_DIR"); ok {
		if !strings.HasPrefix(env, "/") {
			return "", Errorf(StatusInvalidArgument, "XDG_RUNTIME_DIR is not absolute")
		}
		return env + "/cell", nil
	}
	if os.Geteuid() == 0 {
		return "/run/cell", nil
	}
	return "/tmp/cell-" + itoa(os.Geteuid()), nil
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// SocketPath is the socket of cell name in dir ("" for RuntimeDir()).
func SocketPath(name, dir string) (string, error) {
	ok := name != "" && name[0] != '.' && len(name) < nameMax
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strings.IndexByte("_.@-", c) >= 0
	}
	if !ok {
		return "", Errorf(StatusInvalidArgument, "bad cell name %q", name)
	}
	if at := strings.IndexByte(name, '@'); at >= 0 && !allDigits(name[at+1:]) { // NAME@N: instance N, local
		return "", Errorf(StatusUnavailable, "%s: remote cells (NAME@node) need celld's routing, not here yet", name)
	}
	if dir == "" {
		d, err := RuntimeDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	return dir + "/" + name + ".sock", nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Welcome is the server's answer to HELLO, as checked.
type Welcome struct {
	Features     uint32
	MaxInflight  uint32
	RequestRing  uint64
	ResponseRing uint64
	Fingerprint  uint64
}

func ringSizeOK(n uint64) bool {
	return n == 0 || (n >= ringMinData && n <= ringMaxData && n&(n-1) == 0)
}

func encodeHello(fp uint64, features uint32, ringSize uint64) []byte {
	b := make([]byte, HeaderSize+hsSize)
	h := Header{Version: WireVersion, Flags: FlagRequest, Method: MethodHello, Correlation: 1,
		Len: hsSize, Fingerprint: fp}
	h.Put(b)
	p := b[HeaderSize:]
	le := binary.LittleEndian
	le.PutUint32(p[0:], helloMagic)
	le.PutUint16(p[4:], ABIVersion)
	le.PutUint32(p[8:], features)
	le.PutUint32(p[12:], 1)
	le.PutUint64(p[16:], ringSize)
	le.PutUint64(p[24:], ringSize)
	le.PutUint64(p[32:], fp)
	return b
}

// parseWelcome applies the rules lib/handshake.c applies to a WELCOME payload.
func parseWelcome(p []byte, hdrFP uint64) (Welcome, error) {
	le := binary.LittleEndian
	w := Welcome{Features: le.Uint32(p[8:]), MaxInflight: le.Uint32(p[12:]),
		RequestRing: le.Uint64(p[16:]), ResponseRing: le.Uint64(p[24:]),
		Fingerprint: le.Uint64(p[32:])}
	switch {
	case le.Uint32(p) != welcomeMagic:
		return w, Errorf(StatusBadMessage, "bad magic")
	case le.Uint16(p[4:]) != ABIVersion:
		return w, Errorf(StatusUnsupportedVersion, "unsupported ABI version")
	case le.Uint16(p[6:]) != 0 || le.Uint64(p[40:]) != 0:
		return w, Errorf(StatusBadMessage, "reserved field not zero")
	case w.Features&^featAll != 0:
		return w, Errorf(StatusBadMessage, "unknown feature bits")
	case !ringSizeOK(w.RequestRing) || !ringSizeOK(w.ResponseRing):
		return w, Errorf(StatusBadMessage, "bad ring size")
	case w.Fingerprint != hdrFP:
		return w, Errorf(StatusBadMessage, "header and payload fingerprints differ")
	case w.MaxInflight == 0:
		return w, Errorf(StatusBadMessage, "max_inflight is 0")
	}
	return w, nil
}

// Conn is one connection to a cell.  Its methods are safe for concurrent
// use; calls are serialised.
type Conn struct {
	mu          sync.Mutex
	fd          int
	path, name  string
	fp, serverF uint64
	kind        string
	rings       *clientRings
	nextID      uint32
	dead        bool
	cancelled   map[uint32]struct{}
	timeout     time.Duration
	serverCred  *syscall.Ucred
	buf         []byte
}

// Dial connects to the cell name (or opts.Path) serving the schema whose
// fingerprint is fp, and shakes hands within the context's deadline (or
// opts.Timeout).
func Dial(ctx context.Context, name string, fp uint64, opts *Options) (*Conn, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Spin <= 0 {
		o.Spin = defaultSpinTime
	}
	transport := o.Transport
	if transport == "" || transport == "auto" {
		switch os.Getenv("CELL_RING_BACKEND") {
		case "memfd", "module", "shm":
			transport = "shm"
		case "unix":
			transport = "unix"
		default:
			transport = "auto"
		}
	}
	if transport != "auto" && transport != "shm" && transport != "unix" {
		return nil, Errorf(StatusInvalidArgument, "transport %q is not auto, shm or unix", o.Transport)
	}
	path := o.Path
	if path == "" {
		p, err := SocketPath(name, o.Dir)
		if err != nil {
			return nil, err
		}
		path = p
	}
	if name == "" {
		name = path
	}
	c := &Conn{fd: -1, path: path, name: name, fp: fp, kind: "unix", nextID: 1,
		cancelled: map[uint32]struct{}{}, timeout: o.Timeout, buf: make([]byte, recvMax)}
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	if err := c.handshake(ctx, transport, o); err != nil {
		c.closeFds()
		return nil, err
	}
	return c, nil
}

func (c *Conn) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

func (c *Conn) connect(ctx context.Context) error {
	fd, err := syscall.Socket(syscall.AF_UNIX,
		syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		return Errorf(StatusResourceExhausted, "socket: %v", err)
	}
	for {
		err = syscall.Connect(fd, &syscall.SockaddrUnix{Name: c.path})
		if err != syscall.EAGAIN && err != syscall.EINTR {
			break
		}
		// The listener's backlog is full: wait a little, within the deadline.
		if ctx.Err() != nil {
			syscall.Close(fd)
			return ctxError(ctx, "connect "+c.path)
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		syscall.Close(fd)
		return Errorf(StatusUnavailable, "connect %s: %v", c.path, err)
	}
	c.fd = fd
	return nil
}

func (c *Conn) handshake(ctx context.Context, transport string, o Options) error {
	features := uint32(FeatCancel)
	if transport != "unix" {
		if why := ringsUnsupported(); why == "" {
			features |= FeatShmMemfd
		} else if transport == "shm" {
			return Errorf(StatusUnavailable, "%s", why)
		}
	}
	if _, err := syscall.Write(c.fd, encodeHello(c.fp, features, o.RingSize)); err != nil &&
		err != syscall.EPIPE {
		return Errorf(StatusUnavailable, "handshake: %v", err)
	}
	data, fds, err := c.recv(ctx, "handshake with "+c.path)
	if err != nil {
		return err
	}
	defer func() { closeAll(fds) }()
	w, err := c.parseWelcomeFrame(data)
	if err != nil {
		return err
	}
	if w.Features&^features != 0 {
		return Errorf(StatusBadMessage, "WELCOME grants features not offered")
	}
	if cred, err := syscall.GetsockoptUcred(c.fd, syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
		c.serverCred = cred
	}
	if w.Features&(FeatShmMemfd|FeatShmModule) != 0 {
		if len(fds) != 3 {
			return Errorf(StatusBadMessage, "%d fds with a ring WELCOME, not 3", len(fds))
		}
		r, err := newClientRings(fds, &w, c.fd, o.Spin)
		fds = nil // newClientRings owns them now
		if err != nil {
			return err
		}
		c.rings = r
		c.kind = "shm-memfd"
		return nil
	}
	if transport == "shm" {
		return Errorf(StatusUnavailable, "%s: the server grants no rings", c.path)
	}
	if len(fds) != 0 {
		return Errorf(StatusBadMessage, "fds with a WELCOME without rings")
	}
	return nil
}

func (c *Conn) parseWelcomeFrame(data []byte) (Welcome, error) {
	h, p, err := DecodeFrame(data, 4096)
	if err != nil {
		return Welcome{}, err
	}
	c.serverF = h.Fingerprint
	if h.Method != MethodHello || h.Correlation != 1 || h.Flags&FlagKindMask != FlagResponse {
		return Welcome{}, Errorf(StatusBadMessage, "not an answer to HELLO")
	}
	if h.Flags&FlagError != 0 {
		st, detail, _ := DecodeError(p)
		if st == StatusFingerprintMismatch {
			detail = c.mismatch(h.Fingerprint)
		}
		return Welcome{}, Errorf(st, "%s: refused by the server: %s", c.path, detail)
	}
	if h.Flags != FlagResponse || h.Len != hsSize {
		return Welcome{}, Errorf(StatusBadMessage, "not a WELCOME frame")
	}
	w, err := parseWelcome(p, h.Fingerprint)
	if err != nil {
		return w, err
	}
	if w.Fingerprint != c.fp {
		return w, Errorf(StatusFingerprintMismatch, "%s", c.mismatch(w.Fingerprint))
	}
	return w, nil
}

func (c *Conn) mismatch(server uint64) string {
	return "fingerprint mismatch: client 0x" + hex16(c.fp) + ", server 0x" + hex16(server)
}

func hex16(v uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b[:])
}

func closeAll(fds []int) {
	for _, fd := range fds {
		if fd >= 0 {
			syscall.Close(fd)
		}
	}
}

// recvMsg is one SEQPACKET message and the fds that came with it (non-blocking).
func (c *Conn) recvMsg() ([]byte, []int, error) {
	oob := make([]byte, syscall.CmsgSpace(3*4))
	n, oobn, flags, _, err := syscall.Recvmsg(c.fd, c.buf, oob, syscall.MSG_DONTWAIT|syscall.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, nil, err
	}
	var fds []int
	if oobn > 0 {
		msgs, perr := syscall.ParseSocketControlMessage(oob[:oobn])
		if perr == nil {
			for i := range msgs {
				if msgs[i].Header.Level == syscall.SOL_SOCKET && msgs[i].Header.Type == syscall.SCM_RIGHTS {
					got, _ := syscall.ParseUnixRights(&msgs[i])
					fds = append(fds, got...)
				}
			}
		}
	}
	if flags&(syscall.MSG_TRUNC|syscall.MSG_CTRUNC) != 0 {
		closeAll(fds)
		return nil, nil, Errorf(StatusBadMessage, "message larger than a socket frame")
	}
	out := make([]byte, n)
	copy(out, c.buf[:n])
	return out, fds, nil
}

func (c *Conn) recv(ctx context.Context, what string) ([]byte, []int, error) {
	for {
		data, fds, err := c.recvMsg()
		switch err {
		case nil:
			if len(data) == 0 && len(fds) == 0 {
				c.dead = true
				return nil, nil, Errorf(StatusUnavailable, "%s: %s closed the connection", what, c.name)
			}
			return data, fds, nil
		case syscall.EAGAIN, syscall.EINTR:
			if err := waitFd(ctx, c.fd, pollIn, what); err != nil {
				return nil, nil, err
			}
		case syscall.ECONNRESET, syscall.EPIPE:
			c.dead = true
			return nil, nil, Errorf(StatusUnavailable, "%s: %s closed the connection", what, c.name)
		default:
			if se, ok := err.(*StatusError); ok {
				return nil, nil, se
			}
			c.dead = true
			return nil, nil, Errorf(StatusUnavailable, "%s: %v", what, err)
		}
	}
}

func (c *Conn) sendSock(ctx context.Context, frame []byte) error {
	for {
		_, err := syscall.Write(c.fd, frame)
		switch err {
		case nil:
			return nil
		case syscall.EAGAIN, syscall.EINTR:
			if err := waitFd(ctx, c.fd, pollOut, "send"); err != nil {
				return err
			}
		default:
			c.dead = true
			return Errorf(StatusUnavailable, "send: %v", err)
		}
	}
}

// Kind is the path the connection took: "shm-memfd" or "unix".
func (c *Conn) Kind() string { return c.kind }

// Path is the socket path.
func (c *Conn) Path() string { return c.path }

// ServerFingerprint is the fingerprint the server's WELCOME (or refusal) carried.
func (c *Conn) ServerFingerprint() uint64 { return c.serverF }

// ServerCred is the server's pid, uid and gid (SO_PEERCRED), or nil.
func (c *Conn) ServerCred() *syscall.Ucred { return c.serverCred }

func (c *Conn) header(flags uint8, method uint16, id uint32, n int) Header {
	return Header{Version: WireVersion, Flags: flags, Method: method, Correlation: id,
		Len: uint32(n), Fingerprint: c.fp}
}

func (c *Conn) checkOpen() error {
	if c.fd < 0 || c.dead {
		return Errorf(StatusUnavailable, "%s: connection lost", c.name)
	}
	return nil
}

func (c *Conn) allocID() uint32 {
	id := c.nextID
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	return id
}

// Call calls method with payload and returns the response payload.  The
// context's deadline (or Options.Timeout) bounds the call; on timeout or
// cancellation a CANCEL goes to the server and a late answer is dropped.
func (c *Conn) Call(ctx context.Context, method uint16, payload []byte) ([]byte, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctxError(ctx, "call")
	}
	id := c.allocID()
	h := c.header(FlagRequest, method, id, len(payload))
	var frame []byte
	var err error
	if c.rings != nil {
		frame, err = c.rings.call(ctx, &h, payload)
	} else {
		frame, err = c.callUnix(ctx, &h, payload)
	}
	if err != nil {
		switch StatusOf(err) {
		case StatusDeadlineExceeded, StatusCancelled:
			if !c.dead {
				c.cancel(method, id)
			}
		case StatusBadMessage:
			c.dead = true // a violation drops the connection
		}
		return nil, err
	}
	return c.answer(frame, &h)
}

// Send sends a one-way message: no response comes.
func (c *Conn) Send(ctx context.Context, method uint16, payload []byte) error {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkOpen(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctxError(ctx, "send")
	}
	h := c.header(FlagRequest|FlagOneway, method, 0, len(payload))
	if c.rings != nil {
		return c.rings.submit(ctx, &h, payload)
	}
	if err := checkSize(payload); err != nil {
		return err
	}
	return c.sendSock(ctx, EncodeFrame(h, payload))
}

// Schema is the server's canonical schema text (control method SCHEMA).
func (c *Conn) Schema(ctx context.Context) (string, error) {
	p, err := c.Call(ctx, MethodSchema, nil)
	return string(p), err
}

// Ping calls control method PING.
func (c *Conn) Ping(ctx context.Context) error {
	_, err := c.Call(ctx, MethodPing, nil)
	return err
}

func checkSize(payload []byte) error {
	if len(payload) > SocketFrameMax {
		return Errorf(StatusTooLarge, "%d bytes: larger than a socket frame "+
			"(attachments are not supported by the Go runtime yet)", len(payload))
	}
	return nil
}

func (c *Conn) callUnix(ctx context.Context, h *Header, payload []byte) ([]byte, error) {
	if err := checkSize(payload); err != nil {
		return nil, err
	}
	if err := c.sendSock(ctx, EncodeFrame(*h, payload)); err != nil {
		return nil, err
	}
	for {
		data, fds, err := c.recv(ctx, "call")
		if err != nil {
			return nil, err
		}
		if len(fds) != 0 {
			closeAll(fds)
			return nil, Errorf(StatusBadMessage, "unexpected fds from the server")
		}
		var id uint32
		if len(data) >= 8 {
			id = binary.LittleEndian.Uint32(data[4:])
		}
		if _, late := c.cancelled[id]; late && id != h.Correlation {
			delete(c.cancelled, id)
			continue // the late answer to a call given up
		}
		return data, nil
	}
}

// answer checks a response frame for call h: its payload or an error.
func (c *Conn) answer(frame []byte, h *Header) ([]byte, error) {
	rh, p, err := DecodeFrame(frame, MaxPayload)
	if err != nil {
		c.dead = true
		return nil, err
	}
	switch {
	case rh.Fingerprint != c.fp:
		return nil, c.violation("response with another fingerprint (0x" + hex16(rh.Fingerprint) + ")")
	case rh.Flags&FlagKindMask != FlagResponse:
		return nil, c.violation("a frame that is not a response")
	case rh.Correlation != h.Correlation || rh.Method != h.Method:
		return nil, c.violation("response to another call")
	case rh.Flags&FlagMore != 0:
		return nil, c.violation("streamed responses are not supported")
	}
	if rh.Flags&FlagError != 0 {
		st, detail, _ := DecodeError(p)
		return nil, &StatusError{Status: st, Detail: detail}
	}
	out := make([]byte, len(p))
	copy(out, p)
	return out, nil
}

func (c *Conn) violation(what string) error {
	c.dead = true
	return Errorf(StatusBadMessage, "%s: %s", c.name, what)
}

func (c *Conn) cancel(method uint16, id uint32) {
	set := c.cancelled
	if c.rings != nil {
		set = c.rings.cancelled
	}
	if len(set) > 1024 {
		for k := range set {
			delete(set, k)
		}
	}
	set[id] = struct{}{}
	b := make([]byte, HeaderSize)
	h := c.header(FlagCancel, method, id, 0)
	h.Put(b)
	syscall.Write(c.fd, b)
}

func (c *Conn) closeFds() {
	if c.rings != nil {
		c.rings.close()
		c.rings = nil
	}
	if c.fd >= 0 {
		syscall.Close(c.fd)
		c.fd = -1
	}
}

// Close says GOODBYE (if the connection is still good) and releases the
// socket, the mappings and the fds.  Closing twice is harmless.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return nil
	}
	if !c.dead {
		b := make([]byte, HeaderSize)
		h := c.header(FlagRequest|FlagOneway, MethodGoodbye, 0, 0)
		h.Put(b)
		syscall.Write(c.fd, b)
	}
	c.closeFds()
	return nil
}
