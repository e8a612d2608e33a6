// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT

package cell

// Fuzz targets of the parsers of foreign bytes (go test -fuzz=FuzzX); a
// plain go test runs their seeds: selftests/vectors/frames.tsv and a few
// hand-made rings.  The property is the runtime's promise: an error, never
// a panic or a read out of bounds.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

func frameSeeds(f *testing.F) {
	fh, err := os.Open("../../selftests/vectors/frames.tsv")
	if err != nil {
		f.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if strings.HasPrefix(cols[0], "#") || len(cols) < 3 {
			continue
		}
		b, _ := hex.DecodeString(strings.ReplaceAll(cols[2], " ", ""))
		f.Add(b)
	}
}

func FuzzDecodeFrame(f *testing.F) {
	frameSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := DecodeFrame(b, 65536)
		if err != nil {
			if StatusOf(err) == StatusOK || err.(*StatusError).Wire == "" {
				t.Fatalf("refusal without a status or name: %v", err)
			}
			return
		}
		if !bytes.Equal(EncodeFrame(h, p), b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzDecodeFrameTraced(f *testing.F) {
	frameSeeds(f)
	ctx := TraceContext{TraceID: [16]byte{1}, SpanID: [8]byte{2}, Flags: TraceFlagSampled}
	f.Add(EncodeFrame(Header{Version: 1, Flags: FlagRequest | FlagTrace, Method: 1, Correlation: 1}, ctx.Encode()))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, tc, err := DecodeFrameTraced(b, 65536)
		if err != nil {
			if StatusOf(err) == StatusOK || err.(*StatusError).Wire == "" {
				t.Fatalf("refusal without a status or name: %v", err)
			}
			return
		}
		again := make([]byte, HeaderSize, len(b))
		h.Put(again)
		again = append(again, p...)
		if tc != nil {
			again = append(again, tc.Encode()...)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzParseWelcome(f *testing.F) {
	f.Add(encodeHello(1, FeatCancel, 0))
	f.Add(bytes.Repeat([]byte{0xff}, 68))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &Conn{fp: 1, path: "fuzz"}
		c.parseWelcomeFrame(b)
	})
}

// fakeRing is a ring over plain memory, as attachRing leaves it.
func fakeRing(mem []byte) *ring {
	r := &ring{fd: -1, mem: mem, size: ringMinData, mask: ringMinData - 1}
	r.prodPos, r.prodWake, r.prodWaiting = r.u64(offProducer), r.u32(offProducer+8), r.u32(offProducer+12)
	r.consPos, r.consWake, r.consWaiting = r.u64(offConsumer), r.u32(offConsumer+8), r.u32(offConsumer+12)
	return r
}

func FuzzRingRead(f *testing.F) {
	rec := make([]byte, 48)
	binary.LittleEndian.PutUint32(rec, 40)
	f.Add(uint64(48), uint64(0), rec)
	wrap := make([]byte, 16)
	binary.LittleEndian.PutUint32(wrap, recordWrap)
	f.Add(uint64(16), uint64(0), wrap)
	f.Add(uint64(13), uint64(0), []byte{1})
	f.Fuzz(func(t *testing.T, tail, head uint64, data []byte) {
		mem := make([]byte, offData+ringMinData)
		copy(mem[offData:], data)
		r := fakeRing(mem)
		head &^= 7
		r.head, r.tail = head, head
		binary.LittleEndian.PutUint64(mem[offProducer:], tail)
		for i := 0; i < 4; i++ {
			rec, end, ok, err := r.read()
			if err != nil || !ok {
				return
			}
			if uint64(len(rec)) > recordMax(r.size) || end <= r.head {
				t.Fatalf("record of %d bytes, end %d after head %d", len(rec), end, r.head)
			}
			r.head = end
		}
	})
}

func FuzzDecoderSpan(f *testing.F) {
	f.Add([]byte{8, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4}, 1, 1)
	f.Add([]byte{8, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, 8, 8)
	f.Fuzz(func(t *testing.T, b []byte, size, align int) {
		if size < 1 || size > 64 || align < 1 || align > 8 || align&(align-1) != 0 {
			return
		}
		d, err := NewDecoder(b, 8, "fuzz")
		if err != nil {
			return
		}
		off, n, err := d.Span(0, size, align, "fuzz.f")
		if err == nil && n > 0 && off+n*size > len(b) {
			t.Fatalf("span %d+%d*%d beyond %d bytes", off, n, size, len(b))
		}
		d.String(0, "fuzz.s")
		d.Bytes(0, "fuzz.b")
	})
}

// The server's side: the first frame as a HELLO, any later one dispatched
// (an echo method and a failing one); every answer must be a frame a
// client accepts.
func FuzzServerFrame(f *testing.F) {
	frameSeeds(f)
	f.Add(encodeHello(7, FeatCancel, 0))
	f.Add(EncodeFrame(Header{Version: 1, Flags: FlagRequest, Method: MethodSchema, Correlation: 3, Fingerprint: 7}, nil))
	f.Add(EncodeFrame(Header{Version: 1, Flags: FlagRequest, Method: 1, Correlation: 3, Fingerprint: 7}, []byte("x")))
	// Found by this target: a one-way PING was answered (correlation 0).
	f.Add([]byte("\x01)\x02\xff\x00\x00\x00\x00\x00\x00\x00\x0000000000"))
	s := &Server{fp: 7, schema: "schema s;\n", methods: map[uint16]MethodFunc{
		1: func(ctx context.Context, b []byte) ([]byte, error) { return b, nil },
		2: func(ctx context.Context, b []byte) ([]byte, error) { return nil, Errorf(StatusNotFound, "%x", b) },
		3: func(ctx context.Context, b []byte) ([]byte, error) { panic("bug") },
	}}
	f.Fuzz(func(t *testing.T, b []byte) {
		if w, err := parseHelloFrame(b); err == nil && w.MaxInflight == 0 {
			t.Fatalf("HELLO with max_inflight 0 accepted")
		}
		h, p, err := DecodeFrame(b, maxRequest)
		if err != nil || h.Flags&FlagRequest == 0 {
			return
		}
		out := s.dispatch(h, p)
		if out == nil {
			if h.Flags&FlagOneway == 0 {
				t.Fatalf("no answer to a call")
			}
			return
		}
		if _, _, err := DecodeFrame(out, maxRequest); err != nil {
			t.Fatalf("the server's answer is refused: %v", err)
		}
	})
}
