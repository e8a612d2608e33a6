// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT

package cell

// System calls the syscall package of Go 1.19 does not wrap on Linux, and
// waits bounded by a deadline and a context.

import (
	"context"
	"errors"
	"syscall"
	"time"
	"unsafe"
)

const (
	pollIn    = 0x001
	pollOut   = 0x004
	pollErr   = 0x008
	pollHup   = 0x010
	pollNval  = 0x020
	pollRdHup = 0x2000

	fGetSeals   = 1034
	sealShrink  = 0x0002
	sealGrow    = 0x0004
	futexWait   = 0
	futexWake   = 1
	waitSlice   = 20 * time.Millisecond
	nsPerSecond = int64(time.Second)
)

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

// pollOne waits up to timeout for events on fd; it returns the revents.
func pollOne(fd int, events int16, timeout time.Duration) (int16, error) {
	p := pollFd{fd: int32(fd), events: events}
	ms := int(timeout / time.Millisecond)
	if timeout > 0 && ms == 0 {
		ms = 1
	}
	for {
		n, _, e := syscall.Syscall(syscall.SYS_POLL, uintptr(unsafe.Pointer(&p)), 1, uintptr(ms))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		if n == 0 {
			return 0, nil
		}
		return p.revents, nil
	}
}

// ctxError maps the end of a context to a cell status.
func ctxError(ctx context.Context, what string) error {
	err := ctx.Err()
	// nil: the deadline has passed but the context's timer has not fired yet.
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		return Errorf(StatusDeadlineExceeded, "%s: no answer in time", what)
	}
	return Errorf(StatusCancelled, "%s: %v", what, err)
}

// waitFd waits for events on fd until the context ends, in slices so
// that a cancelled context is seen within waitSlice.
func waitFd(ctx context.Context, fd int, events int16, what string) error {
	for {
		if ctx.Err() != nil {
			return ctxError(ctx, what)
		}
		slice := waitSlice
		if dl, ok := ctx.Deadline(); ok {
			if left := time.Until(dl); left < slice {
				slice = left
			}
		}
		if slice <= 0 {
			return ctxError(ctx, what)
		}
		rev, err := pollOne(fd, events, slice)
		if err != nil {
			return Errorf(StatusUnavailable, "%s: poll: %v", what, err)
		}
		if rev != 0 {
			return nil
		}
	}
}

func getSeals(fd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), fGetSeals, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// futexWaitFor sleeps while *addr == val, at most d.
func futexWaitFor(addr *uint32, val uint32, d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWait,
		uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

func futexWakeAll(addr *uint32) {
	syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWake,
		0x7fffffff, 0, 0, 0)
}
