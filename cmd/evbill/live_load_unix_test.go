//go:build linux || darwin

package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestLiveStreamLoad measures the live stream at scale on one node:
// subscribers follow sessions over GET /api/v1/sessions/{id}/events (the
// API key checked, huma, the broker, SSE over loopback), every session
// gets one MeterValues from a real charger connection, and each
// subscriber's delivery latency is the time from that MeterValues leaving
// the charger to the update arriving, end to end. It reports latency
// percentiles and the server's memory per subscriber.
//
// The subscribers run in a second process, this test binary again as
// TestLiveLoadGenerator: a process may hold 20,000 open files here, and
// 10,000 streams are 10,000 sockets on each side. By default it is small
// (200 subscribers); the full run is
//
//	EVBILL_LIVE_LOAD_SUBSCRIBERS=10000 go test -run '^TestLiveStreamLoad$' -v -timeout 20m ./cmd/evbill
//
// with EVBILL_LIVE_LOAD_SESSIONS (subscribers/10 by default: ten
// followers per session), EVBILL_LIVE_LOAD_SPREAD (the MeterValues are
// sent evenly over this many seconds; 0 sends them all at once) and
// EVBILL_LIVE_LOAD_STREAM=page to follow the drivers' live pages'
// streams (/s/{token}/events) instead of the API's.
func TestLiveStreamLoad(t *testing.T) {
	if os.Getenv("EVBILL_LOADGEN_FILE") != "" {
		t.Skip("this process is the load generator")
	}
	subscribers := envInt("EVBILL_LIVE_LOAD_SUBSCRIBERS", 200)
	sessions := envInt("EVBILL_LIVE_LOAD_SESSIONS", max(subscribers/10, 1))
	// 100 readings a second unless told: a thousand sessions reading
	// every 10 s, six times the rate of the one minute evbill asks for.
	spread := time.Duration(max(sessions/100, 1)) * time.Second
	if v, err := strconv.Atoi(os.Getenv("EVBILL_LIVE_LOAD_SPREAD")); err == nil && v >= 0 {
		spread = time.Duration(v) * time.Second
	}
	if subscribers%sessions != 0 {
		t.Fatalf("%d subscribers do not share %d sessions evenly", subscribers, sessions)
	}
	limit, err := raiseOpenFiles()
	if err != nil || limit < uint64(subscribers)+1000 {
		t.Skipf("%d subscribers need more open files than the limit of %d (%v)", subscribers, limit, err)
	}
	// Twenty connectors per charger: a few connections carry every
	// session's readings, as a fleet's would.
	const perCharger = 20
	chargers := (sessions + perCharger - 1) / perCharger
	n := startNode(t, chargers)

	type follow struct {
		cp        *chargePoint
		connector int
		tx        int
		id        string
		sent      atomic.Int64 // unix ns when its MeterValues left the charger
	}
	start := time.Now().UTC().Truncate(time.Second)
	all := make([]*follow, 0, sessions)
	cps := make([]*chargePoint, chargers)
	for c := range chargers {
		cps[c] = n.connect(n.stations[c])
		for k := 1; k <= perCharger && len(all) < sessions; k++ {
			f := &follow{cp: cps[c], connector: k}
			f.tx = cps[c].begin(k, start)
			f.id = n.session(n.stations[c], f.tx)
			all = append(all, f)
		}
	}
	byID := map[string]*follow{}
	var list strings.Builder
	page := os.Getenv("EVBILL_LIVE_LOAD_STREAM") == "page"
	for _, f := range all {
		byID[f.id] = f
		path := "/api/v1/sessions/" + f.id + "/events"
		if page {
			path = n.livePath(f.id) + "/events"
		}
		list.WriteString(f.id + " " + path + "\n")
	}
	file := filepath.Join(t.TempDir(), "sessions")
	if err := os.WriteFile(file, []byte(list.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	heap0, stack0, rss0 := memory()
	goroutines0 := runtime.NumGoroutine()
	gen := exec.Command(os.Args[0], "-test.run=^TestLiveLoadGenerator$", "-test.timeout=30m")
	gen.Env = append(os.Environ(), "EVBILL_LOADGEN_FILE="+file, "EVBILL_LOADGEN_URL="+n.base, "EVBILL_LOADGEN_KEY="+n.key,
		"EVBILL_LOADGEN_PER="+strconv.Itoa(subscribers/sessions), "EVBILL_LOADGEN_WAIT="+(spread+60*time.Second).String())
	gen.Stderr = os.Stderr
	out, err := gen.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := gen.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gen.Process.Kill(); _ = gen.Wait() })
	lines := bufio.NewScanner(out)
	next := func() []string {
		for lines.Scan() {
			if f := strings.Fields(lines.Text()); len(f) > 1 && f[0] == "loadgen" {
				return f[1:]
			}
		}
		t.Fatalf("the load generator stopped: %v", lines.Err())
		return nil
	}
	if f := next(); f[0] != "ready" {
		t.Fatalf("the load generator: %v", f)
	}
	connected := time.Since(began)
	heap1, stack1, rss1 := memory()
	goroutines1 := runtime.NumGoroutine()

	// The readings, spread evenly, each charger sending its own in order
	// as a charger does (one CALL at a time).
	t0 := time.Now()
	var wg sync.WaitGroup
	for c, cp := range cps {
		wg.Go(func() {
			for i, f := range all {
				if f.cp != cp {
					continue
				}
				if spread > 0 {
					time.Sleep(time.Until(t0.Add(time.Duration(i) * spread / time.Duration(len(all)))))
				}
				f.sent.Store(time.Now().UnixNano())
				cp.meter(f.connector, f.tx, start.Add(time.Minute), 1000+c)
			}
		})
	}
	wg.Wait()

	var lat []time.Duration
	for {
		f := next()
		if f[0] == "done" {
			break
		}
		if f[0] != "recv" || len(f) != 3 {
			t.Fatalf("the load generator: %v", f)
		}
		ns, _ := strconv.ParseInt(f[2], 10, 64)
		fw := byID[f[1]]
		if fw == nil || fw.sent.Load() == 0 {
			t.Fatalf("an update of %s, which had no reading", f[1])
		}
		lat = append(lat, time.Duration(ns-fw.sent.Load()))
	}
	if err := gen.Wait(); err != nil {
		t.Errorf("the load generator: %v", err)
	}
	slices.Sort(lat)
	if len(lat) == 0 {
		t.Fatal("no subscriber got its update")
	}
	stream := "the API's GET /api/v1/sessions/{id}/events"
	if page {
		stream = "the live pages' GET /s/{token}/events"
	}
	t.Logf("%d subscribers of %d sessions on %s (%d connections of chargers), readings over %v; connected and snapshotted in %v",
		subscribers, sessions, stream, chargers, spread, connected.Round(time.Millisecond))
	t.Logf("delivery latency, MeterValues sent → update received: p50 %v, p90 %v, p99 %v, max %v (%d of %d delivered)",
		percentile(lat, 50).Round(time.Microsecond), percentile(lat, 90).Round(time.Microsecond),
		percentile(lat, 99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond), len(lat), subscribers)
	kib := func(a, b uint64) float64 { return float64(int64(b)-int64(a)) / float64(subscribers) / 1024 }
	t.Logf("server memory per subscriber: %.1f KiB in use (heap %.1f KiB, goroutine stacks %.1f KiB, %.1f goroutines), %.1f KiB RSS",
		kib(heap0+stack0, heap1+stack1), kib(heap0, heap1), kib(stack0, stack1),
		float64(goroutines1-goroutines0)/float64(subscribers), kib(rss0, rss1))
	if len(lat) != subscribers {
		t.Errorf("%d of %d subscribers got their update", len(lat), subscribers)
	}
	if p99 := percentile(lat, 99); p99 > time.Second && os.Getenv("EVBILL_LIVE_LOAD_SUBSCRIBERS") != "" {
		t.Errorf("p99 delivery latency %v, over 1 s", p99)
	}
}

// TestLiveLoadGenerator is TestLiveStreamLoad's other process, and skips
// otherwise: it opens EVBILL_LOADGEN_PER streams to each session listed
// in EVBILL_LOADGEN_FILE (its ID and its stream's path on a line), says
// "loadgen ready" once every stream has had its snapshot, then "loadgen
// recv <session> <unix ns>" for each stream's first update, and "loadgen
// done".
func TestLiveLoadGenerator(t *testing.T) {
	file := os.Getenv("EVBILL_LOADGEN_FILE")
	if file == "" {
		t.Skip("run by TestLiveStreamLoad")
	}
	if _, err := raiseOpenFiles(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var ids, paths []string
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 2 {
			ids, paths = append(ids, f[0]), append(paths, f[1])
		}
	}
	per := envInt("EVBILL_LOADGEN_PER", 1)
	wait, err := time.ParseDuration(os.Getenv("EVBILL_LOADGEN_WAIT"))
	if err != nil {
		t.Fatal(err)
	}
	base, key := os.Getenv("EVBILL_LOADGEN_URL"), os.Getenv("EVBILL_LOADGEN_KEY")
	client := &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: -1, DisableCompression: true, ResponseHeaderTimeout: time.Minute,
	}}
	type recv struct {
		id string
		ns int64
	}
	total := len(ids) * per
	ready := make(chan error, total)
	got := make(chan recv, total)
	dials := make(chan struct{}, 128) // connection attempts at once: the listen backlog is finite
	for i, id := range ids {
		for range per {
			go func() {
				dials <- struct{}{}
				req, _ := http.NewRequest(http.MethodGet, base+paths[i], nil)
				if strings.HasPrefix(paths[i], "/api/") {
					req.Header.Set("Authorization", "Bearer "+key)
				}
				res, err := client.Do(req)
				<-dials
				if err != nil {
					ready <- err
					return
				}
				defer res.Body.Close()
				if res.StatusCode != 200 {
					ready <- fmt.Errorf("%s: %d", id, res.StatusCode)
					return
				}
				r := bufio.NewReaderSize(res.Body, 1024)
				seen := "" // the last event's name
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						if seen == "" {
							ready <- fmt.Errorf("%s: %v before the snapshot", id, err)
						} else {
							fmt.Fprintf(os.Stderr, "loadgen: %s: %v after %q\n", id, err, seen)
						}
						return
					}
					name, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "event: ")
					if !ok {
						continue
					}
					switch seen = name; name {
					case "snapshot":
						ready <- nil
					case "update":
						got <- recv{id, time.Now().UnixNano()}
						return
					}
				}
			}()
		}
	}
	for range total {
		if err := <-ready; err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("loadgen ready")
	timeout := time.After(wait)
	received := 0
	for received < total {
		select {
		case r := <-got:
			fmt.Printf("loadgen recv %s %d\n", r.id, r.ns)
			received++
		case <-timeout:
			fmt.Printf("loadgen done %d\n", received)
			t.Fatalf("%d of %d streams had their update within %v", received, total, wait)
		}
	}
	fmt.Printf("loadgen done %d\n", received)
}

// raiseOpenFiles raises the soft limit of open files to the hard limit,
// as sim does for its fleets: every stream is a socket.
func raiseOpenFiles() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
	}
	return uint64(l.Cur), nil
}

// memory is the Go heap and the goroutine stacks in use, after a few
// collections, and the process's resident set, in bytes. Each collection
// halves a stack that uses less than a quarter of itself, as a running
// server's collections would: a request's handler grows its stack while
// it authenticates, then waits shallow for the rest of its stream.
func memory() (heap, stacks, rss uint64) {
	for range 4 {
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	heap, stacks = m.HeapInuse, m.StackInuse
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(b)) {
			if kb, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				v, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), 10, 64)
				rss = v * 1024
			}
		}
	}
	return heap, stacks, rss
}
