// SPDX-License-Identifier: GPL-2.0-only OR MIT

// The Go server (cell.Server, demo.ServeDemo): a C client calls it, the Go
// client too, cellc pulls its schema, and hostile clients do not stop it.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"cell.dev/cell"
	demo "cell.dev/celltests/demo"
)

type goDemo struct{ calls, bytes atomic.Uint64 }

func (d *goDemo) Echo(ctx context.Context, req *demo.Blob) (*demo.Blob, error) {
	switch req.Seq {
	case 7777:
		return nil, cell.Errorf(cell.StatusNotFound, "no blob %d", req.Seq)
	case 6666:
		panic("a handler bug")
	case 5555:
		return nil, errors.New("a plain error")
	}
	d.calls.Add(1)
	d.bytes.Add(uint64(len(req.Data)))
	return &demo.Blob{Seq: req.Seq, Data: req.Data}, nil
}

func (d *goDemo) Stats(ctx context.Context, req *demo.Empty) (*demo.Count, error) {
	return &demo.Count{Calls: d.calls.Load(), Bytes: d.bytes.Load()}, nil
}

// rawConn is a SOCK_SEQPACKET connection to path, for hostile clients.
func rawConn(path string) int {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	check(err == nil, "socket: %v", err)
	check(syscall.Connect(fd, &syscall.SockaddrUnix{Name: path}) == nil, "connect %s", path)
	tv := syscall.NsecToTimeval(int64(3 * time.Second))
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	return fd
}

// hello is a valid HELLO frame for fp (header and payload as lib/handshake.c).
func hello(fp uint64) []byte {
	p := make([]byte, 48)
	le := func(off int, v uint64, n int) {
		for i := 0; i < n; i++ {
			p[off+i] = byte(v >> (8 * i))
		}
	}
	le(0, 0x4f4c4548, 4)
	le(4, cell.ABIVersion, 2)
	le(8, cell.FeatCancel, 4)
	le(12, 1, 4)
	le(32, fp, 8)
	return cell.EncodeFrame(cell.Header{Version: cell.WireVersion, Flags: cell.FlagRequest,
		Method: cell.MethodHello, Correlation: 1, Fingerprint: fp}, p)
}

func serverTests(args []string) {
	client, cellc, demoCell := args[0], args[1], args[2]
	dir, err := os.MkdirTemp("", "celltap-srv")
	check(err == nil, "tempdir: %v", err)
	defer os.RemoveAll(dir)
	os.Setenv("CELL_RUNTIME_DIR", dir)
	h := &goDemo{}
	var srv *cell.Server
	done := make(chan error, 1)
	tcase("ServeDemo binds the Go cell", func() {
		srv, err = demo.ServeDemo("godemo", dir, h)
		check(err == nil, "ServeDemo: %v", err)
		eq(srv.Path(), filepath.Join(dir, "godemo.sock"), "path")
	})
	if srv == nil {
		return
	}
	go func() { done <- srv.Serve() }()

	tcase("the C client against the Go cell (bindings/c_client_test)", func() {
		out, err := exec.Command(client, "godemo").CombinedOutput()
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			fmt.Printf("#   C: %s\n", l)
		}
		check(err == nil && bytes.Contains(out, []byte("ok 6 ")) && !bytes.Contains(out, []byte("not ok")),
			"C client: %v", err)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tcase("the Go client against the Go cell: unix path, echo 0..60000 B, stats, SCHEMA", func() {
		c, err := demo.DialDemo(ctx, "godemo", &cell.Options{Transport: "auto", Timeout: 2 * time.Second})
		check(err == nil, "dial: %v", err)
		defer c.Close()
		eq(c.Kind(), "unix", "path (no rings granted)")
		before := h.calls.Load()
		for _, n := range []int{0, 1, 100, 60000} {
			data := bytes.Repeat([]byte{byte(n)}, n)
			r, err := c.Echo(ctx, &demo.Blob{Seq: uint64(n), Data: data})
			check(err == nil && r.Seq == uint64(n) && bytes.Equal(r.Data, data), "echo %d: %v", n, err)
		}
		st, err := c.Stats(ctx, &demo.Empty{})
		check(err == nil && st.Calls == before+4, "stats: %v %+v", err, st)
		text, err := c.Schema(ctx)
		check(err == nil && text == demo.SchemaText, "schema: %v", err)
	})
	tcase("handler errors travel: StatusError keeps its status, a plain error or a panic is INTERNAL", func() {
		c, err := demo.DialDemo(ctx, "godemo", &cell.Options{Timeout: 2 * time.Second})
		check(err == nil, "dial: %v", err)
		defer c.Close()
		_, err = c.Echo(ctx, &demo.Blob{Seq: 7777})
		check(cell.StatusOf(err) == cell.StatusNotFound && strings.Contains(err.Error(), "no blob 7777"),
			"7777: %v", err)
		_, err = c.Echo(ctx, &demo.Blob{Seq: 5555})
		check(cell.StatusOf(err) == cell.StatusInternal && strings.Contains(err.Error(), "a plain error"),
			"5555: %v", err)
		_, err = c.Echo(ctx, &demo.Blob{Seq: 6666})
		check(cell.StatusOf(err) == cell.StatusInternal && strings.Contains(err.Error(), "panicked"),
			"6666: %v", err)
		r, err := c.Echo(ctx, &demo.Blob{Seq: 1, Data: []byte("after")})
		check(err == nil && string(r.Data) == "after", "the connection survives: %v", err)
		_, err = c.Conn.Call(ctx, 99, nil)
		check(cell.StatusOf(err) == cell.StatusUnknownMethod, "method 99: %v", err)
		_, err = c.Conn.Call(ctx, demo.MethodEcho, []byte{1, 2, 3})
		check(cell.StatusOf(err) == cell.StatusBadMessage, "a short blob: %v", err)
	})
	tcase("a wrong fingerprint is refused by the Go cell, naming both", func() {
		_, err := cell.Dial(ctx, "godemo", demo.Fingerprint^1, &cell.Options{Timeout: 2 * time.Second})
		check(cell.StatusOf(err) == cell.StatusFingerprintMismatch &&
			strings.Contains(err.Error(), fmt.Sprintf("%016x", demo.Fingerprint)), "%v", err)
	})
	tcase("cellc --from-running on the Go cell: demo.cell's six outputs byte for byte", func() {
		for _, a := range []string{"", "--lang=python", "--lang=go", "--mcu", "--canonical", "--fingerprint"} {
			args := []string{}
			if a != "" {
				args = append(args, a)
			}
			file := exec.Command(cellc, append(args, filepath.Base(demoCell))...)
			file.Dir = filepath.Dir(demoCell)
			want, err1 := file.Output()
			live, err2 := exec.Command(cellc, append(args, "--from-running", "godemo")...).CombinedOutput()
			check(err1 == nil && err2 == nil && len(live) > 0 && bytes.Equal(want, live),
				"%q: %v %v %s", a, err1, err2, live)
		}
	})
	tcase("hostile clients (garbage, short, wrong HELLO, other fp, unknown flags, silence) leave it serving", func() {
		frames := [][]byte{
			[]byte("garbage, not a frame at all"),
			{1},
			cell.EncodeFrame(cell.Header{Version: 2, Flags: cell.FlagRequest, Method: cell.MethodHello, Correlation: 1}, nil),
			hello(demo.Fingerprint)[:40],
			hello(demo.Fingerprint ^ 1),
		}
		for i, f := range frames {
			fd := rawConn(srv.Path())
			_, _ = syscall.Write(fd, f)
			buf := make([]byte, 4096)
			n, _ := syscall.Read(fd, buf)
			if n > 0 {
				h, _, err := cell.DecodeFrame(buf[:n], 4096)
				check(err == nil && h.Flags&cell.FlagError != 0, "case %d: an error answer, not %v %+v", i, err, h)
			}
			syscall.Close(fd)
		}
		after := [][]byte{ // after a good HELLO: the connection is dropped, the server goes on
			cell.EncodeFrame(cell.Header{Version: 1, Flags: cell.FlagRequest, Method: 1, Correlation: 1, Fingerprint: 1}, nil),
			cell.EncodeFrame(cell.Header{Version: 1, Flags: cell.FlagRequest | 0x80, Method: 1, Correlation: 1, Fingerprint: demo.Fingerprint}, nil),
			append(cell.EncodeFrame(cell.Header{Version: 1, Flags: cell.FlagRequest, Method: 1, Correlation: 1, Fingerprint: demo.Fingerprint}, nil), 0),
			{0xff, 0xff},
			cell.EncodeFrame(cell.Header{Version: 1, Flags: cell.FlagRequest | cell.FlagMore, Method: 1, Correlation: 1, Fingerprint: demo.Fingerprint}, []byte("chunk")),
		}
		for i, f := range after {
			fd := rawConn(srv.Path())
			_, _ = syscall.Write(fd, hello(demo.Fingerprint))
			buf := make([]byte, 4096)
			n, err := syscall.Read(fd, buf)
			check(err == nil && n == cell.HeaderSize+48, "case %d: WELCOME %d %v", i, n, err)
			_, _ = syscall.Write(fd, f)
			n, _ = syscall.Read(fd, buf)
			check(n == 0, "case %d: the violation drops the connection (read %d)", i, n)
			syscall.Close(fd)
		}
		silent := rawConn(srv.Path()) // says nothing: dropped after 2 s, others served meanwhile
		defer syscall.Close(silent)
		c, err := demo.DialDemo(ctx, "godemo", &cell.Options{Timeout: 2 * time.Second})
		check(err == nil, "dial after the hostile clients: %v", err)
		defer c.Close()
		r, err := c.Echo(ctx, &demo.Blob{Seq: 9, Data: []byte("still")})
		check(err == nil && string(r.Data) == "still", "echo after: %v", err)
	})
	tcase("Close stops Serve and removes the socket", func() {
		check(srv.Close() == nil, "close")
		select {
		case err := <-done:
			check(err == nil, "Serve: %v", err)
		case <-time.After(5 * time.Second):
			panic("Serve did not return within 5 s of Close")
		}
		_, err := os.Stat(srv.Path())
		check(os.IsNotExist(err), "socket file: %v", err)
	})
}
