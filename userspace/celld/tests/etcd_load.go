// SPDX-License-Identifier: GPL-2.0-only OR MIT

// etcd_load: the etcd side of kv_bench.py's comparison (make bench-raft),
// the same load shape as celld_kv_bench's "load": THREADS clients put
// VALUE_BYTES values on KEYS keys (key PREFIX<k>, k stepping by THREADS
// from the client's index) for SECONDS, each put waiting for its commit.
// It speaks etcd's v3 JSON gateway (POST /v3/kv/put, keys and values in
// base64) over keep-alive HTTP/1.1, one connection per client: the
// standard library has no gRPC, so every put also pays the gateway's
// JSON-to-gRPC translation inside etcd.  One JSON line, the fields of
// celld_kv_bench: writes, writes/s, p50/p99/p999/max ms, failures.
//
//	etcd_load URL SECONDS THREADS VALUE_BYTES KEYS [PREFIX]
//	etcd_load -fill URL THREADS VALUE_BYTES KEYS [PREFIX]   (every key once)
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

type worker struct {
	lat   []time.Duration
	fails int
}

func put(c *http.Client, url string, key, val []byte) error {
	body, _ := json.Marshal(map[string]string{
		"key":   base64.StdEncoding.EncodeToString(key),
		"value": base64.StdEncoding.EncodeToString(val),
	})
	resp, err := c.Post(url+"/v3/kv/put", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, reply)
	}
	var r struct {
		Header *struct {
			Revision string `json:"revision"`
		} `json:"header"`
	}
	if err := json.Unmarshal(reply, &r); err != nil || r.Header == nil || r.Header.Revision == "" {
		return fmt.Errorf("not a put reply: %.200s", reply)
	}
	return nil
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: etcd_load URL SECONDS THREADS VALUE_BYTES KEYS [PREFIX]\n"+
		"       etcd_load -fill URL THREADS VALUE_BYTES KEYS [PREFIX]")
	os.Exit(2)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		usage()
	}
	return n
}

func main() {
	args := os.Args[1:]
	fill := len(args) > 0 && args[0] == "-fill"
	if fill {
		args = append([]string{args[1], "0"}, args[2:]...)
	}
	if len(args) < 5 {
		usage()
	}
	url := args[0]
	seconds, err := strconv.ParseFloat(args[1], 64)
	if err != nil {
		usage()
	}
	threads, vlen, keys := atoi(args[2]), atoi(args[3]), atoi(args[4])
	prefix := ""
	if len(args) > 5 {
		prefix = args[5]
	}
	if threads == 0 || keys == 0 {
		usage()
	}
	tr := &http.Transport{MaxIdleConnsPerHost: threads, MaxConnsPerHost: threads}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	start := time.Now()
	until := start.Add(time.Duration(seconds * float64(time.Second)))
	w := make([]worker, threads)
	var wg sync.WaitGroup
	for i := 0; i < threads; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			val := bytes.Repeat([]byte{byte('a' + id%26)}, vlen)
			for k := id; ; k += threads {
				t0 := time.Now()
				if (!fill && !t0.Before(until)) || (fill && k >= keys) {
					return
				}
				key := []byte(fmt.Sprintf("%s%d", prefix, k%keys))
				if err := put(client, url, key, val); err != nil {
					if w[id].fails == 0 {
						fmt.Fprintln(os.Stderr, "etcd_load:", err)
					}
					w[id].fails++
					continue
				}
				if !fill {
					w[id].lat = append(w[id].lat, time.Since(t0))
				}
			}
		}(i)
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	fails := 0
	var all []time.Duration
	for i := range w {
		fails += w[i].fails
		all = append(all, w[i].lat...)
	}
	if fill {
		fmt.Printf("{\"filled\":%d,\"seconds\":%.2f,\"failures\":%d}\n", keys, el, fails)
		if fails > 0 {
			os.Exit(1)
		}
		return
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(float64(len(all)-1)*p)]) / 1e6
	}
	fmt.Printf("{\"writes\":%d,\"seconds\":%.2f,\"writes_per_s\":%.0f,\"p50_ms\":%.3f,"+
		"\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"failures\":%d,"+
		"\"threads\":%d,\"value_bytes\":%d}\n",
		len(all), el, float64(len(all))/el, pct(0.5), pct(0.99), pct(0.999), pct(1.0),
		fails, threads, vlen)
}
