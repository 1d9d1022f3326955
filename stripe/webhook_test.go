package stripe

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"
	"time"

	stripego "github.com/stripe/stripe-go/v82"

	"github.com/evbill/evbill"
)

const testWebhookSecret = "whsec_test_evbill"

// sign signs body the way Stripe does, independently of the code under
// test.
func sign(secret string, t time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", t.Unix())
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func signedHeader(value string) http.Header {
	h := http.Header{}
	if value != "" {
		h.Set("Stripe-Signature", value)
	}
	return h
}

func webhookGateway(t *testing.T, secret string) *Gateway {
	t.Helper()
	g, err := New(Config{SecretKey: "sk_test_x", WebhookSecret: secret, BackendURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSignatureMatchesStripeGo(t *testing.T) {
	at := time.Unix(1767225600, 0)
	body := []byte(`{"id":"evt_1"}`)
	if got, want := sign(testWebhookSecret, at, body), hex.EncodeToString(stripego.ComputeSignature(at, body, testWebhookSecret)); got != want {
		t.Fatalf("the test's signer disagrees with stripe-go: %s vs %s", got, want)
	}
}

func TestParseWebhookSignature(t *testing.T) {
	g := webhookGateway(t, testWebhookSecret)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"evt_1","object":"event","type":"payment_intent.succeeded","created":1772366400,
	 "data":{"object":{"id":"pi_1","object":"payment_intent","amount":2500,"amount_received":1830,"currency":"eur","status":"succeeded"}}}`)
	tampered := bytes.Replace(body, []byte(`1830`), []byte(`18300`), 1)
	good := sign(testWebhookSecret, now, body)
	ts := func(at time.Time) string { return fmt.Sprint(at.Unix()) }

	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		now    time.Time
		code   string // "" when accepted
	}{
		{"valid", "t=" + ts(now) + ",v1=" + good, body, now, ""},
		{"valid with spaces and a v0", "t=" + ts(now) + ", v0=deadbeef, v1=" + good, body, now, ""},
		{"signed 299 s before now", "t=" + ts(now.Add(-299*time.Second)) + ",v1=" + sign(testWebhookSecret, now.Add(-299*time.Second), body), body, now, ""},
		{"signed exactly 300 s before now", "t=" + ts(now.Add(-300*time.Second)) + ",v1=" + sign(testWebhookSecret, now.Add(-300*time.Second), body), body, now, ""},
		{"one of several v1 matches", "t=" + ts(now) + ",v1=" + sign("whsec_old", now, body) + ",v1=nothex,v1=" + good, body, now, ""},
		{"wrong secret", "t=" + ts(now) + ",v1=" + sign("whsec_other", now, body), body, now, "signature_invalid"},
		{"tampered body", "t=" + ts(now) + ",v1=" + good, tampered, now, "signature_invalid"},
		{"timestamp changed", "t=" + ts(now.Add(time.Second)) + ",v1=" + good, body, now, "signature_invalid"},
		{"signed 301 s before now", "t=" + ts(now.Add(-301*time.Second)) + ",v1=" + sign(testWebhookSecret, now.Add(-301*time.Second), body), body, now, "timestamp_out_of_tolerance"},
		{"replayed an hour later", "t=" + ts(now) + ",v1=" + good, body, now.Add(time.Hour), "timestamp_out_of_tolerance"},
		{"signed 301 s in the future", "t=" + ts(now.Add(301*time.Second)) + ",v1=" + sign(testWebhookSecret, now.Add(301*time.Second), body), body, now, "timestamp_out_of_tolerance"},
		{"missing header", "", body, now, "signature_missing"},
		{"no v1", "t=" + ts(now) + ",v0=" + good, body, now, "signature_header_invalid"},
		{"no timestamp", "v1=" + good, body, now, "signature_header_invalid"},
		{"bad timestamp", "t=yesterday,v1=" + good, body, now, "signature_header_invalid"},
		{"garbage", "garbage", body, now, "signature_header_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := g.ParseWebhook(signedHeader(tc.header), tc.body, tc.now)
			if tc.code != "" {
				outcome(t, err, evbill.OutcomeRejected, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.ID != "evt_1" || ev.Type != evbill.GatewayEventCaptured || ev.Amount != 1830 {
				t.Errorf("got %+v", ev)
			}
		})
	}
}

func TestParseWebhookWithoutSecretRejectsEverything(t *testing.T) {
	g := webhookGateway(t, "")
	now := time.Now()
	body := []byte(`{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}`)
	_, err := g.ParseWebhook(signedHeader("t="+fmt.Sprint(now.Unix())+",v1="+sign("", now, body)), body, now)
	outcome(t, err, evbill.OutcomeRejected, "webhook_secret_unset")
}

func TestParseWebhookSignedGarbage(t *testing.T) {
	g := webhookGateway(t, testWebhookSecret)
	now := time.Now()
	for _, body := range []string{`not json`, `{"object":"event"}`, `{"id":"evt_1","type":"charge.refunded","data":{"object":{"amount":"ten"}}}`} {
		h := signedHeader("t=" + fmt.Sprint(now.Unix()) + ",v1=" + sign(testWebhookSecret, now, []byte(body)))
		_, err := g.ParseWebhook(h, []byte(body), now)
		outcome(t, err, evbill.OutcomeRejected, "payload_invalid")
	}
}

func TestParseWebhookEvents(t *testing.T) {
	g := webhookGateway(t, testWebhookSecret)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	created := time.Unix(1772366000, 0).UTC()
	ev := func(typ, object, previous string) []byte {
		if previous == "" {
			previous = "null"
		}
		return []byte(fmt.Sprintf(`{"id":"evt_x","object":"event","api_version":"2025-08-27.basil","type":%q,"created":%d,"livemode":false,
		 "data":{"object":%s,"previous_attributes":%s}}`, typ, created.Unix(), object, previous))
	}
	const (
		pi = `{"id":"pi_1","object":"payment_intent","amount":2500,"amount_capturable":2500,"amount_received":%d,"currency":"eur","status":%q,"cancellation_reason":%s}`
		ch = `{"id":"ch_1","object":"charge","amount":1830,"amount_captured":1830,"amount_refunded":%d,"currency":"eur","payment_intent":%s,"refunded":false}`
		re = `{"id":"re_1","object":"refund","amount":500,"currency":"eur","payment_intent":"pi_1","charge":"ch_1","status":%q}`
		dp = `{"id":"dp_1","object":"dispute","amount":1830,"currency":"eur","charge":"ch_1","payment_intent":"pi_1","status":%q,"reason":"fraudulent"}`
	)
	type want struct {
		typ, ref string
		amount   int64
		dispute  string
	}
	ignored := want{typ: evbill.GatewayEventIgnored}
	for _, tc := range []struct {
		name string
		body []byte
		want want
	}{
		{"hold authorized", ev("payment_intent.amount_capturable_updated", fmt.Sprintf(pi, 0, "requires_capture", "null"), ""), ignored},
		{"created", ev("payment_intent.created", fmt.Sprintf(pi, 0, "requires_payment_method", "null"), ""), ignored},
		{"captured", ev("payment_intent.succeeded", fmt.Sprintf(pi, 1830, "succeeded", "null"), ""), want{evbill.GatewayEventCaptured, "pi_1", 1830, ""}},
		{"released", ev("payment_intent.canceled", fmt.Sprintf(pi, 0, "canceled", "null"), ""), want{evbill.GatewayEventReleased, "pi_1", 2500, ""}},
		{"released as abandoned", ev("payment_intent.canceled", fmt.Sprintf(pi, 0, "canceled", `"abandoned"`), ""), want{evbill.GatewayEventReleased, "pi_1", 2500, ""}},
		{"hold expired", ev("payment_intent.canceled", fmt.Sprintf(pi, 0, "canceled", `"automatic"`), ""), want{evbill.GatewayEventHoldExpired, "pi_1", 2500, ""}},
		{"payment failed", ev("payment_intent.payment_failed", fmt.Sprintf(pi, 0, "requires_payment_method", "null"), ""), want{evbill.GatewayEventPaymentFailed, "pi_1", 2500, ""}},
		{"charge refunded, second refund", ev("charge.refunded", fmt.Sprintf(ch, 800, `"pi_1"`), `{"amount_refunded":500}`), want{evbill.GatewayEventRefunded, "pi_1", 300, ""}},
		{"charge refunded, expanded intent", ev("charge.refunded", fmt.Sprintf(ch, 500, `{"id":"pi_1","object":"payment_intent"}`), `{"amount_refunded":0}`), want{evbill.GatewayEventRefunded, "pi_1", 500, ""}},
		{"charge refunded, no previous", ev("charge.refunded", fmt.Sprintf(ch, 500, `"pi_1"`), ""), want{evbill.GatewayEventRefunded, "pi_1", 500, ""}},
		{"charge refunded, not a PaymentIntent", ev("charge.refunded", fmt.Sprintf(ch, 500, "null"), ""), ignored},
		{"refund created succeeded", ev("refund.created", fmt.Sprintf(re, "succeeded"), ""), want{evbill.GatewayEventRefunded, "pi_1", 500, ""}},
		{"refund created pending", ev("refund.created", fmt.Sprintf(re, "pending"), ""), ignored},
		{"refund updated to succeeded", ev("refund.updated", fmt.Sprintf(re, "succeeded"), `{"status":"pending"}`), want{evbill.GatewayEventRefunded, "pi_1", 500, ""}},
		{"refund updated metadata", ev("refund.updated", fmt.Sprintf(re, "succeeded"), `{"metadata":{}}`), ignored},
		{"refund updated to failed", ev("refund.updated", fmt.Sprintf(re, "failed"), `{"status":"pending"}`), ignored},
		{"refund failed", ev("refund.failed", fmt.Sprintf(re, "failed"), ""), ignored},
		{"dispute opened", ev("charge.dispute.created", fmt.Sprintf(dp, "needs_response"), ""), want{evbill.GatewayEventDisputeOpened, "pi_1", 1830, ""}},
		{"inquiry opened", ev("charge.dispute.created", fmt.Sprintf(dp, "warning_needs_response"), ""), ignored},
		{"dispute won", ev("charge.dispute.closed", fmt.Sprintf(dp, "won"), `{"status":"under_review"}`), want{evbill.GatewayEventDisputeClosed, "pi_1", 1830, evbill.GatewayDisputeWon}},
		{"dispute lost", ev("charge.dispute.closed", fmt.Sprintf(dp, "lost"), `{"status":"under_review"}`), want{evbill.GatewayEventDisputeClosed, "pi_1", 1830, evbill.GatewayDisputeLost}},
		{"inquiry closed", ev("charge.dispute.closed", fmt.Sprintf(dp, "warning_closed"), ""), ignored},
		{"dispute updated", ev("charge.dispute.updated", fmt.Sprintf(dp, "under_review"), ""), ignored},
		{"customer created", ev("customer.created", `{"id":"cus_1","object":"customer"}`, ""), ignored},
		{"setup succeeded", ev("setup_intent.succeeded", `{"id":"seti_1","object":"setup_intent","status":"succeeded"}`, ""), ignored},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := signedHeader("t=" + fmt.Sprint(now.Unix()) + ",v1=" + sign(testWebhookSecret, now, tc.body))
			got, err := g.ParseWebhook(h, tc.body, now)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != "evt_x" || !got.CreatedAt.Equal(created) || !bytes.Equal(got.Raw, tc.body) {
				t.Errorf("id %q created %v raw kept %v", got.ID, got.CreatedAt, bytes.Equal(got.Raw, tc.body))
			}
			w := tc.want
			if got.Type != w.typ || got.Reference != w.ref || got.Amount != w.amount || got.DisputeStatus != w.dispute {
				t.Errorf("got %s ref %q amount %d dispute %q, want %+v", got.Type, got.Reference, got.Amount, got.DisputeStatus, w)
			}
			wantDispute := ""
			if w.typ == evbill.GatewayEventDisputeOpened || w.typ == evbill.GatewayEventDisputeClosed {
				wantDispute = "dp_1" // the same dispute opens and closes
			}
			if got.Dispute != wantDispute {
				t.Errorf("names dispute %q, want %q", got.Dispute, wantDispute)
			}
			if w.typ != evbill.GatewayEventIgnored && got.Currency != "EUR" {
				t.Errorf("currency %q", got.Currency)
			}
		})
	}
}

func TestParseWebhookKeepsACopyOfTheBody(t *testing.T) {
	g := webhookGateway(t, testWebhookSecret)
	now := time.Now()
	body := []byte(`{"id":"evt_1","type":"payment_intent.succeeded","created":1,"data":{"object":{"id":"pi_1","amount_received":5,"currency":"eur"}}}`)
	h := signedHeader("t=" + fmt.Sprint(now.Unix()) + ",v1=" + sign(testWebhookSecret, now, body))
	ev, err := g.ParseWebhook(h, body, now)
	if err != nil {
		t.Fatal(err)
	}
	orig := string(body)
	for i := range body {
		body[i] = 'x' // a server reusing its read buffer
	}
	if string(ev.Raw) != orig {
		t.Errorf("Raw changed with the caller's buffer: %q", ev.Raw)
	}
}
