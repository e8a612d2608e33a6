// SPDX-License-Identifier: GPL-2.0-only OR MIT

// celltap: the TAP tests of the Go runtime (bindings/go), run by
// bindings/go/tests/go_test.sh from ctest.  The driver builds this program
// in a module of the build tree holding the packages that cellc --lang=go
// generated from all.cell and demo.cell.
//
//	celltap vectors VECTORS_DIR [MSG_VECTORS_TOOL]
//	celltap client DEMO_SERVER
//	celltap hostile
//	celltap server C_CLIENT CELLC DEMO_CELL
//	celltap rtt NAME N
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"
)

var (
	caseN  int
	failed int
)

type skip string

// check fails the current case.
func check(ok bool, format string, args ...interface{}) {
	if !ok {
		panic(fmt.Sprintf(format, args...))
	}
}

func eq(a, b interface{}, what string) {
	if fmt.Sprintf("%#v", a) != fmt.Sprintf("%#v", b) {
		panic(fmt.Sprintf("%s: %#v != %#v", what, a, b))
	}
}

// tcase runs fn as one TAP case; a panic in fn (a failed check, or a
// crash of the runtime under test) is a failure, not the end of the run.
func tcase(name string, fn func()) {
	caseN++
	func() {
		defer func() {
			r := recover()
			switch v := r.(type) {
			case nil:
				fmt.Printf("ok %d %s\n", caseN, name)
			case skip:
				fmt.Printf("ok %d %s # SKIP %s\n", caseN, name, string(v))
			default:
				failed++
				fmt.Printf("not ok %d %s\n", caseN, name)
				for _, l := range strings.Split(fmt.Sprint(v), "\n") {
					fmt.Printf("# %s\n", l)
				}
				if _, ok := v.(string); !ok {
					for _, l := range strings.Split(string(debug.Stack()), "\n") {
						fmt.Printf("# %s\n", l)
					}
				}
			}
		}()
		fn()
	}()
}

func done() {
	fmt.Printf("1..%d\n", caseN)
	if failed > 0 {
		os.Exit(1)
	}
	os.Exit(0)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: celltap vectors|client|hostile|server|rtt ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "vectors":
		vectorTests(os.Args[2:])
	case "client":
		clientTests(os.Args[2:])
	case "hostile":
		hostileTests()
	case "server":
		serverTests(os.Args[2:])
	case "rtt":
		rtt(os.Args[2:])
		return
	default:
		fmt.Fprintln(os.Stderr, "celltap: unknown suite", os.Args[1])
		os.Exit(2)
	}
	done()
}
