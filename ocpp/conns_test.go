package ocpp

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestManyConnections measures what the server spends per connection: it
// serves in this process while a helper process (this test binary again,
// TestHelperClient) opens N connections, so that each process stays
// below the open-files limit and the server's figures hold only the
// server. It reports heap and RSS per idle connection, then the server's
// CPU time per MeterValues message while every connection sends some, and
// the client-measured latency. Skipped unless OCPP_CONNS is set:
//
//	OCPP_CONNS=19000 OCPP_ROUNDS=5 go test -run '^TestManyConnections$' -v -timeout 20m ./ocpp
func TestManyConnections(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("OCPP_CONNS"))
	if n <= 0 {
		t.Skip("set OCPP_CONNS=N to measure N connections")
	}
	rounds := envInt("OCPP_ROUNDS", 3)

	srv := &Server{
		Handler: &recorder{noRecord: true},
		Logger:  discardLogger,
		Authenticate: func(ctx context.Context, cpID, password string, hasPassword bool) (Identity, error) {
			return Identity{TenantID: "t", StationID: cpID}, nil
		},
	}
	mux := http.NewServeMux()
	mux.Handle("/ocpp/", srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()

	heap0, rss0, g0 := measure()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperClient$")
	cmd.Env = append(os.Environ(), "OCPP_HELPER_URL=ws://"+ln.Addr().String()+"/ocpp/",
		"OCPP_HELPER_N="+strconv.Itoa(n), "OCPP_HELPER_ROUNDS="+strconv.Itoa(rounds))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	expect := func(prefix string) string {
		for lines.Scan() {
			if l := lines.Text(); strings.HasPrefix(l, prefix) {
				return l
			}
		}
		t.Fatalf("helper ended before %q: %v", prefix, lines.Err())
		return ""
	}

	t.Log(expect("connected"))
	for deadline := time.Now().Add(time.Minute); srv.Len() < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d registered", srv.Len(), n)
		}
	}
	heap1, rss1, g1 := measure()
	t.Logf("idle: %d connections: heap %.1f KiB/conn, RSS %.1f KiB/conn, %.2f goroutines/conn (heap %d MiB, RSS %d MiB in all)",
		n, kib(heap1-heap0)/float64(n), kib(rss1-rss0)/float64(n), float64(g1-g0)/float64(n), heap1>>20, rss1>>20)

	cpu0 := cpuTime()
	start := time.Now()
	fmt.Fprintln(stdin, "go")
	t.Log(expect("done"))
	cpu := cpuTime() - cpu0
	wall := time.Since(start)
	msgs := n * rounds
	t.Logf("traffic: %d MeterValues in %v: %.0f msg/s; server CPU %v = %.1f µs/msg (%.0f%% of one core)",
		msgs, wall.Round(time.Millisecond), float64(msgs)/wall.Seconds(), cpu.Round(time.Millisecond),
		float64(cpu.Microseconds())/float64(msgs), 100*cpu.Seconds()/wall.Seconds())
	heap2, rss2, _ := measure()
	t.Logf("after traffic: heap %.1f KiB/conn, RSS %.1f KiB/conn (RSS %d MiB in all)",
		kib(heap2-heap0)/float64(n), kib(rss2-rss0)/float64(n), rss2>>20)

	fmt.Fprintln(stdin, "quit")
	cmd.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestHelperClient is the client half of TestManyConnections, run in its
// own process. It opens N connections, then on "go" sends ROUNDS
// MeterValues on each (200 at a time) and reports latency percentiles.
func TestHelperClient(t *testing.T) {
	url := os.Getenv("OCPP_HELPER_URL")
	if url == "" {
		t.Skip("helper process of TestManyConnections")
	}
	n, rounds := envInt("OCPP_HELPER_N", 1), envInt("OCPP_HELPER_ROUNDS", 1)
	conns := make([]*websocket.Conn, n)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				id := "CP" + strconv.Itoa(i)
				h := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(id+":pw"))}}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				ws, _, err := websocket.Dial(ctx, url+id, &websocket.DialOptions{Subprotocols: []string{Subprotocol16}, HTTPHeader: h})
				cancel()
				if err != nil {
					fmt.Fprintln(os.Stderr, "dial:", err)
					os.Exit(1)
				}
				conns[i] = ws
			}
		}()
	}
	wg.Wait()
	fmt.Printf("connected %d in %v\n", n, time.Since(start).Round(time.Millisecond))

	in := bufio.NewScanner(os.Stdin)
	in.Scan() // "go"
	payload := strings.SplitN(meterValuesFrame, `"MeterValues",`, 2)[1]
	lat := make([]time.Duration, n*rounds)
	start = time.Now()
	next.Store(0)
	var failed atomic.Int64
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := int(next.Add(1)) - 1; k < n*rounds; k = int(next.Add(1)) - 1 {
				ws := conns[k%n]
				msg := `[2,"` + strconv.Itoa(k) + `","MeterValues",` + payload
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				t0 := time.Now()
				err := ws.Write(ctx, websocket.MessageText, []byte(msg))
				var data []byte
				if err == nil {
					_, data, err = ws.Read(ctx)
				}
				lat[k] = time.Since(t0)
				cancel()
				if err != nil || !strings.HasPrefix(string(data), `[3,"`+strconv.Itoa(k)+`"`) {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	fmt.Printf("done %d messages in %v, %d failed; client-measured latency p50 %v p99 %v max %v\n",
		len(lat), elapsed.Round(time.Millisecond), failed.Load(), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
	in.Scan() // "quit"
	for _, ws := range conns {
		ws.CloseNow()
	}
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

// measure returns the live heap and the RSS after a full collection, and
// the number of goroutines.
func measure() (heap, rss uint64, goroutines int) {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			rss = kb << 10
		}
	}
	return m.HeapAlloc, rss, runtime.NumGoroutine()
}

func kib(b uint64) float64 { return float64(int64(b)) / 1024 }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
