package mail_test

import (
	"context"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/internal/meter"
	"github.com/evbill/evbill/internal/receiptload"
	"github.com/evbill/evbill/mail"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/storetest"
)

// start is 10:15 in Amsterdam.
var start = time.Date(2027, 3, 12, 9, 15, 0, 0, time.UTC)

// TestReceiptEmail charges a card driver whose charger signs its
// readings, and follows the receipt email: it waits for the payment's
// capture, then goes out once to the driver, as text and HTML with the
// PDF attached, through AUTH PLAIN, with a Message-ID made of the CDR's.
// The email, the HTML and the PDF show the receipt's total and the OCMF
// records as the meter signed them.
func TestReceiptEmail(t *testing.T) {
	for _, eng := range storetest.Engines(t) {
		t.Run(eng.Name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t, eng.Open(t))
			m, err := meter.New(elliptic.P256(), "MTR-M1")
			if err != nil {
				t.Fatal(err)
			}
			w.station.MeterPublicKey = m.PublicKeyHex()
			if err := w.store.UpdateStation(ctx, &w.station); err != nil {
				t.Fatal(err)
			}
			wk := w.worker(t, w.sender(t))
			if r := round(t, wk); !idle(r) {
				t.Fatalf("a first round on an empty outbox: %+v", r)
			}

			ch := w.dial(t)
			ch.call("BootNotification", ocpp.BootNotificationReq{ChargePointVendor: "ABL", ChargePointModel: "eMH3"})
			begin, err := m.Reading(meter.Begin, start, 1000, "CARD1")
			if err != nil {
				t.Fatal(err)
			}
			end, err := m.Reading(meter.End, start.Add(time.Hour), 13500, "CARD1")
			if err != nil {
				t.Fatal(err)
			}
			c := w.session(t, ch, "CARD1", start, begin, end)

			// The payment is not captured yet: the receipt waits for it.
			if r := round(t, wk); r.Added != 1 || r.Waiting != 1 || r.Sent != 0 {
				t.Fatalf("round before the capture: %+v", r)
			}
			if e := w.emailOf(t, c); e.State != evbill.ReceiptEmailPending || e.Attempts != 0 {
				t.Fatalf("waiting email: %+v", e)
			}
			w.settle(t)
			if r := round(t, wk); r.Sent != 0 {
				t.Fatalf("sent before it was due again: %+v", r)
			}
			w.advance(11 * time.Second)
			if r := round(t, wk); r.Sent != 1 {
				t.Fatalf("round after the capture: %+v", r)
			}

			msgs := w.smtp.messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages, want 1", len(msgs))
			}
			if msgs[0].From != "receipts@charge.example" || len(msgs[0].To) != 1 || msgs[0].To[0] != "anna@example.org" {
				t.Errorf("envelope from %s to %v", msgs[0].From, msgs[0].To)
			}
			got := parse(t, msgs[0])
			wantID := "<receipt." + c.ID + "@charge.example>"
			if id := got.Header.Get("Message-Id"); id != wantID {
				t.Errorf("Message-ID %q, want %q", id, wantID)
			}
			if to := got.Header.Get("To"); !strings.Contains(to, "Anna de Vries") || !strings.Contains(to, "<anna@example.org>") {
				t.Errorf("To %q", to)
			}
			if s := got.Header.Get("Subject"); s != "Your charging receipt: Centraal, 12 Mar 2027" {
				t.Errorf("Subject %q", s)
			}
			if a := got.Header.Get("Auto-Submitted"); a != "auto-generated" {
				t.Errorf("Auto-Submitted %q", a)
			}

			r, err := (&receiptload.Loader{Records: w.store, Sessions: w.store, Payments: w.store.(evbill.PaymentStore)}).Receipt(ctx, w.tenant.ID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			// The email shows the receipt the API serves.
			var fromAPI, loaded any
			b, _ := json.Marshal(r)
			if err := json.Unmarshal(b, &loaded); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(w.apiReceipt(t, c.ID), &fromAPI); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(loaded, fromAPI) {
				t.Errorf("the loaded receipt is not the API's:\n%s\n%s", b, w.apiReceipt(t, c.ID))
			}
			if r.Total.InclVAT != c.TotalInclVAT || r.Payment == nil || r.Payment.State != evbill.PaymentCaptured || r.Signed.Status != "verified" {
				t.Fatalf("the receipt: total %s (CDR %s), payment %+v, ocmf %s", r.Total.InclVAT, c.TotalInclVAT, r.Payment, r.Signed.Status)
			}
			for _, want := range []string{
				"Example Charging", "Centraal, Stationsplein 1, 1012 AB Amsterdam, NL", "CP-M (ABL eMH3), connector 1 (IEC_62196_T2, AC_3_PHASE, 22 kW)",
				"Fri 12 Mar 2027, 10:15 CET", "Fri 12 Mar 2027, 11:15 CET", "Europe/Amsterdam", "1 h 00 min", "12.5 kWh",
				"Total:      " + r.Total.ExclVAT + " excl. VAT / " + r.Total.InclVAT + " incl. VAT EUR",
				"Amount charged: " + r.Charge.Amount + " EUR (net " + r.Charge.Net + ", VAT " + r.Charge.VAT + ")",
				"Paid by card (sandbox): " + r.Payment.Captured + " EUR",
				"Signed meter values (OCMF): verified", "match the energy billed (12500 Wh)", m.PublicKeyHex(), begin, end, c.ID,
			} {
				if !strings.Contains(got.Text, want) {
					t.Errorf("the text lacks %q:\n%s", want, got.Text)
				}
			}
			for _, want := range []string{r.Total.InclVAT, "Amount charged: " + r.Charge.Amount + " EUR", "Fri 12 Mar 2027, 10:15 CET", "verified"} {
				if !strings.Contains(got.HTML, want) {
					t.Errorf("the HTML lacks %q", want)
				}
			}
			if got.Name != "receipt-"+c.ID+".pdf" || !strings.HasPrefix(string(got.PDF), "%PDF-") {
				t.Fatalf("attachment %q of %d bytes starting %q", got.Name, len(got.PDF), got.PDF[:min(8, len(got.PDF))])
			}
			page := pdfText(t, got.PDF)
			for _, want := range []string{"(" + r.Total.InclVAT + ")", "(" + r.Total.ExclVAT + ")", "(Amount charged: " + r.Charge.Amount + " EUR)",
				"Fri 12 Mar 2027, 10:15 CET", "Example Charging", "(Signed meter values \\(OCMF\\): verified", "(" + begin[:100], "CDR " + c.ID} {
				if !strings.Contains(page, want) {
					t.Errorf("the PDF's page lacks %q", want)
				}
			}
			if joined := pdfJoined(page); !strings.Contains(joined, begin) || !strings.Contains(joined, end) || !strings.Contains(joined, m.PublicKeyHex()) {
				t.Errorf("the PDF does not show the OCMF records and key exactly as signed:\n%s", joined)
			}
			if strings.Count(page, "Tj") < 20 {
				t.Errorf("the PDF's page has too little text:\n%s", page)
			}

			e := w.emailOf(t, c)
			if e.State != evbill.ReceiptEmailSent || e.Attempts != 1 || e.Recipient != "anna@example.org" ||
				e.MessageID != strings.Trim(wantID, "<>") || e.SentAt == nil || e.LastError != "" {
				t.Errorf("the email's record: %+v", e)
			}
			if r := round(t, wk); !idle(r) {
				t.Errorf("a round after: %+v", r)
			}
			if n := len(w.smtp.messages()); n != 1 {
				t.Errorf("%d messages after another round, want 1", n)
			}
		})
	}
}

// TestReceiptEmailRetried: a server that answers 451 gets the receipt
// again after the backoff; one that refuses the recipient with 550 fails
// the email at once.
func TestReceiptEmailRetried(t *testing.T) {
	for _, eng := range storetest.Engines(t) {
		t.Run(eng.Name, func(t *testing.T) {
			w := newWorld(t, eng.Open(t))
			wk := w.worker(t, w.sender(t))
			round(t, wk)
			ch := w.dial(t)
			c := w.session(t, ch, "CARD1", start, "", "")
			w.settle(t)

			w.smtp.refuse.Store(1)
			if r := round(t, wk); r.Retried != 1 {
				t.Fatalf("round against a 451: %+v", r)
			}
			e := w.emailOf(t, c)
			if e.State != evbill.ReceiptEmailPending || e.Attempts != 1 || !strings.Contains(e.LastError, "451") {
				t.Fatalf("after a 451: %+v", e)
			}
			if !e.NextAttemptAt.Equal(w.now().Truncate(time.Microsecond).Add(time.Minute)) {
				t.Errorf("next attempt %v, want a minute after %v", e.NextAttemptAt, w.now())
			}
			if r := round(t, wk); !idle(r) || len(w.smtp.messages()) != 0 {
				t.Fatalf("retried before the backoff: %+v", r)
			}
			w.advance(time.Minute)
			if r := round(t, wk); r.Sent != 1 {
				t.Fatalf("round after the backoff: %+v", r)
			}
			if e := w.emailOf(t, c); e.State != evbill.ReceiptEmailSent || e.Attempts != 2 {
				t.Errorf("after the retry: %+v", e)
			}
			if n := len(w.smtp.messages()); n != 1 {
				t.Errorf("%d messages, want 1", n)
			}

			gone := w.session(t, ch, "BOUNCE", start.Add(2*time.Hour), "", "")
			if r := round(t, wk); r.Failed != 1 {
				t.Fatalf("round against a 550: %+v", r)
			}
			if e := w.emailOf(t, gone); e.State != evbill.ReceiptEmailFailed || e.Attempts != 1 || !strings.Contains(e.LastError, "550") {
				t.Errorf("after a 550: %+v", e)
			}
			w.advance(24 * time.Hour)
			if r := round(t, wk); !idle(r) || len(w.smtp.messages()) != 1 {
				t.Errorf("a failed email was tried again: %+v", r)
			}
		})
	}
}

// TestReceiptEmailGivesUp: after MaxAttempts attempts the email fails.
func TestReceiptEmailGivesUp(t *testing.T) {
	w := newWorld(t, storetest.Engines(t)[0].Open(t))
	wk := w.worker(t, w.sender(t))
	wk.MaxAttempts = 3
	round(t, wk)
	c := w.session(t, w.dial(t), "CARD1", start, "", "")
	w.settle(t)
	w.smtp.refuse.Store(100)
	for i := range 3 {
		round(t, wk)
		w.advance(time.Duration(1<<i) * time.Minute)
	}
	if e := w.emailOf(t, c); e.State != evbill.ReceiptEmailFailed || e.Attempts != 3 || !strings.Contains(e.LastError, "451") {
		t.Errorf("after 3 refusals: %+v", e)
	}
}

// TestReceiptEmailSkipped: a driver without an address, a session without
// a driver, and any session while SMTP is off get no email, and a worker
// with SMTP on later does not send them.
func TestReceiptEmailSkipped(t *testing.T) {
	for _, eng := range storetest.Engines(t) {
		t.Run(eng.Name, func(t *testing.T) {
			w := newWorld(t, eng.Open(t))
			on, off := w.worker(t, w.sender(t)), w.worker(t, nil)
			round(t, on)
			ch := w.dial(t)
			noMail := w.session(t, ch, "NOMAIL", start, "", "")
			guest := w.session(t, ch, "GUEST", start.Add(2*time.Hour), "", "")
			if r := round(t, on); r.Skipped != 2 || r.Sent != 0 {
				t.Fatalf("round: %+v", r)
			}
			card := w.session(t, ch, "CARD1", start.Add(4*time.Hour), "", "")
			if r := round(t, off); r.Skipped != 1 {
				t.Fatalf("round with SMTP off: %+v", r)
			}
			for _, s := range []struct {
				c   evbill.CDR
				why string
			}{{noMail, "no email address"}, {guest, "no driver"}, {card, "SMTP is off"}} {
				if e := w.emailOf(t, s.c); e.State != evbill.ReceiptEmailSkipped || e.Attempts != 0 || !strings.Contains(e.LastError, s.why) {
					t.Errorf("%s: %+v", s.why, e)
				}
			}
			w.settle(t)
			w.advance(time.Hour)
			if r := round(t, on); !idle(r) || len(w.smtp.messages()) != 0 {
				t.Errorf("skipped emails were sent: %+v", r)
			}
		})
	}
}

// crashAfterSend is a store whose record of a sent email fails, as when
// the process dies between the server's acceptance and the commit.
type crashAfterSend struct{ mail.Store }

func (s crashAfterSend) RecordReceiptEmail(ctx context.Context, e *evbill.ReceiptEmail, res evbill.ReceiptEmailResult) error {
	if res.State == evbill.ReceiptEmailSent {
		return errors.New("crash")
	}
	return s.Store.RecordReceiptEmail(ctx, e, res)
}

// TestReceiptEmailRestart: a new worker over the same database sends
// nothing that was recorded sent, and takes up what the first left: the
// outbox after its cursor, and (once the lease lapses) an email sent but
// not recorded, which goes out again with the same Message-ID.
func TestReceiptEmailRestart(t *testing.T) {
	for _, eng := range storetest.Engines(t) {
		t.Run(eng.Name, func(t *testing.T) {
			w := newWorld(t, eng.Open(t))
			first := w.worker(t, w.sender(t))
			round(t, first)
			ch := w.dial(t)
			one := w.session(t, ch, "CARD1", start, "", "")
			w.settle(t)
			if r := round(t, first); r.Sent != 1 {
				t.Fatalf("first worker: %+v", r)
			}
			two := w.session(t, ch, "CARD1", start.Add(2*time.Hour), "", "")
			w.settle(t)

			// A restart: a new worker, the same database and consumer.
			second := w.worker(t, w.sender(t))
			if r := round(t, second); r.Added != 1 || r.Sent != 1 {
				t.Fatalf("second worker: %+v", r)
			}
			msgs := w.smtp.messages()
			if len(msgs) != 2 || parse(t, msgs[0]).Header.Get("Message-Id") != "<receipt."+one.ID+"@charge.example>" ||
				parse(t, msgs[1]).Header.Get("Message-Id") != "<receipt."+two.ID+"@charge.example>" {
				t.Fatalf("%d messages; want one per CDR, in order", len(msgs))
			}
			w.advance(time.Hour)
			if r := round(t, w.worker(t, w.sender(t))); !idle(r) {
				t.Errorf("a third worker: %+v", r)
			}

			// A crash between the server's acceptance and the record.
			three := w.session(t, ch, "CARD1", start.Add(4*time.Hour), "", "")
			w.settle(t)
			crashing := w.worker(t, w.sender(t))
			crashing.Store = crashAfterSend{w.store.(mail.Store)}
			if _, err := crashing.RunOnce(context.Background()); err == nil {
				t.Fatal("the crashing store's record did not fail")
			}
			if n := len(w.smtp.messages()); n != 3 {
				t.Fatalf("%d messages, want 3", n)
			}
			after := w.worker(t, w.sender(t))
			if r := round(t, after); !idle(r) {
				t.Fatalf("the email was taken within its lease: %+v", r)
			}
			w.advance(mail.DefaultLease)
			if r := round(t, after); r.Sent != 1 {
				t.Fatalf("after the lease: %+v", r)
			}
			msgs = w.smtp.messages()
			if len(msgs) != 4 || parse(t, msgs[2]).Header.Get("Message-Id") != parse(t, msgs[3]).Header.Get("Message-Id") {
				t.Errorf("the resent receipt must carry the first one's Message-ID")
			}
			if e := w.emailOf(t, three); e.State != evbill.ReceiptEmailSent || e.Attempts != 1 {
				t.Errorf("recorded: %+v", e)
			}
		})
	}
}

// TestReceiptEmailTwoWorkers: two workers over one database, running at
// once, mail each CDR once.
func TestReceiptEmailTwoWorkers(t *testing.T) {
	for _, eng := range storetest.Engines(t) {
		t.Run(eng.Name, func(t *testing.T) {
			w := newWorld(t, eng.Open(t))
			a, b := w.worker(t, w.sender(t)), w.worker(t, w.sender(t))
			round(t, a)
			ch := w.dial(t)
			var cdrs []evbill.CDR
			for i := range 4 {
				cdrs = append(cdrs, w.session(t, ch, "CARD1", start.Add(time.Duration(2*i)*time.Hour), "", ""))
			}
			w.settle(t)
			var wg sync.WaitGroup
			for _, wk := range []*mail.Worker{a, b, a, b} {
				wg.Go(func() {
					if _, err := wk.RunOnce(context.Background()); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			msgs := w.smtp.messages()
			ids := map[string]bool{}
			for _, m := range msgs {
				ids[parse(t, m).Header.Get("Message-Id")] = true
			}
			if len(msgs) != len(cdrs) || len(ids) != len(cdrs) {
				t.Errorf("%d messages with %d Message-IDs for %d CDRs", len(msgs), len(ids), len(cdrs))
			}
			for _, c := range cdrs {
				if e := w.emailOf(t, c); e.State != evbill.ReceiptEmailSent {
					t.Errorf("CDR %s: %+v", c.ID, e)
				}
			}
		})
	}
}
