// SPDX-License-Identifier: GPL-2.0-only OR MIT

package main

// celltap rtt NAME N: p50/p99 round trip of the Go client (64-byte echo) on
// the SHM and unix paths, against a running demo server (make bench-bindings).

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"cell.dev/cell"
	demo "cell.dev/celltests/demo"
)

func rtt(args []string) {
	n := 20000
	if len(args) > 1 {
		n, _ = strconv.Atoi(args[1])
	}
	ctx := context.Background()
	for _, transport := range []string{"shm", "unix"} {
		c, err := demo.DialDemo(ctx, args[0], &cell.Options{Transport: transport})
		if err != nil {
			fmt.Printf("go %s: %v\n", transport, err)
			continue
		}
		req := &demo.Blob{Seq: 1, Data: make([]byte, 64)}
		for i := 0; i < 1000; i++ {
			c.Echo(ctx, req)
		}
		t := make([]time.Duration, n)
		for i := range t {
			t0 := time.Now()
			if _, err := c.Echo(ctx, req); err != nil {
				fmt.Printf("go %s: %v\n", transport, err)
				break
			}
			t[i] = time.Since(t0)
		}
		sort.Slice(t, func(i, j int) bool { return t[i] < t[j] })
		fmt.Printf("go     %-10s 64 B echo: p50 %.1f us, p99 %.1f us (%d calls)\n", c.Kind(),
			float64(t[n/2].Nanoseconds())/1000, float64(t[n*99/100].Nanoseconds())/1000, n)
		c.Close()
	}
}
