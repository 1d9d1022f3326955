package mail_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/api"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/mail"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/payment"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/sandbox"
	"github.com/evbill/evbill/storetest"
)

// smtpUser and smtpPassword are what the test server's AUTH PLAIN takes.
const (
	smtpUser     = "evbill"
	smtpPassword = "s3cret"
	fromAddress  = "Receipts <receipts@charge.example>"
)

// received is one message the test server took.
type received struct {
	From string
	To   []string
	Data []byte
}

// smtpServer is an in-process SMTP server on 127.0.0.1 (go-smtp), without
// TLS, asking for AUTH PLAIN. It keeps what it is given, and refuses on
// demand: the next refuse messages get a 451 at DATA, and recipients in
// bounce a 550 at RCPT TO.
type smtpServer struct {
	addr   string
	mu     sync.Mutex
	got    []received
	refuse atomic.Int32
	bounce map[string]bool
}

func newSMTPServer(t *testing.T) *smtpServer {
	t.Helper()
	s := &smtpServer{bounce: map[string]bool{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: s}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// config is the Sender's configuration for the server.
func (s *smtpServer) config(t *testing.T) mail.Config {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.addr)
	env := map[string]string{"EVBILL_SMTP_HOST": host, "EVBILL_SMTP_PORT": port, "EVBILL_SMTP_TLS": "none",
		"EVBILL_SMTP_USERNAME": smtpUser, "EVBILL_SMTP_PASSWORD": smtpPassword, "EVBILL_SMTP_FROM": fromAddress}
	cfg, err := mail.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 10 * time.Second
	return cfg
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

type smtpSession struct {
	srv    *smtpServer
	authed bool
	from   string
	to     []string
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != smtpUser || pass != smtpPassword {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !ss.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.srv.mu.Lock()
	bounce := ss.srv.bounce[to]
	ss.srv.mu.Unlock()
	if bounce {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.srv.refuse.Add(-1) >= 0 {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	ss.srv.mu.Lock()
	ss.srv.got = append(ss.srv.got, received{From: ss.from, To: ss.to, Data: b})
	ss.srv.mu.Unlock()
	return nil
}

func (ss *smtpSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *smtpSession) Logout() error { return nil }

// parsed is a received receipt email taken apart.
type parsed struct {
	Header netmail.Header
	Text   string
	HTML   string
	PDF    []byte
	Name   string // the attachment's file name
}

func parse(t *testing.T, m received) parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	p := parsed{Header: msg.Header}
	var walk func(ct string, body io.Reader, enc string)
	walk = func(ct string, body io.Reader, enc string) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("Content-Type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				part, err := mr.NextPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(part.Header.Get("Content-Type"), part, part.Header.Get("Content-Transfer-Encoding"))
				if mt == "multipart/mixed" && part.FileName() != "" {
					p.Name = part.FileName()
				}
			}
		}
		if strings.EqualFold(enc, "base64") {
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		switch mt {
		case "text/plain":
			p.Text = string(b)
		case "text/html":
			p.HTML = string(b)
		case "application/pdf":
			p.PDF = b
		}
	}
	walk(msg.Header.Get("Content-Type"), msg.Body, msg.Header.Get("Content-Transfer-Encoding"))
	return p
}

// pdfText returns the PDF's content streams, inflated: the page's text
// operators, where the core fonts' strings are written as they are.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	var out strings.Builder
	rest := pdf
	for {
		i := bytes.Index(rest, []byte("stream\n"))
		if i < 0 {
			return out.String()
		}
		rest = rest[i+len("stream\n"):]
		j := bytes.Index(rest, []byte("endstream"))
		if j < 0 {
			t.Fatal("a PDF stream without its end")
		}
		if zr, err := zlib.NewReader(bytes.NewReader(rest[:j])); err == nil {
			b, _ := io.ReadAll(zr)
			out.Write(b)
		} else {
			out.Write(rest[:j])
		}
		rest = rest[j+len("endstream"):]
	}
}

// pdfJoined returns the text of every string the page shows, unescaped
// and joined without separators: a record broken over lines reads whole.
func pdfJoined(page string) string {
	var out strings.Builder
	for _, m := range tjString.FindAllStringSubmatch(page, -1) {
		out.WriteString(strings.NewReplacer(`\\`, `\`, `\(`, "(", `\)`, ")").Replace(m[1]))
	}
	return out.String()
}

var tjString = regexp.MustCompile(`\(((?:[^()\\]|\\.)*)\)\s*Tj`)

const stationPassword = "mail-test-password"

// world is a tenant with a station CP-M at a site in Amsterdam under the
// example tariff, the OCPP central system over a store of its own, and
// drivers: CARD1 pays by card (sandbox) and has an address, NOMAIL has
// none, GUEST is a token of no driver.
type world struct {
	store   storetest.FullStore
	tenant  evbill.Tenant
	station evbill.Station
	driver  evbill.Driver
	url     string
	api     http.Handler // the operator API over the same store
	apiKey  string
	pay     *payment.Worker
	smtp    *smtpServer
	// clock is the mail workers' time.
	clock atomic.Pointer[time.Time]
}

func (w *world) now() time.Time { return *w.clock.Load() }

func (w *world) advance(d time.Duration) {
	t := w.now().Add(d)
	w.clock.Store(&t)
}

func newWorld(t *testing.T, st storetest.FullStore) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{store: st, smtp: newSMTPServer(t)}
	now := time.Now()
	w.clock.Store(&now)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	w.tenant = evbill.Tenant{Name: "Example Charging " + strconv.FormatInt(time.Now().UnixNano(), 36)}
	must(st.CreateTenant(ctx, &w.tenant))
	site := evbill.Site{TenantID: w.tenant.ID, Name: "Centraal", Address: "Stationsplein 1", PostalCode: "1012 AB",
		City: "Amsterdam", Country: "NL", TimeZone: "Europe/Amsterdam"}
	must(st.CreateSite(ctx, &site))
	w.station = evbill.Station{TenantID: w.tenant.ID, SiteID: site.ID, ChargePointID: "CP-M", Vendor: "ABL", Model: "eMH3"}
	must(st.CreateStation(ctx, &w.station))
	hash, err := auth.HashPassword(stationPassword)
	must(err)
	must(st.SetStationPassword(ctx, w.tenant.ID, w.station.ID, hash))
	must(st.CreateConnector(ctx, &evbill.Connector{TenantID: w.tenant.ID, StationID: w.station.ID, ConnectorNumber: 1,
		Standard: "IEC_62196_T2", PowerType: "AC_3_PHASE", MaxPowerKW: "22"}))
	doc, err := os.ReadFile("../examples/tariff.json")
	must(err)
	tf := evbill.TariffVersion{TenantID: w.tenant.ID, Currency: "EUR", Document: doc}
	must(st.CreateTariff(ctx, &tf))
	must(st.CreateAssignment(ctx, &evbill.TariffAssignment{TenantID: w.tenant.ID, TariffID: tf.TariffID, SiteID: site.ID}))

	ps := st.(evbill.PaymentStore)
	w.driver = evbill.Driver{TenantID: w.tenant.ID, Name: "Anna de Vries", Email: "anna@example.org"}
	must(st.CreateDriver(ctx, &w.driver))
	must(ps.SetPaymentMethod(ctx, &evbill.PaymentMethod{TenantID: w.tenant.ID, DriverID: w.driver.ID, PayBy: evbill.PayByCard,
		Gateway: "sandbox", Card: sandbox.CardSucceeds}))
	must(st.CreateToken(ctx, &evbill.Token{TenantID: w.tenant.ID, UID: "CARD1", Type: "RFID", DriverID: w.driver.ID, Status: evbill.TokenAccepted}))
	noMail := evbill.Driver{TenantID: w.tenant.ID, Name: "No Mail"}
	must(st.CreateDriver(ctx, &noMail))
	must(st.CreateToken(ctx, &evbill.Token{TenantID: w.tenant.ID, UID: "NOMAIL", Type: "RFID", DriverID: noMail.ID, Status: evbill.TokenAccepted}))
	bounce := evbill.Driver{TenantID: w.tenant.ID, Name: "Gone Away", Email: "gone@example.org"}
	must(st.CreateDriver(ctx, &bounce))
	must(st.CreateToken(ctx, &evbill.Token{TenantID: w.tenant.ID, UID: "BOUNCE", Type: "RFID", DriverID: bounce.ID, Status: evbill.TokenAccepted}))
	w.smtp.bounce["gone@example.org"] = true
	must(st.CreateToken(ctx, &evbill.Token{TenantID: w.tenant.ID, UID: "GUEST", Type: "RFID", Status: evbill.TokenAccepted}))

	sbx, err := sandbox.New(sandbox.Config{})
	must(err)
	w.pay = &payment.Worker{Store: ps, Gateways: map[string]evbill.Gateway{"sandbox": sbx}}
	resolver := pricing.NewResolver(st)
	svc := charging.NewService(charging.Config{Store: st, Resolver: resolver, Payments: ps})
	central := &ocpp.Server{Authenticate: svc.Authenticate, Handler: svc}
	w.api, err = api.New(api.Config{Store: st, Charging: svc, Chargers: central, Resolver: resolver, Registry: prometheus.NewRegistry()})
	must(err)
	secret, prefix, keyHash := auth.NewAPIKey()
	must(st.CreateAPIKey(ctx, &evbill.APIKey{TenantID: w.tenant.ID, Name: "test", Role: evbill.RoleReadonly, Prefix: prefix}, keyHash))
	w.apiKey = secret
	hs := httptest.NewServer(central)
	t.Cleanup(func() {
		hs.Close()
		_ = central.Shutdown(context.Background())
		svc.Close()
	})
	w.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/ocpp/CP-M"
	return w
}

// worker is a mail worker of the world, sending to its SMTP server (nil
// sender: SMTP off).
func (w *world) worker(t *testing.T, sender *mail.Sender) *mail.Worker {
	t.Helper()
	return &mail.Worker{Store: w.store.(mail.Store), Sender: sender, Now: w.now}
}

func (w *world) sender(t *testing.T) *mail.Sender {
	t.Helper()
	s, err := mail.NewSender(w.smtp.config(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// settle runs the payment worker until no payment moves: holds placed,
// captures made.
func (w *world) settle(t *testing.T) {
	t.Helper()
	for range 10 {
		n, err := w.pay.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func round(t *testing.T, wk *mail.Worker) mail.Round {
	t.Helper()
	r, err := wk.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// idle reports whether a round did nothing but read events (the
// payment worker's, say).
func idle(r mail.Round) bool { return r.Added+r.Sent+r.Skipped+r.Failed+r.Retried+r.Waiting == 0 }

// charger is an OCPP 1.6J charge point that sends CALLs one at a time and
// answers the central system's CALLs with Accepted.
type charger struct {
	t    *testing.T
	c    *websocket.Conn
	next int
	res  chan []json.RawMessage
}

func (w *world) dial(t *testing.T) *charger {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("CP-M:"+stationPassword)))
	c, _, err := websocket.Dial(ctx, w.url, &websocket.DialOptions{Subprotocols: []string{"ocpp1.6"}, HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	ch := &charger{t: t, c: c, res: make(chan []json.RawMessage, 8)}
	go func() {
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var f []json.RawMessage
			if json.Unmarshal(b, &f) != nil || len(f) < 3 {
				continue
			}
			if string(f[0]) == "2" {
				_ = c.Write(context.Background(), websocket.MessageText, fmt.Appendf(nil, `[3,%s,{"status":"Accepted"}]`, f[1]))
				continue
			}
			ch.res <- f
		}
	}()
	t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	return ch
}

func (ch *charger) call(action string, v any) map[string]any {
	ch.t.Helper()
	payload, err := json.Marshal(v)
	if err != nil {
		ch.t.Fatal(err)
	}
	ch.next++
	if err := ch.c.Write(context.Background(), websocket.MessageText, fmt.Appendf(nil, `[2,"m%d",%q,%s]`, ch.next, action, payload)); err != nil {
		ch.t.Fatal(err)
	}
	select {
	case f := <-ch.res:
		if string(f[0]) != "3" {
			ch.t.Fatalf("%s: CALLERROR %s", action, f)
		}
		var out map[string]any
		_ = json.Unmarshal(f[2], &out)
		return out
	case <-time.After(60 * time.Second):
		ch.t.Fatalf("%s: no answer", action)
	}
	return nil
}

func reading(at time.Time, wh int64, context ocpp.ReadingContext, signed string) ocpp.MeterValue {
	mv := ocpp.MeterValue{Timestamp: at, SampledValue: []ocpp.SampledValue{
		{Value: strconv.FormatInt(wh, 10), Context: context, Measurand: ocpp.MeasurandEnergyActiveImportRegister, Unit: ocpp.UnitWh}}}
	if signed != "" {
		mv.SampledValue = append(mv.SampledValue, ocpp.SampledValue{Value: signed, Context: context, Format: ocpp.FormatSignedData,
			Measurand: ocpp.MeasurandEnergyActiveImportRegister})
	}
	return mv
}

// session charges idTag for an hour from start (12.5 kWh) and returns the
// CDR. begin and end are signed records of the start and stop readings,
// "" for none.
func (w *world) session(t *testing.T, ch *charger, idTag string, start time.Time, begin, end string) evbill.CDR {
	t.Helper()
	ans := ch.call("StartTransaction", ocpp.StartTransactionReq{ConnectorId: 1, IdTag: idTag, MeterStart: 1000, Timestamp: start})
	if info, _ := ans["idTagInfo"].(map[string]any); info["status"] != "Accepted" {
		t.Fatalf("StartTransaction of %s: %v", idTag, ans)
	}
	tx := int(ans["transactionId"].(float64))
	if begin != "" {
		ch.call("MeterValues", ocpp.MeterValuesReq{ConnectorId: 1, TransactionId: &tx,
			MeterValue: []ocpp.MeterValue{reading(start, 1000, ocpp.ContextTransactionBegin, begin)}})
	}
	ch.call("MeterValues", ocpp.MeterValuesReq{ConnectorId: 1, TransactionId: &tx,
		MeterValue: []ocpp.MeterValue{reading(start.Add(30*time.Minute), 7000, ocpp.ContextSamplePeriodic, "")}})
	stop := start.Add(time.Hour)
	ch.call("StopTransaction", ocpp.StopTransactionReq{TransactionId: tx, MeterStop: 13500, Timestamp: stop, Reason: ocpp.ReasonEVDisconnected,
		TransactionData: []ocpp.MeterValue{reading(stop, 13500, ocpp.ContextTransactionEnd, end)}})
	ctx := context.Background()
	sess, err := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.store.CDRBySession(ctx, w.tenant.ID, sess.ID)
	if err != nil {
		t.Fatalf("no CDR: %v", err)
	}
	return c
}

// apiReceipt returns the receipt the operator API serves for the CDR, as
// JSON.
func (w *world) apiReceipt(t *testing.T, cdrID string) []byte {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/cdrs/"+cdrID+"/receipt", nil)
	req.Header.Set("Authorization", "Bearer "+w.apiKey)
	rec := httptest.NewRecorder()
	w.api.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET receipt: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// emailOf returns the receipt email of the CDR.
func (w *world) emailOf(t *testing.T, c evbill.CDR) evbill.ReceiptEmail {
	t.Helper()
	e, err := w.store.(evbill.ReceiptEmailStore).ReceiptEmail(context.Background(), w.tenant.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
