package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSimulatePaidSessions starts the real binary and the real simulator
// as two processes: drivers paying by sandbox card, wallet and postpaid
// account charge; every ended session's payment must end captured for
// exactly its CDR's total (or released when there was nothing to pay),
// and the ledger must hold exactly that money: the sandbox's clearing
// account the card captures and the top-ups, each wallet its top-up less
// its sessions, each receivable its account's sessions, and the trial
// balance zero.
func TestSimulatePaidSessions(t *testing.T) {
	bin := buildBinary(t)
	s := startServer(t, bin)
	code, site := s.do(t, "POST", "/api/v1/sites", map[string]any{"name": "Paid", "country": "NL", "time_zone": "Europe/Amsterdam"})
	if code != 201 {
		t.Fatalf("create site: %d %v", code, site)
	}
	doc, err := os.ReadFile("../../examples/tariff.json")
	if err != nil {
		t.Fatal(err)
	}
	var tariffDoc map[string]any
	_ = json.Unmarshal(doc, &tariffDoc)
	code, tf := s.do(t, "POST", "/api/v1/tariffs", tariffDoc)
	if code != 201 {
		t.Fatalf("create tariff: %d %v", code, tf)
	}
	if code, body := s.do(t, "POST", "/api/v1/tariff-assignments", map[string]any{"tariff_id": tf["id"], "site_id": site["id"]}); code != 201 {
		t.Fatalf("assign tariff: %d %v", code, body)
	}
	currency, _ := tariffDoc["currency"].(string)
	out, err := exec.Command(bin, "simulate", "--url", "ws"+strings.TrimPrefix(s.base, "http")+"/ocpp",
		"--api-key", s.key, "--site-id", site["id"].(string), "--chargers", "6", "--tokens", "PAY-1,PAY-2,PAY-3",
		"--pay-by", "mixed", "--samples-per-session", "3", "--chaos=false", "--duration", "3s", "--json", "--quiet").Output()
	if err != nil {
		t.Fatalf("simulate: %v\n%s\nserver:\n%s", err, out, s.stderr)
	}
	var sum struct {
		SessionsEnded int `json:"sessions_ended"`
		CallErrors    int `json:"call_errors"`
	}
	if err := json.Unmarshal(out, &sum); err != nil || sum.SessionsEnded < 3 || sum.CallErrors != 0 {
		t.Fatalf("summary: %v %s", err, out)
	}

	// The payment worker settles within a few of its one-second rounds.
	type payment struct {
		Gateway       string `json:"gateway"`
		DriverID      string `json:"driver_id"`
		State         string `json:"state"`
		CaptureAmount int64  `json:"capture_amount"`
		Captured      int64  `json:"captured"`
	}
	byGateway := map[string]int64{}
	byDriver := map[string]int64{}
	// Messages the simulator sent as it stopped may still be committing:
	// wait until the sessions stop changing.
	var sessions []map[string]any
	for prev := ""; ; time.Sleep(300 * time.Millisecond) {
		sessions = list(t, s, "/api/v1/sessions")
		raw, _ := json.Marshal(sessions)
		if string(raw) == prev {
			break
		}
		prev = string(raw)
	}
	totals := map[string]int64{} // CDR amounts by session
	for _, c := range list(t, s, "/api/v1/cdrs") {
		totals[c["session_id"].(string)] = int64(c["amount_minor"].(float64))
	}
	ended := 0
	var payments []payment
	for _, ss := range sessions {
		if ss["state"] != "ended" {
			continue
		}
		ended++
		id := ss["id"].(string)
		var p payment
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, body := s.do(t, "GET", "/api/v1/sessions/"+id+"/payment", nil)
			if code != 200 {
				t.Fatalf("payment of session %s: %d %v", id, code, body)
			}
			raw, _ := json.Marshal(body)
			_ = json.Unmarshal(raw, &p)
			if p.State == "captured" || p.State == "released" || p.State == "failed" || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		total := totals[id]
		switch {
		case total == 0 && p.State == "released":
		case p.State != "captured" || p.Captured != total:
			t.Errorf("session %s: payment %s captured %d, want captured %d (its CDR's total)", id, p.State, p.Captured, total)
		}
		payments = append(payments, p)
		byGateway[p.Gateway] += p.Captured
		byDriver[p.DriverID] += p.Captured
	}
	if ended < 3 || len(byGateway) != 3 {
		t.Fatalf("%d ended sessions paid through %v; want card, wallet and account", ended, byGateway)
	}

	accounts := map[string]int64{}
	for _, a := range list(t, s, "/api/v1/ledger/accounts") {
		if a["currency"] == currency {
			accounts[a["code"].(string)] = int64(a["balance"].(float64))
		}
	}
	topUps := int64(0)
	for code, bal := range accounts {
		if driver, ok := strings.CutPrefix(code, "driver_wallet:"); ok {
			// A liability: the top-up less the sessions paid from it.
			topUps += -bal + byDriver[driver]
		}
		if driver, ok := strings.CutPrefix(code, "driver_receivable:"); ok && bal != byDriver[driver] {
			t.Errorf("receivable of %s is %d, want its account sessions' %d", driver, bal, byDriver[driver])
		}
	}
	if topUps != 1_000_000 {
		t.Errorf("wallet top-ups %d, want the simulator's one top-up of 1,000,000", topUps)
	}
	if got, want := accounts["gateway_clearing:sandbox"], byGateway["sandbox"]+topUps; got != want {
		t.Errorf("sandbox clearing %d, want card captures %d + top-ups %d", got, byGateway["sandbox"], topUps)
	}
	// The worker's moves are on /metrics: the captures counted there are
	// the card, wallet and account sessions paid plus the top-up.
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	captures := 0
	for _, p := range payments {
		if p.State == "captured" {
			captures++
		}
	}
	if want := fmt.Sprintf(`evbill_payments_moved_total{to="captured"} %d`, captures+1); !strings.Contains(string(metrics), want) {
		t.Errorf("/metrics lacks %q", want)
	}
	code, tb := s.do(t, "GET", "/api/v1/ledger/trial-balance", nil)
	lines, _ := tb["lines"].([]any)
	if code != 200 || len(lines) == 0 {
		t.Fatalf("trial balance: %d %v", code, tb)
	}
	var debits, credits float64
	for _, l := range lines {
		debits += l.(map[string]any)["debits"].(float64)
		credits += l.(map[string]any)["credits"].(float64)
	}
	if debits != credits {
		t.Errorf("trial balance: debits %v, credits %v", debits, credits)
	}
}

// list reads every page of a list route.
func list(t *testing.T, s *server, path string) []map[string]any {
	t.Helper()
	var all []map[string]any
	for cursor := ""; ; {
		code, pg := s.do(t, "GET", path+"?limit=500&cursor="+cursor, nil)
		if code != 200 {
			t.Fatalf("GET %s: %d %v", path, code, pg)
		}
		items, _ := pg["items"].([]any)
		for _, it := range items {
			all = append(all, it.(map[string]any))
		}
		if cursor, _ = pg["next_cursor"].(string); cursor == "" {
			return all
		}
	}
}
