package webhook_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill/webhook"
)

// The specification itself publishes no test vector: its one example
// signature (v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=) comes without
// the secret that made it. This one is what the reference libraries assert
// (github.com/standard-webhooks/standard-webhooks, libraries/go,
// webhook_test.go, TestWebhookSign; the same values appear in the other
// languages' libraries and in Svix's), so matching it is what says that a
// receiver's library accepts what evbill sends.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vectorKey(t testing.TB) []byte {
	t.Helper()
	key, err := webhook.ParseSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestSignReferenceVector(t *testing.T) {
	got := webhook.Sign(vectorKey(t), vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if got != vectorSignature {
		t.Fatalf("Sign = %s, want %s", got, vectorSignature)
	}
	// The timestamp is whole seconds: a sub-second part, or another time
	// zone, changes nothing.
	loc := time.FixedZone("UTC+14", 14*3600)
	got = webhook.Sign(vectorKey(t), vectorID, time.Unix(vectorTimestamp, 999_999_999).In(loc), []byte(vectorBody))
	if got != vectorSignature {
		t.Fatalf("Sign with nanoseconds = %s, want %s", got, vectorSignature)
	}
}

func TestVerifyReferenceVector(t *testing.T) {
	h := http.Header{}
	h.Set("webhook-id", vectorID)
	h.Set("webhook-timestamp", strconv.Itoa(vectorTimestamp))
	h.Set("webhook-signature", vectorSignature)
	now := time.Unix(vectorTimestamp, 0)
	if err := webhook.Verify([][]byte{vectorKey(t)}, h, []byte(vectorBody), now, 0); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	// The reference library's multi-signature case: junk and an unknown
	// version around the valid one.
	h.Set("webhook-signature", strings.Join([]string{
		"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
		"v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
		vectorSignature,
		"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
	}, " "))
	if err := webhook.Verify([][]byte{vectorKey(t)}, h, []byte(vectorBody), now, 0); err != nil {
		t.Fatalf("Verify multi = %v", err)
	}
	// The specification's example header: its v1 signature is of a message
	// we do not have, and its v1a is ignored, so nothing matches.
	h.Set("webhook-signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==")
	if err := webhook.Verify([][]byte{vectorKey(t)}, h, []byte(vectorBody), now, 0); !isOnly(err, webhook.ErrNoMatch) {
		t.Fatalf("Verify spec example = %v, want ErrNoMatch", err)
	}
}

// TestSignMatchesPlainHMAC checks Sign, which streams the signed content
// into the MAC, against the specification's definition written the obvious
// way, for random keys, IDs, times and bodies.
func TestSignMatchesPlainHMAC(t *testing.T) {
	for i := range 200 {
		key := make([]byte, 24+i%41)
		body := make([]byte, i*37%3000)
		rand.Read(key)
		rand.Read(body)
		id := webhook.NewMessageID() + strings.Repeat("x", i) // IDs longer than any buffer too
		ts := time.Unix(int64(i)*7919_000, 0)
		m := hmac.New(sha256.New, key)
		fmt.Fprintf(m, "%s.%d.%s", id, ts.Unix(), body)
		want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
		if got := webhook.Sign(key, id, ts, body); got != want {
			t.Fatalf("case %d: Sign = %s, want %s", i, got, want)
		}
	}
}

func TestNewMessageID(t *testing.T) {
	prev := ""
	seen := map[string]bool{}
	for range 1000 {
		id := webhook.NewMessageID()
		if !strings.HasPrefix(id, "msg_") || len(id) != len("msg_")+26 || strings.Contains(id, ".") || seen[id] {
			t.Fatalf("bad or repeated message ID %q", id)
		}
		seen[id] = true
		if id < prev && id[:14] != prev[:14] { // same millisecond: random order
			t.Fatalf("IDs out of order: %s after %s", id, prev)
		}
		prev = id
	}
	a := webhook.NewMessageID()
	time.Sleep(2 * time.Millisecond)
	if b := webhook.NewMessageID(); b <= a {
		t.Fatalf("later ID %s sorts before %s", b, a)
	}
}

func TestHeaders(t *testing.T) {
	key := vectorKey(t)
	other := []byte("another secret of at least 24 bytes")
	h := webhook.Headers([][]byte{key, other}, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if len(h) != 3 {
		t.Fatalf("Headers gave %d headers: %v", len(h), h)
	}
	if got := h.Get("webhook-id"); got != vectorID {
		t.Errorf("webhook-id = %q", got)
	}
	if got := h.Get("webhook-timestamp"); got != "1614265330" {
		t.Errorf("webhook-timestamp = %q", got)
	}
	want := vectorSignature + " " + webhook.Sign(other, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if got := h.Get("webhook-signature"); got != want {
		t.Errorf("webhook-signature = %q, want %q (newest first)", got, want)
	}
	for name := range h {
		if len(h[name]) != 1 {
			t.Errorf("%s given %d times", name, len(h[name]))
		}
	}

	// An empty secret signs nothing; with none left there is no signature
	// header at all, so the message cannot pass as signed.
	h = webhook.Headers([][]byte{nil, key, {}}, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if got := h.Get("webhook-signature"); got != vectorSignature {
		t.Errorf("with empty secrets: webhook-signature = %q", got)
	}
	h = webhook.Headers(nil, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if _, ok := h["Webhook-Signature"]; ok {
		t.Errorf("no secrets, yet a signature header: %v", h)
	}
}

func BenchmarkSign(b *testing.B) {
	key, _ := webhook.ParseSecret(vectorSecret)
	body := make([]byte, 1024)
	rand.Read(body)
	id := webhook.NewMessageID()
	ts := time.Unix(vectorTimestamp, 0)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		webhook.Sign(key, id, ts, body)
	}
}

func BenchmarkVerify(b *testing.B) {
	oldKey, _ := webhook.ParseSecret(vectorSecret)
	newKey := make([]byte, 32)
	rand.Read(newKey)
	body := make([]byte, 1024)
	rand.Read(body)
	ts := time.Unix(vectorTimestamp, 0)
	h := webhook.Headers([][]byte{newKey, oldKey}, webhook.NewMessageID(), ts, body)
	secrets := [][]byte{oldKey} // the receiver still on the old secret
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := webhook.Verify(secrets, h, body, ts, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleSign() {
	key, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		panic(err)
	}
	fmt.Println(webhook.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`)))
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

func ExampleVerify() {
	newKey, _ := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	oldKey := []byte("the secret being rotated out, 24+ bytes")
	sent := time.Unix(1614265330, 0)
	body := []byte(`{"type":"cdr.created"}`)

	// The sender signs with both secrets while the receiver switches over.
	h := webhook.Headers([][]byte{newKey, oldKey}, "msg_p5jXN8AQM9LWM0D4loKWxJek", sent, body)

	// A receiver still holding only the old secret accepts the message...
	fmt.Println(webhook.Verify([][]byte{oldKey}, h, body, sent.Add(time.Minute), 0))
	// ...but not ten minutes later: it is a replay.
	err := webhook.Verify([][]byte{oldKey}, h, body, sent.Add(10*time.Minute), 0)
	fmt.Println(errors.Is(err, webhook.ErrTooOld))
	// Output:
	// <nil>
	// true
}
