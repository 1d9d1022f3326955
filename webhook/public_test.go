package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/evbill/evbill/webhook"
)

func TestPublic(t *testing.T) {
	tests := []struct {
		ip     string
		public bool
	}{
		{"93.184.215.14", true},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", true},
		{"8.8.8.8", true},
		{"127.0.0.1", false},
		{"127.9.9.9", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"fe80::1", false},
		{"fd00:ec2::254", false}, // unique local: AWS's IPv6 metadata
		{"100.64.0.1", false},    // carrier-grade NAT
		{"0.0.0.0", false},
		{"::", false},
		{"224.0.0.1", false},
		{"255.255.255.255", false},
		{"198.18.0.1", false},
		{"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
		{"::ffff:93.184.215.14", true},
		{"64:ff9b::a00:1", false}, // NAT64 of 10.0.0.1
	}
	for _, tt := range tests {
		if got := webhook.Public(netip.MustParseAddr(tt.ip)); got != tt.public {
			t.Errorf("Public(%s) = %v, want %v", tt.ip, got, tt.public)
		}
	}
}

// TestPublicClientRefusesLoopback: the public client does not connect
// to a receiver on the machine itself, by address or by a name that
// resolves to it, and says why.
func TestPublicClientRefusesLoopback(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := webhook.NewPublicClient()
	for _, url := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: delivered", url)
		}
		if !strings.Contains(err.Error(), "is not a public address") {
			t.Errorf("%s: %v", url, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("the receiver got %d requests", hits.Load())
	}
	// The permissive client, for receivers on the operator's own network.
	resp, err := webhook.NewClient().Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Errorf("NewClient did not deliver")
	}
}
