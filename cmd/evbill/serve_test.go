package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// buildBinary builds evbill once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and starts the binary")
	}
	bin := filepath.Join(t.TempDir(), "evbill")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// server is a running `evbill serve`.
type server struct {
	cmd    *exec.Cmd
	base   string
	key    string
	stderr *bytes.Buffer
}

// startServer starts the binary on an empty data directory and a free
// port, and reads the bootstrap admin key it prints.
func startServer(t *testing.T, bin string, env ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &bytes.Buffer{}}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderrPipe)
		for sc.Scan() {
			line := sc.Text()
			s.stderr.WriteString(line + "\n")
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "evbill listening" {
				addr <- rec.Addr
			}
		}
	}()
	keys := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "evb_") {
				keys <- line
			}
		}
	}()
	select {
	case a := <-addr:
		s.base = "http://" + a
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not start; stderr:\n%s", s.stderr)
	}
	select {
	case s.key = <-keys:
	case <-time.After(5 * time.Second):
		t.Fatal("no bootstrap admin key on stdout")
	}
	return s
}

func (s *server) do(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+path, r)
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if out == nil {
		out = map[string]any{"_raw": string(raw)}
	}
	return resp.StatusCode, out
}

// TestServeEndToEnd starts the real binary on an empty data directory and
// drives the API: bootstrap key, health, a site with a station and a
// connector, a tariff and its assignment, the resolved tariff, a quote, a
// tariff update, and a graceful stop.
func TestServeEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	s := startServer(t, bin)

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(s.base + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	if code, _ := (&server{base: s.base, key: "evb_wrong"}).do(t, "GET", "/api/v1/sites", nil); code != 401 {
		t.Errorf("a wrong key got %d, want 401", code)
	}

	code, site := s.do(t, "POST", "/api/v1/sites", map[string]any{
		"name": "Amsterdam Centraal P+R", "address": "Stationsplein 1", "city": "Amsterdam",
		"postal_code": "1012 AB", "country": "NL", "time_zone": "Europe/Amsterdam"})
	if code != 201 {
		t.Fatalf("create site: %d %v", code, site)
	}
	code, station := s.do(t, "POST", "/api/v1/stations", map[string]any{
		"site_id": site["id"], "charge_point_id": "AMS-CP-001", "vendor": "Alfen", "model": "Eve Double"})
	if code != 201 {
		t.Fatalf("create station: %d %v", code, station)
	}
	code, conn := s.do(t, "POST", fmt.Sprintf("/api/v1/stations/%s/connectors", station["id"]), map[string]any{
		"connector_number": 1, "standard": "IEC_62196_T2", "power_type": "AC_3_PHASE", "max_power_kw": 22})
	if code != 201 {
		t.Fatalf("create connector: %d %v", code, conn)
	}
	doc, err := os.ReadFile("../../examples/tariff.json")
	if err != nil {
		t.Fatal(err)
	}
	var tariffDoc map[string]any
	_ = json.Unmarshal(doc, &tariffDoc)
	code, tf := s.do(t, "POST", "/api/v1/tariffs", tariffDoc)
	if code != 201 || tf["version"] != float64(1) {
		t.Fatalf("create tariff: %d %v", code, tf)
	}
	code, asg := s.do(t, "POST", "/api/v1/tariff-assignments", map[string]any{"tariff_id": tf["id"], "site_id": site["id"]})
	if code != 201 {
		t.Fatalf("assign tariff: %d %v", code, asg)
	}
	// The pay page is mounted, in test mode (the sandbox is the only
	// gateway), and knows the charger is not connected.
	if resp, err := http.Get(s.base + "/pay/AMS-CP-001/1"); err != nil {
		t.Fatal(err)
	} else {
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{"TEST MODE", "EUR 50.00", "offline"} {
			if resp.StatusCode != 200 || !strings.Contains(string(page), want) {
				t.Errorf("the pay page (%d) does not say %q:\n%s", resp.StatusCode, want, page)
			}
		}
	}
	code, resolved := s.do(t, "GET", fmt.Sprintf("/api/v1/stations/%s/tariff", station["id"]), nil)
	if code != 200 || resolved["tariff_id"] != tf["id"] {
		t.Fatalf("resolve tariff: %d %v", code, resolved)
	}
	code, quote := s.do(t, "POST", "/api/v1/quotes", map[string]any{
		"station_id": station["id"], "start_time": "2027-03-12T17:15:00Z", "energy_kwh": 16.05,
		"charging_minutes": 90, "parking_minutes": 45})
	if code != 200 {
		t.Fatalf("quote: %d %v", code, quote)
	}
	if total, _ := quote["total"].(map[string]any); total == nil || total["excl_vat"] == nil {
		t.Errorf("quote has no total: %v", quote)
	}

	// A charger connects over OCPP 1.6J with its password and boots.
	if code, body := s.do(t, "PUT", fmt.Sprintf("/api/v1/stations/%s/password", station["id"]), map[string]any{"password": "correct horse battery"}); code != 204 {
		t.Fatalf("set password: %d %v", code, body)
	}
	if code, body := s.do(t, "POST", "/api/v1/tokens", map[string]any{"uid": "TAG1", "type": "RFID", "status": "ACCEPTED"}); code != 201 {
		t.Fatalf("create token: %d %v", code, body)
	}
	chargeSession(t, "ws"+strings.TrimPrefix(s.base, "http")+"/ocpp/AMS-CP-001", "AMS-CP-001", "correct horse battery")
	code, sessions := s.do(t, "GET", "/api/v1/sessions", nil)
	items, _ := sessions["items"].([]any)
	if code != 200 || len(items) != 1 {
		t.Fatalf("sessions: %d %v", code, sessions)
	}
	sessionID := items[0].(map[string]any)["id"].(string)
	code, live := s.do(t, "GET", "/api/v1/sessions/"+sessionID, nil)
	cost, _ := live["cost"].(map[string]any)
	if code != 200 || live["state"] != "ended" || cost == nil || cost["final"] != true {
		t.Fatalf("session: %d %v", code, live)
	}
	code, cdrs := s.do(t, "GET", "/api/v1/cdrs", nil)
	cdrItems, _ := cdrs["items"].([]any)
	if code != 200 || len(cdrItems) != 1 {
		t.Fatalf("cdrs: %d %v", code, cdrs)
	}
	cdrID := cdrItems[0].(map[string]any)["id"].(string)
	if code, doc := s.do(t, "GET", "/api/v1/cdrs/"+cdrID, nil); code != 200 || doc["total_cost"] == nil || doc["currency"] != "EUR" {
		t.Fatalf("CDR document: %d %v", code, doc)
	}
	if code, text := s.do(t, "GET", "/api/v1/cdrs/"+cdrID+"?format=explain", nil); code != 200 || !strings.Contains(fmt.Sprint(text["_raw"]), "Amount to charge: EUR") {
		t.Fatalf("CDR explanation: %d %v", code, text)
	}

	// A command reaches a connected charger and returns its answer; a
	// station that is not connected is 409.
	stopAnswering := answerCommands(t, "ws"+strings.TrimPrefix(s.base, "http")+"/ocpp/AMS-CP-001", "AMS-CP-001", "correct horse battery")
	code, answer := s.do(t, "POST", fmt.Sprintf("/api/v1/stations/%s/commands/Reset", station["id"]), map[string]any{"type": "Soft"})
	if code != 200 || answer["status"] != "Accepted" {
		t.Fatalf("Reset: %d %v", code, answer)
	}
	if code, p := s.do(t, "POST", fmt.Sprintf("/api/v1/stations/%s/commands/Reset", station["id"]), map[string]any{"type": "Sometimes"}); code != 422 {
		t.Errorf("a Reset that breaks the schema: %d %v", code, p)
	}
	stopAnswering()
	time.Sleep(200 * time.Millisecond)
	if code, p := s.do(t, "POST", fmt.Sprintf("/api/v1/stations/%s/commands/Reset", station["id"]), map[string]any{"type": "Soft"}); code != 409 {
		t.Errorf("a command to a disconnected station: %d %v", code, p)
	}

	// An update is a new version; the old one stays readable.
	tariffDoc["tariff_alt_text"] = []map[string]string{{"language": "en", "text": "Updated."}}
	code, v2 := s.do(t, "PUT", fmt.Sprintf("/api/v1/tariffs/%s", tf["id"]), tariffDoc)
	if code != 200 || v2["version"] != float64(2) {
		t.Fatalf("update tariff: %d %v", code, v2)
	}
	code, v1 := s.do(t, "GET", fmt.Sprintf("/api/v1/tariffs/%s?version=1", tf["id"]), nil)
	if code != 200 || v1["version"] != float64(1) {
		t.Errorf("version 1 after an update: %d %v", code, v1)
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM; stderr:\n%s", err, s.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Error("serve did not stop after SIGTERM")
	}
	_ = context.Background()
}

// TestAPIKeyCommand creates a key for a new tenant with the CLI against the
// same data directory a server then uses.
func TestAPIKeyCommand(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	out, err := exec.Command(bin, "apikey", "create", "--tenant", "acme", "--role", "finance", "--data", data).Output()
	if err != nil {
		t.Fatalf("apikey create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "evb_") {
		t.Errorf("the key is not the last line of stdout: %q", out)
	}
	cmd := exec.Command(bin, "apikey", "create", "--tenant", "acme", "--role", "owner", "--data", data)
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Errorf("an unknown role: %v, want exit status 2", err)
	}
	out, err = exec.Command(bin, "migrate", "--data", data).Output()
	if err != nil || !strings.Contains(string(out), "migration") {
		t.Errorf("migrate: %v %s", err, out)
	}
}

// answerCommands connects as a charge point that accepts every command
// the central system sends, until the returned function closes it.
func answerCommands(t *testing.T, url, cp, password string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cp+":"+password)))
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"ocpp1.6"}, HTTPHeader: h})
	if err != nil {
		cancel()
		t.Fatalf("charger connection: %v", err)
	}
	// A message answered means the server has registered the connection:
	// the upgrade alone can complete on the client first.
	if err := c.Write(ctx, websocket.MessageText, []byte(`[2,"hb","Heartbeat",{}]`)); err != nil {
		t.Fatal(err)
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("heartbeat: %v", err)
		}
		if strings.HasPrefix(string(b), `[3,"hb"`) {
			break
		}
	}
	go func() {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			var f []json.RawMessage
			if json.Unmarshal(b, &f) == nil && len(f) == 4 && string(f[0]) == "2" {
				_ = c.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf(`[3,%s,{"status":"Accepted"}]`, f[1])))
			}
		}
	}()
	return func() {
		c.Close(websocket.StatusNormalClosure, "")
		cancel()
	}
}

// chargeSession connects as a charge point and runs a session: boot,
// start, two meter readings, stop.
func chargeSession(t *testing.T, url, cp, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cp+":"+password)))
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"ocpp1.6"}, HTTPHeader: h})
	if err != nil {
		t.Fatalf("charger connection: %v", err)
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	n := 0
	call := func(action, payload string) string {
		n++
		id := fmt.Sprint(n)
		if err := c.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf(`[2,%q,%q,%s]`, id, action, payload))); err != nil {
			t.Fatal(err)
		}
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("%s: %v", action, err)
			}
			var f []json.RawMessage
			if json.Unmarshal(b, &f) != nil || len(f) < 3 {
				t.Fatalf("%s: bad frame %s", action, b)
			}
			if string(f[0]) == "2" { // the central system configuring us: accept
				_ = c.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf(`[3,%s,{"status":"Accepted"}]`, f[1])))
				continue
			}
			if string(f[0]) != "3" || string(f[1]) != strconv.Quote(id) {
				t.Fatalf("%s answered %s", action, b)
			}
			return string(f[2])
		}
	}
	if got := call("BootNotification", `{"chargePointVendor":"Alfen","chargePointModel":"Eve"}`); !strings.Contains(got, `"Accepted"`) {
		t.Fatalf("boot: %s", got)
	}
	start := time.Now().UTC().Add(time.Minute).Truncate(time.Second)
	var started struct {
		TransactionID int `json:"transactionId"`
	}
	_ = json.Unmarshal([]byte(call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"TAG1","meterStart":1000,"timestamp":%q}`, start.Format(time.RFC3339)))), &started)
	for i, wh := range []int{6000, 11000} {
		at := start.Add(time.Duration(i+1) * 20 * time.Minute)
		call("MeterValues", fmt.Sprintf(`{"connectorId":1,"transactionId":%d,"meterValue":[{"timestamp":%q,"sampledValue":[{"value":"%d"}]}]}`,
			started.TransactionID, at.Format(time.RFC3339), wh))
	}
	call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":11000,"timestamp":%q}`, started.TransactionID, start.Add(time.Hour).Format(time.RFC3339)))
}

// TestDemoEndToEnd starts `evbill demo` as a newcomer would and waits for
// the simulated fleet's first priced session: printed, and served by the
// API with the key the demo printed. Sessions are shortened to seconds.
func TestDemoEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin, "demo", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--chargers", "4", "--session-length", "4s")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	s := &server{cmd: cmd, stderr: &stderr}
	var cdrLine, dashPassword string
	deadline := time.After(90 * time.Second)
	for cdrLine == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited before a CDR; stderr:\n%s", stderr.String())
			}
			f := strings.Fields(line)
			switch {
			case len(f) >= 2 && f[0] == "API":
				s.base = strings.TrimSuffix(f[1], "/api/v1")
			case len(f) >= 3 && f[0] == "admin" && f[1] == "key":
				s.key = f[2]
			case len(f) >= 8 && f[0] == "dashboard" && f[6] == "password":
				dashPassword = strings.TrimSuffix(f[7], ",")
			case len(f) >= 2 && f[0] == "CDR":
				cdrLine = line
			}
		case <-deadline:
			t.Fatalf("no CDR within 90 s; stderr:\n%s", stderr.String())
		}
	}
	if s.base == "" || !strings.HasPrefix(s.key, "evb_") {
		t.Fatalf("the demo did not print its API address and key (base %q, key %q)", s.base, s.key)
	}
	id := strings.Fields(cdrLine)[1]
	if code, got := s.do(t, "GET", "/api/v1/cdrs/"+id, nil); code != 200 || got["id"] != id || got["total_cost"] == nil {
		t.Fatalf("GET the printed CDR %s: %d %v", id, code, got)
	}
	if !strings.Contains(cdrLine, "EUR excl. VAT") || !strings.Contains(cdrLine, "DEMO-") {
		t.Errorf("CDR line %q", cdrLine)
	}
	// The dashboard login it printed lets its admin in.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.PostForm(s.base+"/login", url.Values{"email": {demoEmail}, "password": {dashPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Errorf("logging in with the printed password %q: %d to %q", dashPassword, res.StatusCode, res.Header.Get("Location"))
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo stopped with %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop on SIGINT")
	}
}
