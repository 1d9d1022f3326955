package sse_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill/internal/sse"
)

// TestStream: the headers, the retry, events with data on several lines,
// heartbeats while nothing happens, and the end when send says so.
func TestStream(t *testing.T) {
	updates := make(chan string)
	relayed := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := sse.Start(w)
		if err != nil {
			relayed <- err
			return
		}
		relayed <- sse.Relay(r.Context(), st, updates, 30*time.Millisecond, func(u string) (bool, error) {
			return u == "last", st.Event("update", []byte(u))
		})
	}))
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", res.Header)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func() string {
		t.Helper()
		select {
		case l := <-lines:
			return l
		case <-time.After(5 * time.Second):
			t.Fatal("nothing within 5 s")
		}
		return ""
	}
	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			if got := next(); got != w {
				t.Fatalf("line %q, want %q", got, w)
			}
		}
	}
	expect("retry: 3000", "")
	// Nothing to send: heartbeats, as comments.
	expect(": heartbeat", "", ": heartbeat", "")
	updates <- "one\ntwo"
	// Heartbeats may have been on their way; the event follows them.
	skipHeartbeats := func() {
		t.Helper()
		for l := next(); l != "event: update"; l = next() {
			if l != ": heartbeat" && l != "" {
				t.Fatalf("line %q", l)
			}
		}
	}
	skipHeartbeats()
	expect("data: one", "data: two", "")
	updates <- "last"
	skipHeartbeats()
	expect("data: last", "")
	if err := <-relayed; err != nil {
		t.Errorf("Relay returned %v after the last event", err)
	}
	if l, open := <-lines; open {
		t.Errorf("the stream goes on after the last event: %q", l)
	}
}

// TestRelayEnds: a closed channel ends the stream without error; a
// client that leaves ends it with the context's error.
func TestRelayEnds(t *testing.T) {
	rec := httptest.NewRecorder()
	st, err := sse.Start(rec)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan int)
	close(closed)
	if err := sse.Relay(context.Background(), st, closed, time.Hour, func(int) (bool, error) { return false, nil }); err != nil {
		t.Errorf("a closed channel: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sse.Relay(ctx, st, make(chan int), time.Hour, func(int) (bool, error) { return false, nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("a client that left: %v", err)
	}
	if !strings.HasPrefix(rec.Body.String(), "retry: 3000\n\n") {
		t.Errorf("body %q", rec.Body.String())
	}
}
