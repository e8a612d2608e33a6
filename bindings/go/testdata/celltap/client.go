// SPDX-License-Identifier: GPL-2.0-only OR MIT

package main

// The Go client against the C demo server (userspace/examples) on the unix
// and the SHM path: calls of every size, the path asserted, the schema over
// SCHEMA, a wrong fingerprint refused, TOO_LARGE, deadlines, an absent cell,
// a server killed under the client.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"cell.dev/cell"
	demo "cell.dev/celltests/demo"
)

var rundir string

func startServer(server, name string) *exec.Cmd {
	sock := filepath.Join(rundir, name+".sock")
	os.Remove(sock) // left by a server killed before
	cmd := exec.Command(server, name)
	check(cmd.Start() == nil, "start %s", server)
	// The socket file appears at bind(), before listen(): wait until a
	// connect is accepted, not only for the file (ECONNREFUSED window).
	for i := 0; i < 500; i++ {
		if c, err := net.Dial("unixpacket", sock); err == nil {
			c.Close()
			return cmd
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	panic("demo_server did not start")
}

func ctxFor(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func dialDemo(transport string) *demo.DemoClient {
	ctx, cancel := ctxFor(2 * time.Second)
	defer cancel()
	c, err := demo.DialDemo(ctx, "demo", &cell.Options{Transport: transport, Timeout: 2 * time.Second})
	check(err == nil, "dial %s: %v", transport, err)
	return c
}

func calls(transport string) {
	c := dialDemo(transport)
	defer c.Close()
	want := map[string]string{"shm": "shm-memfd", "unix": "unix"}[transport]
	eq(c.Kind(), want, "path")
	ctx := context.Background()
	before, err := c.Stats(ctx, &demo.Empty{})
	check(err == nil, "stats: %v", err)
	for _, size := range []int{0, 1, 7, 100, 4096, 60000} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i)
		}
		cctx, cancel := ctxFor(time.Second)
		r, err := c.Echo(cctx, &demo.Blob{Seq: uint64(size), Data: data})
		cancel()
		check(err == nil, "echo %d: %v", size, err)
		check(r.Seq == uint64(size) && bytes.Equal(r.Data, data), "echo %d came back different", size)
	}
	for i := 0; i < 500; i++ {
		r, err := c.Echo(ctx, &demo.Blob{Seq: uint64(i), Data: []byte("x")})
		check(err == nil && r.Seq == uint64(i), "seq %d: %v", i, err)
	}
	after, err := c.Stats(ctx, &demo.Empty{})
	check(err == nil, "stats: %v", err)
	eq(after.Calls, before.Calls+506, "calls counted once")
}

func schema(transport string) {
	c := dialDemo(transport)
	defer c.Close()
	text, err := c.Schema(context.Background())
	check(err == nil, "schema: %v", err)
	eq(text, demo.SchemaText, "canonical text")
	eq(cell.Fingerprint(text), demo.Fingerprint, "fingerprint")
}

func wrongFingerprint(transport string) {
	ctx, cancel := ctxFor(2 * time.Second)
	defer cancel()
	c, err := cell.Dial(ctx, "demo", 0x1234, &cell.Options{Transport: transport})
	if err == nil {
		c.Close()
		panic("connected with a wrong fingerprint")
	}
	var se *cell.StatusError
	check(errors.As(err, &se), "not a StatusError: %v", err)
	eq(se.Status, cell.StatusFingerprintMismatch, "status")
	check(strings.Contains(err.Error(), "0x0000000000001234") &&
		strings.Contains(err.Error(), "0x"+hex16(demo.Fingerprint)), "detail names both: %v", err)
}

func hex16(v uint64) string {
	const d = "0123456789abcdef"
	b := make([]byte, 16)
	for i := 15; i >= 0; i-- {
		b[i] = d[v&15]
		v >>= 4
	}
	return string(b)
}

func tooLarge(transport string) {
	c := dialDemo(transport)
	defer c.Close()
	_, err := c.Echo(context.Background(), &demo.Blob{Data: make([]byte, 1<<20)})
	eq(cell.StatusOf(err), cell.StatusTooLarge, "status")
	_, err = c.Echo(context.Background(), &demo.Blob{Seq: 3})
	check(err == nil, "the connection survives a local refusal: %v", err)
}

func cancelled(transport string) {
	c := dialDemo(transport)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Echo(ctx, &demo.Blob{Seq: 1})
	eq(cell.StatusOf(err), cell.StatusCancelled, "status of a cancelled context")
	r, err := c.Echo(context.Background(), &demo.Blob{Seq: 2})
	check(err == nil && r.Seq == 2, "next call: %v", err)
}

// deadlines gives calls deadlines short enough to expire in flight: each
// ends OK or DEADLINE_EXCEEDED, and the late answers to the calls given up
// are dropped, so every later call gets its own answer.
func deadlines(transport string) {
	c := dialDemo(transport)
	defer c.Close()
	data := make([]byte, 30000)
	expired := 0
	for i := 0; i < 200; i++ {
		ctx, cancel := ctxFor(time.Duration(i%40+1) * time.Microsecond * 5)
		r, err := c.Echo(ctx, &demo.Blob{Seq: uint64(i), Data: data})
		cancel()
		switch cell.StatusOf(err) {
		case cell.StatusOK:
			eq(r.Seq, uint64(i), "seq")
		case cell.StatusDeadlineExceeded:
			expired++
		default:
			panic(fmt.Sprintf("call %d: %v", i, err))
		}
		r, err = c.Echo(context.Background(), &demo.Blob{Seq: 1000 + uint64(i)})
		check(err == nil && r.Seq == 1000+uint64(i), "call after %d: %v %v", i, r, err)
	}
	fmt.Printf("# %s: %d of 200 calls expired in flight\n", transport, expired)
}

func absent() {
	ctx, cancel := ctxFor(time.Second)
	defer cancel()
	_, err := demo.DialDemo(ctx, "nobody", nil)
	eq(cell.StatusOf(err), cell.StatusUnavailable, "status")
	_, err = demo.DialDemo(ctx, "Bad/Name", nil)
	eq(cell.StatusOf(err), cell.StatusInvalidArgument, "bad name")
}

func killed(server, transport string) {
	cmd := startServer(server, "victim")
	defer cmd.Wait()
	ctx, cancel := ctxFor(2 * time.Second)
	c, err := demo.DialDemo(ctx, "victim", &cell.Options{Transport: transport})
	// The socket file appears at bind(), before listen(): refused until then.
	for i := 0; i < 100 && cell.StatusOf(err) == cell.StatusUnavailable; i++ {
		time.Sleep(10 * time.Millisecond)
		c, err = demo.DialDemo(ctx, "victim", &cell.Options{Transport: transport})
	}
	cancel()
	if err != nil {
		cmd.Process.Kill()
		panic(err)
	}
	defer c.Close()
	_, err = c.Echo(context.Background(), &demo.Blob{Seq: 1})
	check(err == nil, "first call: %v", err)
	cmd.Process.Signal(syscall.SIGKILL)
	time.Sleep(50 * time.Millisecond)
	t0 := time.Now()
	ctx, cancel = ctxFor(3 * time.Second)
	defer cancel()
	_, err = c.Echo(ctx, &demo.Blob{Seq: 2})
	eq(cell.StatusOf(err), cell.StatusUnavailable, "status after kill -9")
	check(time.Since(t0) < time.Second, "took %v", time.Since(t0))
}

func clientTests(args []string) {
	server := args[0]
	var err error
	rundir, err = os.MkdirTemp("", "cell-go-")
	check(err == nil, "%v", err)
	defer os.RemoveAll(rundir)
	os.Setenv("CELL_RUNTIME_DIR", rundir)
	os.Unsetenv("CELL_RING_BACKEND")
	cmd := startServer(server, "demo")
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	for _, t := range []string{"unix", "shm"} {
		t := t
		tcase(t+": echo 0..60000 B, 500 calls counted once, path "+t, func() { calls(t) })
		tcase(t+": SCHEMA gives the canonical text", func() { schema(t) })
		tcase(t+": a wrong fingerprint is refused naming both", func() { wrongFingerprint(t) })
		tcase(t+": 1 MiB is TOO_LARGE locally", func() { tooLarge(t) })
		tcase(t+": a cancelled context gives CANCELLED", func() { cancelled(t) })
		tcase(t+": deadlines expiring in flight; late answers dropped", func() { deadlines(t) })
		tcase(t+": kill -9 of the server gives UNAVAILABLE in < 1 s", func() { killed(server, t) })
	}
	tcase("an absent cell is UNAVAILABLE, a bad name INVALID_ARGUMENT", absent)
	tcase("NAME@N is instance N, a local cell; NAME@node is UNAVAILABLE", func() { instance(server) })
}

func instance(server string) {
	cmd := startServer(server, "demo@2")
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	ctx, cancel := ctxFor(2 * time.Second)
	defer cancel()
	c, err := demo.DialDemo(ctx, "demo@2", nil)
	check(err == nil, "dial demo@2: %v", err)
	r, err := c.Echo(ctx, &demo.Blob{Seq: 2, Data: []byte("two")})
	check(err == nil && string(r.Data) == "two", "echo: %v", err)
	c.Close()
	_, err = demo.DialDemo(ctx, "demo@other-node", nil)
	eq(cell.StatusOf(err), cell.StatusUnavailable, "NAME@node")
}
