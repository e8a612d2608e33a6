// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT

package cell

// The producer side's checks of the consumer's head (the hostile server
// test drives the consumer side over real memfds; these need a full ring).

import (
	"encoding/binary"
	"testing"
)

func fullRing(t *testing.T, head uint64) *ring {
	r := fakeRing(make([]byte, offData+ringMinData))
	r.tail, r.head = 4000, 0
	binary.LittleEndian.PutUint64(r.mem[offConsumer:], head)
	return r
}

func TestRoomForRefusesImpossibleHead(t *testing.T) {
	for _, head := range []uint64{4008, 13, 1 << 40} {
		r := fullRing(t, head)
		if _, _, err := r.roomFor(512); StatusOf(err) != StatusBadMessage || !r.broken {
			t.Errorf("head %d: %v, broken %v", head, err, r.broken)
		}
	}
}

func TestRoomForRefusesHeadGoingBack(t *testing.T) {
	r := fullRing(t, 0)
	r.head = 64
	if _, _, err := r.roomFor(512); StatusOf(err) != StatusBadMessage {
		t.Errorf("head went back: %v", err)
	}
}

func TestRoomForWaitsOnAFullRingAndWrapsWhenFreed(t *testing.T) {
	r := fullRing(t, 0)
	if _, ok, err := r.roomFor(512); ok || err != nil {
		t.Fatalf("full ring: ok %v, %v", ok, err)
	}
	binary.LittleEndian.PutUint64(r.mem[offConsumer:], 4000)
	at, ok, err := r.roomFor(512)
	if !ok || err != nil || at != 4096 {
		t.Fatalf("freed ring: at %d ok %v %v", at, ok, err)
	}
	rec := r.mem[offData+4000:]
	if binary.LittleEndian.Uint32(rec) != recordWrap || binary.LittleEndian.Uint32(rec[4:]) != 4000 {
		t.Fatalf("no WRAP record at the old tail")
	}
}
