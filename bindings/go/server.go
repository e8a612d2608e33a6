// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT

package cell

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// MethodFunc answers one request: its payload in, the response payload out
// (ignored for a one-way request).  The generated Serve<Service> wraps a
// typed handler in these: the request is validated before the handler sees
// it.  An error that is a *StatusError travels with its status and detail;
// any other error (or a panic) is INTERNAL.
type MethodFunc func(ctx context.Context, req []byte) ([]byte, error)

// Server is a Go cell on the unix path: SOCK_SEQPACKET at
// <runtime dir>/<name>.sock, HELLO answered as lib/server.c does (a
// fingerprint mismatch is refused naming both), one goroutine per
// connection, SCHEMA and PING answered by the runtime.  No rings are
// granted (C clients fall back to the unix path), no attachments, no MORE
// streams (a MORE request drops the connection): a request is one frame of
// at most 64 KiB.
type Server struct {
	fp      uint64
	schema  string
	methods map[uint16]MethodFunc
	path    string
	lfd     int
	closed  atomic.Bool
	serving atomic.Bool
	wg      sync.WaitGroup
	served  atomic.Uint64
}

// maxRequest is the largest socket frame a Server reads.
const maxRequest = 64 << 10

// NewServer binds cell name in dir ("" for RuntimeDir()) for schema fp
// whose canonical text is schema.
func NewServer(name, dir string, fp uint64, schema string, methods map[uint16]MethodFunc) (*Server, error) {
	path, err := SocketPath(name, dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, Errorf(StatusUnavailable, "runtime dir: %v", err)
	}
	fd, err := syscall.Socket(syscall.AF_UNIX,
		syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, Errorf(StatusResourceExhausted, "socket: %v", err)
	}
	_ = os.Remove(path)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		return nil, Errorf(StatusUnavailable, "bind %s: %v", path, err)
	}
	if err := syscall.Listen(fd, 64); err != nil {
		syscall.Close(fd)
		return nil, Errorf(StatusUnavailable, "listen %s: %v", path, err)
	}
	return &Server{fp: fp, schema: schema, methods: methods, path: path, lfd: fd}, nil
}

// Path is the server's socket path.
func (s *Server) Path() string { return s.path }

// Served is the number of requests answered or consumed so far.
func (s *Server) Served() uint64 { return s.served.Load() }

// Serve accepts and serves connections until Close; then it waits for the
// connections' goroutines and returns nil.
func (s *Server) Serve() error {
	if s.serving.Swap(true) {
		return Errorf(StatusInvalidArgument, "Serve already running")
	}
	defer syscall.Close(s.lfd)
	defer s.wg.Wait()
	for !s.closed.Load() {
		if _, err := pollOne(s.lfd, pollIn, 100*time.Millisecond); err != nil && err != syscall.EINTR {
			return Errorf(StatusInternal, "poll: %v", err)
		}
		cfd, _, err := syscall.Accept4(s.lfd, syscall.SOCK_CLOEXEC)
		if err != nil {
			continue // EAGAIN, or the client went away
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer syscall.Close(cfd)
			s.serveConn(cfd)
		}()
	}
	return nil
}

// Close stops Serve (within 200 ms) and removes the socket file.
func (s *Server) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	_ = os.Remove(s.path)
	if !s.serving.Load() {
		return syscall.Close(s.lfd) // else Serve closes it on its way out
	}
	return nil
}

// readFrame waits up to d (in slices, so Close is noticed) for one frame.
func (s *Server) readFrame(fd int, buf []byte, d time.Duration) (int, error) {
	end := time.Now().Add(d)
	for !s.closed.Load() {
		slice := 200 * time.Millisecond
		if left := time.Until(end); left < slice {
			slice = left
		}
		if slice <= 0 {
			return 0, syscall.ETIMEDOUT
		}
		ev, err := pollOne(fd, pollIn, slice)
		if err != nil && err != syscall.EINTR {
			return 0, err
		}
		if ev == 0 {
			continue
		}
		n, _, _, _, err := syscall.Recvmsg(fd, buf, nil, syscall.MSG_CMSG_CLOEXEC)
		if err == syscall.EAGAIN || err == syscall.EINTR {
			continue
		}
		return n, err
	}
	return 0, syscall.ECANCELED
}

func (s *Server) errorFrame(method uint16, id uint32, st Status, detail string) []byte {
	if len(detail) > 160 {
		detail = detail[:160]
	}
	p, _ := EncodeError(st, detail)
	return EncodeFrame(Header{Version: WireVersion, Flags: FlagResponse | FlagError, Method: method,
		Correlation: id, Fingerprint: s.fp}, p)
}

func (s *Server) handshake(fd int) bool {
	buf := make([]byte, 4096)
	n, err := s.readFrame(fd, buf, 2*time.Second) // the HELLO must come soon, as in lib/server.c
	if err != nil || n == 0 {
		return false
	}
	hello, err := parseHelloFrame(buf[:n])
	if err != nil {
		st, detail := StatusBadMessage, err.Error()
		var se *StatusError
		if errors.As(err, &se) {
			st, detail = se.Status, se.Detail
		}
		_, _ = syscall.Write(fd, s.errorFrame(MethodHello, 1, st, detail))
		return false
	}
	if hello.Fingerprint != s.fp {
		_, _ = syscall.Write(fd, s.errorFrame(MethodHello, 1, StatusFingerprintMismatch,
			fmt.Sprintf("fingerprint mismatch: client 0x%016x, server 0x%016x", hello.Fingerprint, s.fp)))
		return false
	}
	inflight := hello.MaxInflight
	if inflight > 64 {
		inflight = 64
	}
	_, err = syscall.Write(fd, encodeWelcome(s.fp, hello.Features&FeatCancel, inflight))
	return err == nil
}

// parseHelloFrame checks a client's first frame: a HELLO request, its payload.
func parseHelloFrame(b []byte) (Welcome, error) {
	h, p, err := DecodeFrame(b, hsSize)
	if err != nil {
		return Welcome{}, err
	}
	if h.Flags != FlagRequest || h.Method != MethodHello || h.Correlation != 1 || h.Len != hsSize {
		return Welcome{}, Errorf(StatusBadMessage, "not a HELLO frame")
	}
	return parseHello(p, h.Fingerprint)
}

// parseHello applies the handshake rules of lib/handshake.c to a HELLO.
func parseHello(p []byte, hdrFP uint64) (Welcome, error) {
	if binary.LittleEndian.Uint32(p) != helloMagic {
		return Welcome{}, Errorf(StatusBadMessage, "bad magic")
	}
	q := append([]byte(nil), p...)
	binary.LittleEndian.PutUint32(q, welcomeMagic) // the rest of the rules are WELCOME's
	return parseWelcome(q, hdrFP)
}

func encodeWelcome(fp uint64, features, inflight uint32) []byte {
	b := encodeHello(fp, features, 0)
	b[1] = FlagResponse
	le := binary.LittleEndian
	le.PutUint32(b[HeaderSize:], welcomeMagic)
	le.PutUint32(b[HeaderSize+12:], inflight)
	return b
}

func (s *Server) serveConn(fd int) {
	if !s.handshake(fd) {
		return
	}
	buf := make([]byte, HeaderSize+maxRequest+64)
	for {
		n, err := s.readFrame(fd, buf, 365*24*time.Hour)
		if err != nil || n == 0 {
			return
		}
		h, p, err := DecodeFrame(buf[:n], maxRequest)
		if err != nil {
			return // a violation drops the connection
		}
		if h.Flags&FlagCancel != 0 {
			continue // one call at a time: nothing in flight to cancel
		}
		if h.Fingerprint != s.fp || h.Flags&FlagRequest == 0 {
			return
		}
		if h.Method == MethodGoodbye || h.Flags&FlagMore != 0 {
			return // no MORE streams here: the connection is dropped
		}
		out := s.dispatch(h, p)
		s.served.Add(1)
		if out != nil {
			if _, err := syscall.Write(fd, out); err != nil {
				return
			}
		}
	}
}

func (s *Server) call(f MethodFunc, req []byte) (resp []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, Errorf(StatusInternal, "handler panicked: %v", r)
		}
	}()
	return f(context.Background(), req)
}

func (s *Server) dispatch(h Header, p []byte) []byte {
	oneway := h.Flags&FlagOneway != 0
	var body []byte
	switch f, ok := s.methods[h.Method]; {
	case oneway && (h.Method == MethodSchema || h.Method == MethodPing || !ok):
		return nil // a one-way request is never answered
	case h.Method == MethodSchema:
		body = []byte(s.schema)
	case h.Method == MethodPing:
	case !ok:
		if oneway {
			return nil
		}
		return s.errorFrame(h.Method, h.Correlation, StatusUnknownMethod, fmt.Sprintf("no method %d", h.Method))
	default:
		r, err := s.call(f, append([]byte(nil), p...))
		if oneway {
			return nil
		}
		if err != nil {
			st, detail := StatusInternal, err.Error()
			var se *StatusError
			if errors.As(err, &se) {
				st, detail = se.Status, se.Detail
			}
			if st == StatusOK {
				st = StatusInternal
			}
			return s.errorFrame(h.Method, h.Correlation, st, detail)
		}
		if len(r) > maxRequest {
			return s.errorFrame(h.Method, h.Correlation, StatusTooLarge, "response beyond 64 KiB")
		}
		body = r
	}
	return EncodeFrame(Header{Version: WireVersion, Flags: FlagResponse, Method: h.Method,
		Correlation: h.Correlation, Fingerprint: s.fp}, body)
}
