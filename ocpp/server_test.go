package ocpp

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// testEnv is a real Server on an httptest server, mounted on a mux as the
// caller would, with stations CP1 and CP2 (passwords "secret-CP1", …),
// NOPW (no password needed) and DOWN (the auth store is unavailable).
type testEnv struct {
	srv   *Server
	hs    *httptest.Server
	h     *recorder
	url   string
	auths atomic.Int32

	mu            sync.Mutex
	connected     []*Conn
	disconnected  []*Conn
	disconnectErr []error
	disconnectCh  chan *Conn
}

func newEnv(t testing.TB, configure ...func(*Server)) *testEnv {
	t.Helper()
	e := &testEnv{h: &recorder{}, disconnectCh: make(chan *Conn, 100)}
	e.srv = &Server{
		Logger:  discardLogger,
		Handler: e.h,
		Authenticate: func(ctx context.Context, cpID, password string, hasPassword bool) (Identity, error) {
			e.auths.Add(1)
			switch {
			case cpID == "DOWN":
				return Identity{}, fmt.Errorf("db: %w", ErrAuthUnavailable)
			case cpID == "NOPW" && !hasPassword:
				return Identity{TenantID: "t1", StationID: "s-nopw"}, nil
			case (cpID == "CP1" || cpID == "CP2") && hasPassword && password == "secret-"+cpID:
				return Identity{TenantID: "t1", StationID: "s-" + cpID, Value: "station " + cpID}, nil
			case (cpID[0] == 'P' || cpID[0] == 'I') && password == "pw":
				return Identity{TenantID: "t2", StationID: cpID}, nil
			}
			return Identity{}, errors.New("refused")
		},
		OnConnect: func(c *Conn) {
			e.mu.Lock()
			e.connected = append(e.connected, c)
			e.mu.Unlock()
		},
		OnDisconnect: func(c *Conn, err error) {
			e.mu.Lock()
			e.disconnected = append(e.disconnected, c)
			e.disconnectErr = append(e.disconnectErr, err)
			e.mu.Unlock()
			select {
			case e.disconnectCh <- c:
			default: // benchmarks disconnect thousands; nobody waits
			}
		},
	}
	for _, f := range configure {
		f(e.srv)
	}
	mux := http.NewServeMux()
	mux.Handle("/ocpp/", e.srv)
	e.hs = httptest.NewServer(mux)
	e.url = "ws" + strings.TrimPrefix(e.hs.URL, "http") + "/ocpp/"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		e.hs.Close()
	})
	return e
}

func basic(user, pw string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pw)))
	return h
}

func (e *testEnv) dial(ctx context.Context, cpID string, header http.Header, protos ...string) (*websocket.Conn, *http.Response, error) {
	return websocket.Dial(ctx, e.url+cpID, &websocket.DialOptions{Subprotocols: protos, HTTPHeader: header})
}

// connect dials cpID with its password and ocpp1.6.
func (e *testEnv) connect(t testing.TB, cpID string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	key := StationKey{"t1", "s-" + cpID}
	before := e.srv.Conn(key)
	ws, _, err := e.dial(ctx, cpID, basic(cpID, "secret-"+cpID), Subprotocol16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	// The handshake can complete on the client before the server has
	// registered the connection; tests that call the charger right away
	// need it registered.
	for c := e.srv.Conn(key); c == nil || c == before; c = e.srv.Conn(key) {
		if ctx.Err() != nil {
			t.Fatalf("the server did not register %s", cpID)
		}
		time.Sleep(time.Millisecond)
	}
	return ws
}

// connectAs dials as a station the test Authenticate does not know by
// name: any id starting with "P" or "I" is accepted with password "pw".
func (e *testEnv) connectAs(t testing.TB, cpID string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := e.dial(ctx, cpID, basic(cpID, "pw"), Subprotocol16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

func send(t *testing.T, ws *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

func recv(t *testing.T, ws *websocket.Conn) Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f, perr := ParseFrame(data)
	if perr != nil {
		t.Fatalf("server sent an invalid frame %s: %v", data, perr)
	}
	return f
}

// roundTrip sends msg and returns the answer.
func roundTrip(t *testing.T, ws *websocket.Conn, msg string) Frame {
	t.Helper()
	send(t, ws, msg)
	return recv(t, ws)
}

func TestAuthRefusedBeforeUpgrade(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		cpID   string
		header http.Header
		protos []string
		status int
		reason string
		auth   bool // Authenticate was asked
	}{
		{"no auth", "CP1", nil, []string{"ocpp1.6"}, 401, "unknown charge point or wrong password", true},
		{"wrong password", "CP1", basic("CP1", "nope"), []string{"ocpp1.6"}, 401, "wrong password", true},
		{"unknown station", "CP9", basic("CP9", "secret-CP9"), []string{"ocpp1.6"}, 401, "unknown charge point", true},
		{"username mismatch", "CP1", basic("CP2", "secret-CP2"), []string{"ocpp1.6"}, 401, "username must be the charge point id", false},
		{"bearer", "CP1", http.Header{"Authorization": {"Bearer x"}}, []string{"ocpp1.6"}, 401, "only HTTP Basic", false},
		{"auth unavailable", "DOWN", basic("DOWN", "x"), []string{"ocpp1.6"}, 503, "retry later", true},
		{"no subprotocol", "CP1", basic("CP1", "secret-CP1"), nil, 400, "no WebSocket subprotocol offered", false},
		{"wrong subprotocol", "CP1", basic("CP1", "secret-CP1"), []string{"ocpp1.5", "wamp"}, 400, "ocpp1.5, wamp", false},
		{"ocpp2.0.1 only", "CP1", basic("CP1", "secret-CP1"), []string{"ocpp2.0.1"}, 400, "ocpp2.0.1 is not supported yet", false},
		{"empty id", "", basic("", "x"), []string{"ocpp1.6"}, 404, "expected path /ocpp/{chargePointId}", false},
		{"nested path", "CP1/x", basic("CP1", "secret-CP1"), []string{"ocpp1.6"}, 404, "expected path", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.auths.Load()
			ws, resp, err := e.dial(ctx, tt.cpID, tt.header, tt.protos...)
			if err == nil {
				ws.CloseNow()
				t.Fatal("upgraded")
			}
			if resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("%v %v", resp, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), tt.reason) {
				t.Errorf("reason %q, want %q", body, tt.reason)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if asked := e.auths.Load() != before; asked != tt.auth {
				t.Errorf("Authenticate asked: %v", asked)
			}
		})
	}
	if e.srv.Len() != 0 || len(e.h.Calls()) != 0 {
		t.Fatal("something got through")
	}

	// Not an upgrade at all, and not GET.
	resp, err := http.Get(e.hs.URL + "/ocpp/CP1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatal(resp.Status)
	}
	resp, err = http.Post(e.hs.URL+"/ocpp/CP1", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatal(resp.Status)
	}
}

func TestConnectAndDispatch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Several offered subprotocols, ocpp1.6 among them.
	ws, resp, err := e.dial(ctx, "CP1", basic("CP1", "secret-CP1"), "ocpp2.0.1", "ocpp1.6")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if ws.Subprotocol() != "ocpp1.6" || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatal(ws.Subprotocol(), resp.Status)
	}

	f := roundTrip(t, ws, `[2,"b1","BootNotification",{"chargePointVendor":"Acme","chargePointModel":"X1"}]`)
	if f.Type != TypeCallResult || f.UniqueID != "b1" {
		t.Fatalf("%+v", f)
	}
	var conf BootNotificationConf
	if err := json.Unmarshal(f.Payload, &conf); err != nil || conf.Status != RegistrationAccepted || !conf.CurrentTime.Equal(testTime) || conf.Interval != 300 {
		t.Fatalf("%s %v", f.Payload, err)
	}
	f = roundTrip(t, ws, `[2,"m1","MeterValues",`+strings.TrimSuffix(strings.SplitN(meterValuesFrame, `"MeterValues",`, 2)[1], "]")+`]`)
	if f.Type != TypeCallResult || f.UniqueID != "m1" || string(f.Payload) != "{}" {
		t.Fatalf("%+v", f)
	}
	f = roundTrip(t, ws, `[2,"s1","StartTransaction",{"connectorId":1,"idTag":"TAG1","meterStart":1000,"timestamp":"2024-01-01T00:00:00+01:00"}]`)
	if f.Type != TypeCallResult || string(f.Payload) != `{"idTagInfo":{"status":"Accepted"},"transactionId":1000}` {
		t.Fatalf("%s", f.Payload)
	}

	if got := e.h.Calls(); strings.Join(got, "|") != "BootNotification Acme|MeterValues|StartTransaction TAG1" {
		t.Fatal(got)
	}
	c := e.h.conns[0]
	if id := c.Identity(); id.TenantID != "t1" || id.StationID != "s-CP1" || id.ChargePointID != "CP1" || id.Value != "station CP1" {
		t.Fatalf("%+v", id)
	}
	if c.Subprotocol() != "ocpp1.6" || c.RemoteAddr() == "" || c.Replaced() || e.srv.Conn(StationKey{"t1", "s-CP1"}) != c || e.srv.Len() != 1 {
		t.Fatal("conn state")
	}
	e.mu.Lock()
	if len(e.connected) != 1 || e.connected[0] != c {
		t.Fatal("OnConnect")
	}
	e.mu.Unlock()

	// A station without a password (security profile 0) when Authenticate
	// allows it.
	ws2, _, err := e.dial(ctx, "NOPW", nil, "ocpp1.6")
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.CloseNow()
	if f := roundTrip(t, ws2, `[2,"h","Heartbeat",{}]`); f.Type != TypeCallResult {
		t.Fatalf("%+v", f)
	}

	// Closing the connection: OnDisconnect, unregistered.
	ws.Close(websocket.StatusNormalClosure, "bye")
	select {
	case d := <-e.disconnectCh:
		if d != c {
			t.Fatal("OnDisconnect for another conn")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no OnDisconnect")
	}
	if e.srv.Conn(StationKey{"t1", "s-CP1"}) != nil || c.Context().Err() == nil {
		t.Fatal("still registered")
	}
}

// TestBadFramesKeepConnection: every bad frame is answered with its
// CALLERROR and the connection stays open.
func TestBadFramesKeepConnection(t *testing.T) {
	e := newEnv(t)
	ws := e.connect(t, "CP1")
	tests := []struct {
		in   string
		id   string
		code ErrorCode
		desc string
	}{
		{`not json`, "-1", FormationViolation, "invalid JSON"},
		{`{"a":1}`, "-1", FormationViolation, "not an array"},
		{`[2,17,"Heartbeat",{}]`, "-1", FormationViolation, "uniqueId must be a string"},
		{`[7,"x1",{}]`, "x1", FormationViolation, "messageTypeId"},
		{`[2,"x2","Heartbeat"]`, "x2", ProtocolError, "CALL has 3 elements"},
		{`[2,"x3","Heartbeat",[]]`, "x3", FormationViolation, "payload must be a JSON object"},
		{`[2,"x4","Fly",{}]`, "x4", NotImplemented, `"Fly" is not an OCPP 1.6 action`},
		{`[2,"x5","Reset",{"type":"Hard"}]`, "x5", NotSupported, "Reset is not supported"},
		{`[2,"x6","FirmwareStatusNotification",{"status":"Idle"}]`, "x6", NotSupported, "FirmwareStatusNotification"},
		{`[2,"x7","Authorize",{"idTag":7}]`, "x7", TypeConstraintViolation, "idTag: expected string, got number"},
		{`[2,"x8","Authorize",{}]`, "x8", OccurenceConstraintViolation, "idTag: required property missing"},
		{`[2,"x9","Authorize",{"idTag":"123456789012345678901"}]`, "x9", PropertyConstraintViolation, "idTag: 21 characters"},
		{`[2,"x10","Authorize",{"idTag":"A","x":1}]`, "x10", FormationViolation, "x: property not allowed"},
		{`[2,"x11","Authorize",{"idTag":"PANIC"}]`, "x11", InternalError, "internal error"},
		{`[2,"x12","Authorize",{"idTag":"FAIL"}]`, "x12", InternalError, "internal error"},
		{`[2,"x13","Authorize",{"idTag":"SECURITY"}]`, "x13", SecurityError, "tag SECURITY refused"},
		{`[2,"x14","Authorize",{"idTag":"BADCONF"}]`, "x14", InternalError, "invalid confirmation"},
		{`[2,"x15","Authorize",{"idTag":"NIL"}]`, "x15", InternalError, "internal error"},
		{`[2,"x16","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2024-01-01T00:00:00Z","sampledValue":[{"value":1}]}]}]`, "x16", TypeConstraintViolation, "meterValue[0].sampledValue[0].value: expected string, got number"},
	}
	for _, tt := range tests {
		f := roundTrip(t, ws, tt.in)
		if f.Type != TypeCallError || f.UniqueID != tt.id || f.ErrorCode != tt.code || !strings.Contains(f.ErrorDescription, tt.desc) {
			t.Errorf("%s:\n got %+v\nwant %s %s %q", tt.in, f, tt.id, tt.code, tt.desc)
		}
		// Internal details never reach the charger.
		if strings.Contains(f.ErrorDescription, "fire") || strings.Contains(f.ErrorDescription, "test panic") {
			t.Errorf("leaked %q", f.ErrorDescription)
		}
	}
	// A binary message.
	ctx := context.Background()
	if err := ws.Write(ctx, websocket.MessageBinary, []byte(`[2,"b","Heartbeat",{}]`)); err != nil {
		t.Fatal(err)
	}
	if f := recv(t, ws); f.UniqueID != "-1" || f.ErrorCode != FormationViolation || !strings.Contains(f.ErrorDescription, "binary") {
		t.Fatalf("%+v", f)
	}
	// Answers nobody asked for are not answered; the next reply is the
	// Heartbeat's.
	send(t, ws, `[3,"nobody",{}]`)
	send(t, ws, `[4,"nobody","GenericError","",{}]`)
	send(t, ws, `[3,"broken"`)
	if f := roundTrip(t, ws, `[2,"hb","Heartbeat",{}]`); f.Type != TypeCallResult || f.UniqueID != "hb" {
		t.Fatalf("%+v", f)
	}
	if e.srv.Len() != 1 {
		t.Fatal("connection dropped")
	}
}

// otherRecorder also implements OtherHandler.
type otherRecorder struct{ recorder }

func (o *otherRecorder) HandleOther(ctx context.Context, c *Conn, action string, payload json.RawMessage) (any, error) {
	switch action {
	case "FirmwareStatusNotification":
		return struct{}{}, nil
	case "SecurityEventNotification":
		return json.RawMessage(`{"bad":1}`), nil
	}
	return nil, Errorf(NotSupported, "no %s here", action)
}

func TestOtherHandler(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Handler = &otherRecorder{} })
	ws := e.connect(t, "CP1")
	if f := roundTrip(t, ws, `[2,"f","FirmwareStatusNotification",{"status":"Idle"}]`); f.Type != TypeCallResult || string(f.Payload) != "{}" {
		t.Fatalf("%+v", f)
	}
	if f := roundTrip(t, ws, `[2,"f2","FirmwareStatusNotification",{"status":"Bored"}]`); f.ErrorCode != PropertyConstraintViolation {
		t.Fatalf("%+v", f)
	}
	if f := roundTrip(t, ws, `[2,"s","SecurityEventNotification",{"type":"X","timestamp":"2024-01-01T00:00:00Z"}]`); f.ErrorCode != InternalError {
		t.Fatalf("%+v", f)
	}
	if f := roundTrip(t, ws, `[2,"d","DiagnosticsStatusNotification",{"status":"Idle"}]`); f.ErrorCode != NotSupported || f.ErrorDescription != "no DiagnosticsStatusNotification here" {
		t.Fatalf("%+v", f)
	}
	// Core actions still go to the Handler methods.
	if f := roundTrip(t, ws, `[2,"h","Heartbeat",{}]`); f.Type != TypeCallResult {
		t.Fatalf("%+v", f)
	}
}

// answerCalls plays the charger's side of server-initiated calls: it
// answers each CALL it reads with answer(frame), or not at all when
// answer returns "".
func answerCalls(ws *websocket.Conn, answer func(f Frame) string) (seen chan Frame) {
	seen = make(chan Frame, 100)
	go func() {
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				close(seen)
				return
			}
			f, _ := ParseFrame(data)
			seen <- f
			if a := answer(f); a != "" {
				ws.Write(context.Background(), websocket.MessageText, []byte(a))
			}
		}
	}()
	return seen
}

func TestServerCall(t *testing.T) {
	e := newEnv(t)
	ws := e.connect(t, "CP1")
	key := StationKey{"t1", "s-CP1"}
	var mu sync.Mutex
	var lateID string
	seen := answerCalls(ws, func(f Frame) string {
		switch f.Action {
		case ActionChangeConfiguration:
			return `[3,"` + f.UniqueID + `",{"status":"RebootRequired"}]`
		case ActionReset:
			return `[4,"` + f.UniqueID + `","NotSupported","no resets today",{"why":"policy"}]`
		case ActionUnlockConnector:
			return `[3,"` + f.UniqueID + `",{"status":"Jammed"}]`
		case ActionGetConfiguration:
			return `[3,"` + f.UniqueID + `",{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":"300"}]}]`
		case ActionTriggerMessage:
			return `[3,"` + f.UniqueID + `"]` // broken answer
		case ActionRemoteStopTransaction:
			mu.Lock()
			lateID = f.UniqueID
			mu.Unlock()
			return "" // never answers
		}
		return ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	var cc ChangeConfigurationConf
	if err := e.srv.Call(ctx, key, ActionChangeConfiguration, &ChangeConfigurationReq{Key: "MeterValueSampleInterval", Value: "60"}, &cc); err != nil || cc.Status != ConfigurationRebootRequired {
		t.Fatal(cc, err)
	}
	f := <-seen
	if f.Type != TypeCall || f.Action != ActionChangeConfiguration || string(f.Payload) != `{"key":"MeterValueSampleInterval","value":"60"}` {
		t.Fatalf("%+v", f)
	}

	var raw json.RawMessage
	if err := e.srv.Call(ctx, key, ActionGetConfiguration, &GetConfigurationReq{}, &raw); err != nil || !strings.Contains(string(raw), "HeartbeatInterval") {
		t.Fatal(string(raw), err)
	}
	<-seen

	// The charger's CALLERROR comes back as a *CallError.
	err := e.srv.Call(ctx, key, ActionReset, &ResetReq{Type: ResetSoft}, &ResetConf{})
	var ce *CallError
	if !errors.As(err, &ce) || ce.Code != NotSupported || ce.Description != "no resets today" || string(ce.Details) != `{"why":"policy"}` {
		t.Fatal(err)
	}
	<-seen

	// An answer that breaks the schema, or is not a valid frame.
	if err := e.srv.Call(ctx, key, ActionUnlockConnector, &UnlockConnectorReq{ConnectorId: 1}, &UnlockConnectorConf{}); !errors.Is(err, ErrInvalidConfirmation) || !strings.Contains(err.Error(), "status") {
		t.Fatal(err)
	}
	<-seen
	if err := e.srv.Call(ctx, key, ActionTriggerMessage, &TriggerMessageReq{RequestedMessage: TriggerHeartbeat}, nil); !errors.Is(err, ErrInvalidConfirmation) {
		t.Fatal(err)
	}
	<-seen

	// A request that breaks the schema is not sent.
	if err := e.srv.Call(ctx, key, ActionReset, &ResetReq{Type: "Gentle"}, nil); !errors.Is(err, ErrInvalidRequest) {
		t.Fatal(err)
	}
	if err := e.srv.Call(ctx, key, "Fly", nil, nil); !errors.Is(err, ErrInvalidRequest) {
		t.Fatal(err)
	}

	// Timeout: distinct error, and also a DeadlineExceeded.
	tctx, tcancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err = e.srv.Call(tctx, key, ActionRemoteStopTransaction, &RemoteStopTransactionReq{TransactionId: 1}, nil)
	tcancel()
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	<-seen
	// The late answer is dropped; the next call works.
	mu.Lock()
	send(t, ws, `[3,"`+lateID+`",{"status":"Accepted"}]`)
	mu.Unlock()
	if err := e.srv.Call(ctx, key, ActionChangeConfiguration, &ChangeConfigurationReq{Key: "k", Value: "v"}, &cc); err != nil {
		t.Fatal(err)
	}
	<-seen

	// Not connected.
	if err := e.srv.Call(ctx, StationKey{"t1", "s-CP2"}, ActionReset, &ResetReq{Type: ResetSoft}, nil); !errors.Is(err, ErrNotConnected) {
		t.Fatal(err)
	}
	// A cancelled context is not a timeout.
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	if err := e.srv.Call(cctx, key, ActionRemoteStopTransaction, &RemoteStopTransactionReq{TransactionId: 1}, nil); !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatal(err)
	}
}

// TestServerCallOneAtATime: concurrent Calls to one charger are sent one
// after the other, each after the previous answer.
func TestServerCallOneAtATime(t *testing.T) {
	e := newEnv(t)
	ws := e.connect(t, "CP1")
	key := StationKey{"t1", "s-CP1"}
	var outstanding, maxOutstanding atomic.Int32
	release := make(chan string, 10)
	seen := answerCalls(ws, func(f Frame) string {
		n := outstanding.Add(1)
		if n > maxOutstanding.Load() {
			maxOutstanding.Store(n)
		}
		release <- f.UniqueID
		return ""
	})
	go func() {
		for id := range release {
			time.Sleep(10 * time.Millisecond)
			outstanding.Add(-1)
			ws.Write(context.Background(), websocket.MessageText, []byte(`[3,"`+id+`",{"status":"Accepted"}]`))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conf ResetConf
			if err := e.srv.Call(ctx, key, ActionReset, &ResetReq{Type: ResetSoft}, &conf); err != nil || conf.Status != ResetAccepted {
				errs <- fmt.Errorf("call %d: %v %v", i, conf, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if maxOutstanding.Load() != 1 || len(seen) != 5 {
		t.Fatalf("max outstanding %d, seen %d", maxOutstanding.Load(), len(seen))
	}
}

// TestReconnectReplaces: a new connection for the same station replaces
// the old one, which is closed with a reason.
func TestReconnectReplaces(t *testing.T) {
	e := newEnv(t)
	old := e.connect(t, "CP1")
	if f := roundTrip(t, old, `[2,"1","Heartbeat",{}]`); f.Type != TypeCallResult {
		t.Fatal(f)
	}
	oldConn := e.srv.Conn(StationKey{"t1", "s-CP1"})
	fresh := e.connect(t, "CP1")

	_, _, err := old.Read(context.Background())
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "replaced by a new connection") {
		t.Fatal(err)
	}
	select {
	case d := <-e.disconnectCh:
		if d != oldConn || !d.Replaced() {
			t.Fatal("OnDisconnect of the wrong conn, or not marked replaced")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no OnDisconnect")
	}
	newConn := e.srv.Conn(StationKey{"t1", "s-CP1"})
	if newConn == nil || newConn == oldConn || newConn.Replaced() || e.srv.Len() != 1 {
		t.Fatal("registry")
	}
	// Calls go to the new connection.
	answerCalls(fresh, func(f Frame) string { return `[3,"` + f.UniqueID + `",{"status":"Accepted"}]` })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Call(ctx, StationKey{"t1", "s-CP1"}, ActionRemoteStopTransaction, &RemoteStopTransactionReq{TransactionId: 3}, nil); err != nil {
		t.Fatal(err)
	}

	// Disconnect closes with the caller's reason.
	other := e.connect(t, "CP2")
	if !e.srv.Disconnect(StationKey{"t1", "s-CP2"}, "station deleted") || e.srv.Disconnect(StationKey{"t1", "nope"}, "x") {
		t.Fatal("Disconnect")
	}
	_, _, err = other.Read(context.Background())
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "station deleted") {
		t.Fatal(err)
	}
}

// TestOrdering: CALLs a (misbehaving) charger sends without waiting are
// handled one at a time, in order, each answered once; and while a
// handler runs, the connection still reads the answers to Calls.
func TestOrdering(t *testing.T) {
	e := newEnv(t)
	e.h.hold = make(chan struct{})
	e.h.started = make(chan struct{}, 1)
	ws := e.connect(t, "CP1")
	send(t, ws, `[2,"s","StartTransaction",{"connectorId":1,"idTag":"T","meterStart":5,"timestamp":"2024-01-01T00:00:00Z"}]`)
	<-e.h.started
	for i := range 10 {
		send(t, ws, fmt.Sprintf(`[2,"%d","StatusNotification",{"connectorId":%d,"errorCode":"NoError","status":"Charging"}]`, i, i))
	}
	// The handler is held: a Call to the charger still gets its answer.
	key := StationKey{"t1", "s-CP1"}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- e.srv.Call(ctx, key, ActionRemoteStopTransaction, &RemoteStopTransactionReq{TransactionId: 5}, nil)
	}()
	f := recv(t, ws)
	if f.Type != TypeCall || f.Action != ActionRemoteStopTransaction {
		t.Fatalf("%+v", f)
	}
	send(t, ws, `[3,"`+f.UniqueID+`",{"status":"Accepted"}]`)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(e.h.hold)
	if f := recv(t, ws); f.UniqueID != "s" || f.Type != TypeCallResult {
		t.Fatalf("%+v", f)
	}
	for i := range 10 {
		if f := recv(t, ws); f.UniqueID != fmt.Sprint(i) || f.Type != TypeCallResult {
			t.Fatalf("answer %d: %+v", i, f)
		}
	}
	calls := e.h.Calls()
	if len(calls) != 11 || calls[0] != "StartTransaction T" {
		t.Fatal(calls)
	}
	e.h.mu.Lock()
	defer e.h.mu.Unlock()
	if e.h.maxInFlight != 1 {
		t.Fatalf("%d handlers ran at once on one connection", e.h.maxInFlight)
	}
}

func TestReadLimit(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.ReadLimit = 1024 })
	ws := e.connect(t, "CP1")
	big := `[2,"big","DataTransfer",{"vendorId":"v","data":"` + strings.Repeat("x", 2000) + `"}]`
	ctx := context.Background()
	if err := ws.Write(ctx, websocket.MessageText, []byte(big)); err != nil {
		t.Fatal(err)
	}
	_, _, err := ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatal(err)
	}
	// Below the limit is fine on a new connection.
	ws = e.connect(t, "CP1")
	if f := roundTrip(t, ws, `[2,"ok","DataTransfer",{"vendorId":"v","data":"`+strings.Repeat("x", 900)+`"}]`); f.Type != TypeCallResult {
		t.Fatal(f)
	}
}

func TestKeepalive(t *testing.T) {
	e := newEnv(t, func(s *Server) {
		s.PingInterval = 40 * time.Millisecond
		s.PongTimeout = 100 * time.Millisecond
	})
	// A client that reads answers pings and stays connected.
	alive := e.connect(t, "CP1")
	go func() {
		for {
			if _, _, err := alive.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	// A client that never reads never answers a ping.
	deaf := e.connect(t, "CP2")
	_ = deaf
	select {
	case d := <-e.disconnectCh:
		if d.Identity().ChargePointID != "CP2" {
			t.Fatal("closed the live one")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("silent connection not closed")
	}
	time.Sleep(200 * time.Millisecond)
	if e.srv.Conn(StationKey{"t1", "s-CP1"}) == nil {
		t.Fatal("live connection closed")
	}
}

// TestShutdown: Shutdown lets the running handler answer, closes with
// "going away", refuses new connections, and waits.
func TestShutdown(t *testing.T) {
	e := newEnv(t)
	e.h.hold = make(chan struct{})
	e.h.started = make(chan struct{}, 1)
	ws := e.connect(t, "CP1")
	idle := e.connect(t, "CP2")
	send(t, ws, `[2,"s","StartTransaction",{"connectorId":1,"idTag":"T","meterStart":5,"timestamp":"2024-01-01T00:00:00Z"}]`)
	<-e.h.started

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- e.srv.Shutdown(ctx)
	}()
	// The idle connection goes away at once.
	if _, _, err := idle.Read(context.Background()); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatal(err)
	}
	select {
	case err := <-shut:
		t.Fatalf("returned while a handler runs: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	// New connections are refused.
	_, resp, err := e.dial(context.Background(), "CP1", basic("CP1", "secret-CP1"), "ocpp1.6")
	if err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatal(resp, err)
	}
	close(e.h.hold)
	if f := recv(t, ws); f.UniqueID != "s" || f.Type != TypeCallResult {
		t.Fatalf("%+v", f)
	}
	if _, _, err := ws.Read(context.Background()); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatal(err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if e.srv.Len() != 0 {
		t.Fatal("connections left")
	}
}

// TestShutdownForced: a handler that does not return within the
// context's time is cancelled.
func TestShutdownForced(t *testing.T) {
	e := newEnv(t)
	e.h.hold = make(chan struct{}) // never closed
	e.h.started = make(chan struct{}, 1)
	ws := e.connect(t, "CP1")
	send(t, ws, `[2,"s","StartTransaction",{"connectorId":1,"idTag":"T","meterStart":5,"timestamp":"2024-01-01T00:00:00Z"}]`)
	select {
	case <-e.h.started:
	case <-time.After(5 * time.Second):
		e.mu.Lock()
		t.Fatalf("not started; disconnects: %v", e.disconnectErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := e.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if _, _, err := ws.Read(context.Background()); err == nil {
		t.Fatal("still open")
	}
}

// TestFrameRightAfterHandshake: a charger that sends its first frame in
// the same packet as the upgrade request is understood (the bytes
// net/http buffered are handed over to the WebSocket).
func TestFrameRightAfterHandshake(t *testing.T) {
	e := newEnv(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.hs.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	payload := []byte(`[2,"early","Heartbeat",{}]`)
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | byte(len(payload)), mask[0], mask[1], mask[2], mask[3]}
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	req := "GET /ocpp/CP1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n" +
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("CP1:secret-CP1")) + "\r\n\r\n"
	if _, err := conn.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatal(resp, err)
	}
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(br, hdr); err != nil || hdr[0] != 0x81 {
		t.Fatal(hdr, err)
	}
	body := make([]byte, hdr[1]&0x7f)
	if _, err := io.ReadFull(br, body); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(body), `[3,"early",{"currentTime":`) {
		t.Fatal(string(body))
	}
}

// afterRecorder asks the charger for its configuration once its
// BootNotification has been answered.
type afterRecorder struct{ recorder }

func (a *afterRecorder) BootNotification(ctx context.Context, c *Conn, req *BootNotificationReq) (*BootNotificationConf, error) {
	c.AfterAnswer(func() {
		go func() {
			var conf GetConfigurationConf
			_ = c.Call(c.Context(), ActionGetConfiguration, &GetConfigurationReq{}, &conf)
		}()
	})
	return a.recorder.BootNotification(ctx, c, req)
}

// TestAfterAnswer: what a handler schedules with AfterAnswer reaches the
// charger after the answer, never before it, every time.
func TestAfterAnswer(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.Handler = &afterRecorder{} })
	ws := e.connect(t, "CP1")
	for i := range 20 {
		send(t, ws, fmt.Sprintf(`[2,"b%d","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]`, i))
		if f := recv(t, ws); f.Type != TypeCallResult || f.UniqueID != fmt.Sprintf("b%d", i) {
			t.Fatalf("boot %d: first frame %+v, want the boot's CALLRESULT", i, f)
		}
		f := recv(t, ws)
		if f.Type != TypeCall || f.Action != ActionGetConfiguration {
			t.Fatalf("boot %d: second frame %+v, want the server's GetConfiguration", i, f)
		}
		send(t, ws, fmt.Sprintf(`[3,%q,{"configurationKey":[]}]`, f.UniqueID))
	}
}
