package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/api"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/sim"
	"github.com/evbill/evbill/sqlite"
)

func TestSimulateRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--chargers", "0"},
		{"--password", "short"},
		{"--dc-share", "1.5"},
		{"--offline", "60s"},
		{"--offline", "10s-5s"},
		{"--source-ips", "127.0.0.9-127.0.0.1"},
		{"--tokens", ","},
		{"--pay-by", "bitcoin"},
		{"--pay-by", "card"}, // without --api-key
		{"--url", "http://127.0.0.1:8080/ocpp", "--duration", "1ms"},
		{"--nope"},
		{"extra"},
	} {
		_, _, err := runCLI(t, "", append([]string{"simulate"}, args...)...)
		if err == nil || exitStatus(err) != 2 {
			t.Errorf("simulate %v: err %v (status %d), want status 2", args, err, exitStatus(err))
		}
	}
	_, stderr, err := runCLI(t, "", "simulate", "-h")
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr, "samples-per-session") {
		t.Errorf("help: %v\n%s", err, stderr)
	}
}

func TestParseAddrs(t *testing.T) {
	got, err := parseAddrs("127.0.0.1-127.0.0.3,10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("10.0.0.1")}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestSimulateEndToEnd runs the command as a benchmark script would:
// provisioning through the API, a clean benchmark-mode run, JSON summary.
func TestSimulateEndToEnd(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "evbill.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tenant := evbill.Tenant{Name: "bench"}
	if err := st.CreateTenant(ctx, &tenant); err != nil {
		t.Fatal(err)
	}
	secret, prefix, hash := auth.NewAPIKey()
	if err := st.CreateAPIKey(ctx, &evbill.APIKey{TenantID: tenant.ID, Name: "t", Role: evbill.RoleAdmin, Prefix: prefix}, hash); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := charging.NewService(charging.Config{Store: st, Logger: log})
	central := &ocpp.Server{Authenticate: svc.Authenticate, Handler: svc, Logger: log}
	h, err := api.New(api.Config{Store: st, Charging: svc, Chargers: central, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ocpp/", central)
	mux.Handle("/", h)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		hs.Close()
		_ = central.Shutdown(context.Background())
		svc.Close()
	})
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ocpp"
	stdout, stderr, err := runCLI(t, "", "simulate", "--url", url, "--api-key", secret, "--chargers", "3",
		"--samples-per-session", "2", "--chaos=false", "--duration", "1500ms", "--json", "--quiet")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var sum sim.Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if sum.Chargers != 3 || sum.MaxConnected != 3 || sum.SessionsEnded == 0 || sum.CallErrors != 0 || sum.ByAction["MeterValues"].Count == 0 {
		t.Errorf("summary: %s", stdout)
	}
}
