// SPDX-License-Identifier: GPL-2.0-only OR MIT

package main

// The Go runtime reads selftests/vectors/*.tsv byte for byte: frames
// (decoded, refused with the same error name, re-encoded to the same
// bytes), fingerprints, and the messages of all.cell (validator verdicts
// and texts, rebuilt bytes).  With the C tool, random corruptions are judged
// by both the C validator and the Go one, which must agree.

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"cell.dev/cell"
	all "cell.dev/celltests/all"
)

func rows(dir, name string) [][]string {
	f, err := os.Open(filepath.Join(dir, name))
	check(err == nil, "%v", err)
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" {
			continue
		}
		out = append(out, strings.Split(l, "\t"))
	}
	return out
}

func unhex(s string) []byte {
	if s == "" || s == "-" {
		return []byte{}
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	check(err == nil, "bad hex %q", s)
	return b
}

type codec struct {
	validate func([]byte) error
	decode   func([]byte) (interface{}, error)
	encode   func(interface{}) ([]byte, error)
}

var types = map[string]codec{
	"scalars": {all.ValidateScalars,
		func(b []byte) (interface{}, error) { return all.DecodeScalars(b) },
		func(m interface{}) ([]byte, error) { return m.(*all.Scalars).Encode() }},
	"named": {all.ValidateNamed,
		func(b []byte) (interface{}, error) { return all.DecodeNamed(b) },
		func(m interface{}) ([]byte, error) { return m.(*all.Named).Encode() }},
	"inner": {all.ValidateInner,
		func(b []byte) (interface{}, error) { return all.DecodeInner(b) },
		func(m interface{}) ([]byte, error) { return m.(*all.Inner).Encode() }},
	"everything": {all.ValidateEverything,
		func(b []byte) (interface{}, error) { return all.DecodeEverything(b) },
		func(m interface{}) ([]byte, error) { return m.(*all.Everything).Encode() }},
}

// why is the validator's text, "" for a valid message.
func why(err error) string {
	if err == nil {
		return ""
	}
	var se *cell.StatusError
	check(errors.As(err, &se), "not a StatusError: %v", err)
	check(se.Status == cell.StatusBadMessage, "status %v", se.Status)
	return se.Detail
}

func frameVectors(dir string) {
	n := 0
	for _, r := range rows(dir, "frames.tsv") {
		name, expect, raw := r[0], r[1], unhex(r[2])
		h, payload, err := cell.DecodeFrame(raw, 65536)
		n++
		if err != nil {
			var se *cell.StatusError
			check(errors.As(err, &se), "%s: %v", name, err)
			eq(se.Wire, expect, name)
			continue
		}
		eq("ok", expect, name)
		got := fmt.Sprintf("version=%d flags=0x%02x method=%d correlation=%d len=%d fingerprint=0x%016x",
			h.Version, h.Flags, h.Method, h.Correlation, h.Len, h.Fingerprint)
		if h.Flags&cell.FlagError != 0 {
			st, detail, err := cell.DecodeError(payload)
			check(err == nil, "%s: %v", name, err)
			got += fmt.Sprintf(" status=%d detail=%s", st, detail)
		}
		eq(got, r[3], name)
		eq(hex.EncodeToString(cell.EncodeFrame(h, payload)), hex.EncodeToString(raw), name+" re-encoded")
	}
	check(n >= 35, "%d frame vectors", n)
}

func headerFields(h cell.Header) string {
	return fmt.Sprintf("version=%d flags=0x%02x method=%d correlation=%d len=%d fingerprint=0x%016x",
		h.Version, h.Flags, h.Method, h.Correlation, h.Len, h.Fingerprint)
}

func wireName(err error) string {
	var se *cell.StatusError
	if errors.As(err, &se) {
		return se.Wire
	}
	return err.Error()
}

// trace.tsv as a receiver that granted FeatTrace.
func traceVectors(dir string) {
	n, seen := 0, map[string]bool{}
	for _, r := range rows(dir, "trace.tsv") {
		name, expect, raw := r[0], r[1], unhex(r[2])
		h, payload, t, err := cell.DecodeFrameTraced(raw, 65536)
		n++
		if err != nil {
			eq(wireName(err), expect, name)
			seen[expect] = true
			continue
		}
		eq("ok", expect, name)
		got := headerFields(h) + fmt.Sprintf(" payload_len=%d", len(payload))
		again := make([]byte, cell.HeaderSize, len(raw))
		h.Put(again)
		again = append(again, payload...)
		if t != nil {
			got += fmt.Sprintf(" trace_id=%x span_id=%x trace_flags=0x%02x", t.TraceID, t.SpanID, t.Flags)
			again = append(again, t.Encode()...)
		}
		eq(got, r[3], name)
		eq(hex.EncodeToString(again), hex.EncodeToString(raw), name+" re-encoded")
	}
	check(n >= 19 && seen["bad_flags"] && seen["trace_truncated"] && seen["bad_trace"] &&
		seen["length_mismatch"], "%d traced vectors, kinds %v", n, seen)
}

// The runtime never grants FeatTrace: bit 7 is reserved there.
func traceRefusedUntraced(dir string) {
	n := 0
	for _, r := range rows(dir, "trace.tsv") {
		raw := unhex(r[2])
		if raw[1]&cell.FlagTrace == 0 {
			continue
		}
		_, _, err := cell.DecodeFrame(raw, 65536)
		check(err != nil, "%s: accepted without FeatTrace", r[0])
		if err != nil {
			eq(wireName(err), "reserved_flag", r[0]+" (no FeatTrace granted)")
		}
		n++
	}
	check(n >= 15, "%d bit-7 vectors", n)
}

func untracedSameWhenTracing(dir string) {
	n := 0
	for _, r := range rows(dir, "frames.tsv") {
		raw := unhex(r[2])
		if len(raw) > 1 && raw[1]&cell.FlagTrace != 0 {
			continue
		}
		h1, p1, err1 := cell.DecodeFrame(raw, 65536)
		h2, p2, t, err2 := cell.DecodeFrameTraced(raw, 65536)
		if err1 != nil || err2 != nil {
			check(err1 != nil && err2 != nil && wireName(err1) == wireName(err2),
				"%s: %v / %v (tracing receiver)", r[0], err1, err2)
		} else {
			check(h1 == h2 && string(p1) == string(p2) && t == nil, "%s: decoded differently when tracing", r[0])
		}
		n++
	}
	check(n >= 35, "%d untraced vectors", n)
}

func fingerprintVectors(dir string) {
	for _, r := range rows(dir, "fingerprints.tsv") {
		text := r[1]
		if len(r) < 3 { // the empty text
			r = []string{r[0], "", r[len(r)-1]}
			text = ""
		}
		text = strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\\`, `\`).Replace(text)
		eq(fmt.Sprintf("%016x", cell.Fingerprint(text)), r[2], r[0])
	}
}

func messageVectors(dir string) {
	n, bad := 0, 0
	for _, r := range rows(dir, "messages.tsv") {
		name, typ, raw, expect, detail := r[0], r[1], unhex(r[2]), r[3], r[4]
		c := types[typ]
		w := why(c.validate(raw))
		n++
		if expect == "bad" {
			eq(w, detail, name)
			bad++
			continue
		}
		eq(w, "", name)
		rebuilt := raw
		if detail != "=" {
			rebuilt = unhex(detail)
		}
		m1, err1 := c.decode(raw)
		m2, err2 := c.decode(rebuilt)
		check(err1 == nil && err2 == nil, "%s: %v %v", name, err1, err2)
		check(reflect.DeepEqual(m1, m2), "%s: same content: %#v != %#v", name, m1, m2)
		if !strings.Contains(name, "_bad") { // corruptions may keep padding the C copy keeps
			enc, err := c.encode(m1)
			check(err == nil, "%s: %v", name, err)
			eq(hex.EncodeToString(enc), hex.EncodeToString(rebuilt), name+" re-encoded")
		}
	}
	check(n > 100 && bad > 30, "%d vectors, %d bad", n, bad)
}

func encodeErrors() {
	_, err := (&all.Named{Name: "\xed\xa0\x80"}).Encode()
	eq(cell.StatusOf(err), cell.StatusInvalidArgument, "a surrogate in a string")
	_, err = (&all.Named{Name: "\xff"}).Encode()
	eq(cell.StatusOf(err), cell.StatusInvalidArgument, "not UTF-8")
	b, err := (&all.Everything{Text: "é", Wide: []uint64{1, 2}}).Encode()
	check(err == nil, "%v", err)
	m, err := all.DecodeEverything(b)
	check(err == nil && m.Text == "é" && len(m.Wide) == 2 && m.Wide[1] == 2, "round trip %v", err)
}

func differential(dir, tool string) {
	rnd := rand.New(rand.NewSource(1234))
	type input struct {
		typ string
		m   []byte
	}
	var seeds []input
	for _, r := range rows(dir, "messages.tsv") {
		if r[3] == "ok" {
			seeds = append(seeds, input{r[1], unhex(r[2])})
		}
	}
	inputs := make([]input, 3000)
	var text strings.Builder
	for i := range inputs {
		s := seeds[rnd.Intn(len(seeds))]
		m := append([]byte(nil), s.m...)
		for k := rnd.Intn(3) + 1; k > 0; k-- {
			if rnd.Intn(4) == 0 && len(m) > 0 {
				m = m[:rnd.Intn(len(m))]
			} else if len(m) > 0 {
				m[rnd.Intn(len(m))] = byte(rnd.Intn(256))
			}
		}
		inputs[i] = input{s.typ, m}
		h := "-"
		if len(m) > 0 {
			h = hex.EncodeToString(m)
		}
		fmt.Fprintf(&text, "%s %s\n", s.typ, spaced(h))
	}
	cmd := exec.Command(tool, "check")
	cmd.Stdin = strings.NewReader(text.String())
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
		}
	}()
	outb, err := cmd.Output()
	close(done)
	check(err == nil, "%s check: %v", tool, err)
	res := strings.Split(strings.TrimRight(string(outb), "\n"), "\n")
	eq(len(res), len(inputs), "answers")
	agreeBad := 0
	for i, in := range inputs {
		w := why(types[in.typ].validate(in.m))
		if strings.HasPrefix(res[i], "bad ") {
			eq(w, res[i][4:], hex.EncodeToString(in.m))
			agreeBad++
		} else {
			eq(w, "", hex.EncodeToString(in.m))
		}
	}
	check(agreeBad > 500, "only %d refused by both", agreeBad)
}

func spaced(h string) string {
	if h == "-" {
		return h
	}
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

func vectorTests(args []string) {
	dir := args[0]
	tcase("frames.tsv: every vector decoded, refused and re-encoded as in C", func() { frameVectors(dir) })
	tcase("trace.tsv: every traced vector decoded, refused and re-encoded as in C", func() { traceVectors(dir) })
	tcase("trace.tsv: without FeatTrace every bit-7 frame is reserved_flag", func() { traceRefusedUntraced(dir) })
	tcase("frames.tsv without bit 7: a tracing receiver decodes them alike", func() { untracedSameWhenTracing(dir) })
	tcase("fingerprints.tsv: FNV-1a 64 of every text", func() { fingerprintVectors(dir) })
	tcase("messages.tsv: verdicts, validator texts and rebuilt bytes as in C", func() { messageVectors(dir) })
	tcase("generated Fingerprint is the fingerprint of SchemaText", func() {
		eq(all.Fingerprint, cell.Fingerprint(all.SchemaText), "fingerprint")
	})
	tcase("encoder refuses strings that are not UTF-8", encodeErrors)
	if len(args) > 1 {
		tcase("3000 corruptions: the C and Go validators agree", func() { differential(dir, args[1]) })
	}
}
