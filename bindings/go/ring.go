// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT

package cell

// The SHM fast path: the rings of <linux/cell.h>, mapped into this process.
//
// The server sends three fds with its WELCOME: the request ring (we
// produce), the response ring (we consume) and a doorbell eventfd.  They are
// memfds sealed against shrinking and growing; the seals, the size and the
// geometry (a private copy) are checked before the mapping is trusted, and
// every shared word is read once into a local and checked, as lib/ring.c
// does: a peer that scribbles on the pages gets BAD_MESSAGE, never a hang or
// a read out of bounds.
//
// Locking and memory ordering
//
// Positions, wake and waiting words are accessed with sync/atomic only.
// Go's atomics are sequentially consistent (the Go memory model, 1.19), so
// they give what lib/ring.c asks for on every architecture: the payload
// and the record header are plain stores made before the atomic store of
// the tail (a release for the C consumer's acquire load), and the tail is
// loaded atomically before the record is read (an acquire).  The Dekker
// handshake before a sleep and after a commit needs a store then a load
// of the other side's word in order: two seq_cst atomics give exactly that.
//
//	sleeper                          waker
//	seen = peer.wake                 store position
//	own.waiting = 1                  if peer.waiting { own.wake++; wake }
//	re-check position
//	futex_wait(&peer.wake, seen)
//
// Waiting spins Options.Spin (no system call while both sides are awake),
// then sleeps on the peer's futex word in slices of 20 ms, checking between
// slices that the server's socket is still up and the context not done.

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	ringPage     = 4096
	offProducer  = ringPage
	offConsumer  = 2 * ringPage
	offData      = 3 * ringPage
	ringMagic    = 0x474e5243
	ringMinData  = 1 << 12
	ringMaxData  = 1 << 30
	recordWrap   = 0xffffffff
	framePad     = 4 // [u32 zero][struct cell_hdr][payload], lib/channel.c
	geometrySize = 120
)

func ringsUnsupported() string { return "" }

func recordMax(size uint64) uint64 { return size/2 - 8 }

func align8(n uint64) uint64 { return (n + 7) &^ 7 }

func badRing(what string) error { return Errorf(StatusBadMessage, "ring: %s", what) }

// ring is one side of one ring: a checked mapping and the words it may touch.
type ring struct {
	fd                    int
	mem                   []byte
	size, mask            uint64
	prodPos, consPos      *uint64
	prodWake, prodWaiting *uint32
	consWake, consWaiting *uint32
	tail, head            uint64
	broken                bool
}

func (r *ring) u64(off int) *uint64 { return (*uint64)(unsafe.Pointer(&r.mem[off])) }
func (r *ring) u32(off int) *uint32 { return (*uint32)(unsafe.Pointer(&r.mem[off])) }

// attachRing checks and maps fd; on failure fd is closed.
func attachRing(fd int, expect uint64) (*ring, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, badRing("not a sealed memfd (" + err.Error() + ")")
	}
	seals, err := getSeals(fd)
	if err != nil || seals&(sealShrink|sealGrow) != sealShrink|sealGrow ||
		st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		syscall.Close(fd)
		return nil, badRing("not sealed against shrinking and growing")
	}
	fsize := uint64(st.Size)
	if st.Size < 0 || fsize < offData+ringMinData || fsize > offData+ringMaxData {
		syscall.Close(fd)
		return nil, badRing("file of " + itoa(int(st.Size)) + " bytes")
	}
	mem, err := syscall.Mmap(fd, 0, int(fsize), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		syscall.Close(fd)
		return nil, Errorf(StatusResourceExhausted, "ring: mmap: %v", err)
	}
	r := &ring{fd: fd, mem: mem}
	var g [geometrySize]byte
	copy(g[:], mem) // one private copy
	le := binary.LittleEndian
	size := le.Uint64(g[16:])
	ok := le.Uint32(g[0:]) == ringMagic && le.Uint16(g[4:]) == ABIVersion &&
		le.Uint16(g[6:]) == geometrySize && le.Uint32(g[8:])&^1 == 0 &&
		le.Uint32(g[12:]) == ringPage && size&(size-1) == 0 &&
		size >= ringMinData && size <= ringMaxData && (expect == 0 || size == expect) &&
		le.Uint64(g[24:]) == offProducer && le.Uint64(g[32:]) == offConsumer &&
		le.Uint64(g[40:]) == offData && fsize-offData >= size
	for i := 56; i < geometrySize; i++ {
		ok = ok && g[i] == 0
	}
	if !ok {
		r.close()
		return nil, badRing("bad geometry")
	}
	r.size, r.mask = size, size-1
	r.prodPos, r.prodWake, r.prodWaiting = r.u64(offProducer), r.u32(offProducer+8), r.u32(offProducer+12)
	r.consPos, r.consWake, r.consWaiting = r.u64(offConsumer), r.u32(offConsumer+8), r.u32(offConsumer+12)
	tail, head := atomic.LoadUint64(r.prodPos), atomic.LoadUint64(r.consPos)
	if (tail|head)&7 != 0 || head > tail || tail-head > size {
		r.close()
		return nil, badRing("bad positions")
	}
	r.tail, r.head = tail, head
	return r, nil
}

func (r *ring) close() {
	if r.mem != nil {
		syscall.Munmap(r.mem)
		r.mem = nil
		r.prodPos, r.consPos = nil, nil
		r.prodWake, r.prodWaiting, r.consWake, r.consWaiting = nil, nil, nil, nil
	}
	if r.fd >= 0 {
		syscall.Close(r.fd)
		r.fd = -1
	}
}

func (r *ring) fail(what string) error {
	r.broken = true
	return badRing(what)
}

// roomFor is the position to write a record of total bytes at, or false
// if the ring is full.
func (r *ring) roomFor(total uint64) (uint64, bool, error) {
	off := r.tail & r.mask
	toEnd := r.size - off
	at, need := r.tail, total
	if total > toEnd {
		at, need = r.tail+toEnd, toEnd+total
	}
	if r.tail+need-r.head > r.size {
		head := atomic.LoadUint64(r.consPos)
		if head&7 != 0 || head < r.head || head > r.tail || r.tail-head > r.size {
			return 0, false, r.fail("impossible consumer position")
		}
		r.head = head
		if r.tail+need-head > r.size {
			return 0, false, nil
		}
	}
	if at != r.tail {
		rec := r.mem[offData+off:]
		binary.LittleEndian.PutUint32(rec, recordWrap)
		binary.LittleEndian.PutUint32(rec[4:], uint32(r.tail))
	}
	return at, true, nil
}

func (r *ring) commit(at uint64, h *Header, payload []byte) {
	base := offData + int(at&r.mask)
	rec := r.mem[base : base+8+framePad+HeaderSize+len(payload)]
	n := framePad + HeaderSize + len(payload)
	binary.LittleEndian.PutUint32(rec[8:], 0)
	h.Put(rec[8+framePad:])
	copy(rec[8+framePad+HeaderSize:], payload)
	binary.LittleEndian.PutUint32(rec, uint32(n))
	binary.LittleEndian.PutUint32(rec[4:], uint32(at))
	r.tail = at + 8 + align8(uint64(n))
	atomic.StoreUint64(r.prodPos, r.tail) // the release of the record
}

// read is a copy of the next record and its end position, or false if the
// ring is empty.
func (r *ring) read() ([]byte, uint64, bool, error) {
	tail := atomic.LoadUint64(r.prodPos) // the acquire of what lies below it
	pos := r.head
	if tail&7 != 0 || tail < r.tail || tail-pos > r.size {
		return nil, 0, false, r.fail("impossible producer position")
	}
	r.tail = tail
	if tail == pos {
		return nil, 0, false, nil
	}
	for {
		off := pos & r.mask
		hdr := r.mem[offData+off:]
		n := uint64(atomic.LoadUint32((*uint32)(unsafe.Pointer(&hdr[0]))))
		seq := atomic.LoadUint32((*uint32)(unsafe.Pointer(&hdr[4])))
		if seq != uint32(pos) {
			return nil, 0, false, r.fail("torn, stale or forged record")
		}
		if n == recordWrap {
			if off == 0 {
				return nil, 0, false, r.fail("wrap at offset 0")
			}
			pos += r.size - off
			if pos >= tail {
				return nil, 0, false, r.fail("wrap without a record")
			}
			continue
		}
		total := 8 + align8(n)
		if n > recordMax(r.size) || total > r.size-off || total > tail-pos {
			return nil, 0, false, r.fail("record out of bounds")
		}
		out := make([]byte, n) // a copy: the peer cannot change it under the decoder
		copy(out, hdr[8:8+n])
		return out, pos + total, true, nil
	}
}

func (r *ring) release(end uint64) {
	r.head = end
	atomic.StoreUint64(r.consPos, end)
}

// clientRings are the client's two rings and doorbell.
type clientRings struct {
	tx, rx    *ring
	doorbell  int
	sock      int
	spin      time.Duration
	cancelled map[uint32]struct{}
}

// newClientRings takes ownership of fds (request ring, response ring, doorbell).
func newClientRings(fds []int, w *Welcome, sock int, spin time.Duration) (*clientRings, error) {
	tx, err := attachRing(fds[0], w.RequestRing)
	if err != nil {
		closeAll(fds[1:])
		return nil, err
	}
	rx, err := attachRing(fds[1], w.ResponseRing)
	if err != nil {
		tx.close()
		closeAll(fds[2:])
		return nil, err
	}
	// A side that died asleep left its flag.
	atomic.StoreUint32(tx.prodWaiting, 0)
	atomic.StoreUint32(rx.consWaiting, 0)
	return &clientRings{tx: tx, rx: rx, doorbell: fds[2], sock: sock, spin: spin,
		cancelled: map[uint32]struct{}{}}, nil
}

func (cr *clientRings) close() {
	cr.tx.close()
	cr.rx.close()
	if cr.doorbell >= 0 {
		syscall.Close(cr.doorbell)
		cr.doorbell = -1
	}
}

func (cr *clientRings) alive() bool {
	rev, err := pollOne(cr.sock, pollRdHup, 0)
	return err == nil && rev&(pollHup|pollRdHup|pollErr|pollNval) == 0
}

func (cr *clientRings) ringDoorbell() {
	var one [8]byte
	one[0] = 1
	syscall.Write(cr.doorbell, one[:]) // EAGAIN: saturated, the server is awake anyway
}

// wait spins, then sleeps on wake with waiting set, until ready() says so.
func (cr *clientRings) wait(ctx context.Context, ready func() (bool, error), wake, waiting *uint32) error {
	end := time.Now().Add(cr.spin)
	for {
		if ok, err := ready(); ok || err != nil {
			return err
		}
		if !time.Now().Before(end) {
			break
		}
	}
	defer atomic.StoreUint32(waiting, 0)
	for {
		seen := atomic.LoadUint32(wake)
		atomic.StoreUint32(waiting, 1)
		if ok, err := ready(); ok || err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctxError(ctx, "call")
		}
		if !cr.alive() {
			return Errorf(StatusUnavailable, "the server went away")
		}
		slice := waitSlice
		if dl, ok := ctx.Deadline(); ok {
			if left := time.Until(dl); left < slice {
				slice = left
			}
		}
		if slice > 0 {
			futexWaitFor(wake, seen, slice)
		}
	}
}

func (cr *clientRings) submit(ctx context.Context, h *Header, payload []byte) error {
	tx := cr.tx
	n := uint64(framePad + HeaderSize + len(payload))
	if n > recordMax(tx.size) {
		return Errorf(StatusTooLarge, "%d bytes: larger than a ring record "+
			"(attachments are not supported by the Go runtime yet)", len(payload))
	}
	if tx.broken {
		return badRing("request ring broken")
	}
	total := 8 + align8(n)
	var at uint64
	ready := func() (bool, error) {
		a, ok, err := tx.roomFor(total)
		at = a
		return ok, err
	}
	ok, err := ready()
	if err == nil && !ok {
		err = cr.wait(ctx, ready, tx.consWake, tx.prodWaiting)
	}
	if err != nil {
		return err
	}
	tx.commit(at, h, payload)
	if atomic.LoadUint32(tx.consWaiting) != 0 {
		atomic.AddUint32(tx.prodWake, 1)
		cr.ringDoorbell()
	}
	return nil
}

func (cr *clientRings) releaseRx(end uint64) {
	rx := cr.rx
	rx.release(end)
	if atomic.LoadUint32(rx.prodWaiting) != 0 {
		atomic.AddUint32(rx.consWake, 1)
		cr.ringDoorbell()
		futexWakeAll(rx.consWake)
	}
}

func (cr *clientRings) call(ctx context.Context, h *Header, payload []byte) ([]byte, error) {
	if err := cr.submit(ctx, h, payload); err != nil {
		return nil, err
	}
	rx := cr.rx
	var rec []byte
	var end uint64
	ready := func() (bool, error) {
		r, e, ok, err := rx.read()
		rec, end = r, e
		return ok, err
	}
	for {
		if rx.broken {
			return nil, badRing("response ring broken")
		}
		if err := cr.wait(ctx, ready, rx.prodWake, rx.consWaiting); err != nil {
			return nil, err
		}
		cr.releaseRx(end)
		if len(rec) < framePad+HeaderSize {
			return nil, rx.fail("record shorter than a frame")
		}
		frame := rec[framePad:]
		id := binary.LittleEndian.Uint32(frame[4:])
		if _, late := cr.cancelled[id]; late && id != h.Correlation {
			delete(cr.cancelled, id)
			continue // the late answer to a call given up
		}
		return frame, nil
	}
}
