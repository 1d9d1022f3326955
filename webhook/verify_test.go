package webhook_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbill/evbill/webhook"
)

// verifyErrors are the refusals Verify may return; each test asks that an
// error is one of them and no other.
var verifyErrors = []error{
	webhook.ErrNoSecrets,
	webhook.ErrMissingHeader,
	webhook.ErrInvalidID,
	webhook.ErrInvalidTimestamp,
	webhook.ErrNoMatch,
	webhook.ErrTooOld,
	webhook.ErrTooNew,
}

// isOnly reports whether err is target (nil for nil) and none of the other
// refusals.
func isOnly(err, target error) bool {
	if target == nil || err == nil {
		return err == target
	}
	for _, e := range verifyErrors {
		if errors.Is(err, e) != (e == target) {
			return false
		}
	}
	return true
}

func TestVerifyErrorsDistinct(t *testing.T) {
	for _, e := range verifyErrors {
		if !isOnly(e, e) {
			t.Errorf("%v is also another refusal", e)
		}
	}
}

// msg is a message as received: its headers, body and the receiver's view.
type msg struct {
	secrets   [][]byte
	h         http.Header
	body      []byte
	now       time.Time
	tolerance time.Duration
}

func (m msg) verify() error { return webhook.Verify(m.secrets, m.h, m.body, m.now, m.tolerance) }

// signed returns a message signed with key as of the vector's timestamp
// and received at that instant.
func signed(t *testing.T) msg {
	key := vectorKey(t)
	ts := time.Unix(vectorTimestamp, 0)
	return msg{
		secrets: [][]byte{key},
		h:       webhook.Headers([][]byte{key}, vectorID, ts, []byte(vectorBody)),
		body:    []byte(vectorBody),
		now:     ts,
	}
}

func TestVerify(t *testing.T) {
	sig := func(m *msg) string { return m.h.Get(webhook.HeaderSignature) }
	resign := func(m *msg, id string, ts time.Time) {
		m.h = webhook.Headers(m.secrets, id, ts, m.body)
	}
	for _, tc := range []struct {
		name   string
		change func(m *msg)
		want   error
	}{
		{"as signed", func(m *msg) {}, nil},

		// Missing headers.
		{"no webhook-id", func(m *msg) { m.h.Del("webhook-id") }, webhook.ErrMissingHeader},
		{"no webhook-timestamp", func(m *msg) { m.h.Del("webhook-timestamp") }, webhook.ErrMissingHeader},
		{"no webhook-signature", func(m *msg) { m.h.Del("webhook-signature") }, webhook.ErrMissingHeader},
		{"empty webhook-id", func(m *msg) { m.h.Set("webhook-id", "") }, webhook.ErrMissingHeader},
		{"empty webhook-timestamp", func(m *msg) { m.h.Set("webhook-timestamp", "") }, webhook.ErrMissingHeader},
		{"blank webhook-signature", func(m *msg) { m.h.Set("webhook-signature", " \t ") }, webhook.ErrMissingHeader},
		{"no headers", func(m *msg) { m.h = nil }, webhook.ErrMissingHeader},
		{"lower-case keys, not canonicalised", func(m *msg) {
			m.h = http.Header{"webhook-id": {vectorID}, "webhook-timestamp": {"1614265330"}, "webhook-signature": {vectorSignature}}
		}, webhook.ErrMissingHeader},

		// No secret to verify with.
		{"no secrets", func(m *msg) { m.secrets = nil }, webhook.ErrNoSecrets},
		{"only empty secrets", func(m *msg) { m.secrets = [][]byte{nil, {}} }, webhook.ErrNoSecrets},
		{"empty secret beside the real one", func(m *msg) { m.secrets = append([][]byte{{}}, m.secrets...) }, nil},

		// IDs.
		{"ID with a dot, correctly signed", func(m *msg) { resign(m, "msg.1614265330", m.now) }, webhook.ErrInvalidID},
		{"ID repeated, same value", func(m *msg) { m.h.Add("webhook-id", vectorID) }, nil},
		{"ID repeated, other value", func(m *msg) { m.h.Add("webhook-id", "msg_other") }, webhook.ErrInvalidID},
		{"ID repeated, other value first", func(m *msg) { m.h["Webhook-Id"] = []string{"msg_other", vectorID} }, webhook.ErrInvalidID},

		// Timestamps: only canonical integer seconds.
		{"timestamp not a number", func(m *msg) { m.h.Set("webhook-timestamp", "yesterday") }, webhook.ErrInvalidTimestamp},
		{"timestamp with a plus sign", func(m *msg) { m.h.Set("webhook-timestamp", "+1614265330") }, webhook.ErrInvalidTimestamp},
		{"negative timestamp", func(m *msg) { m.h.Set("webhook-timestamp", "-1614265330") }, webhook.ErrInvalidTimestamp},
		{"timestamp with a leading zero", func(m *msg) { m.h.Set("webhook-timestamp", "01614265330") }, webhook.ErrInvalidTimestamp},
		{"fractional timestamp", func(m *msg) { m.h.Set("webhook-timestamp", "1614265330.5") }, webhook.ErrInvalidTimestamp},
		{"timestamp with spaces", func(m *msg) { m.h.Set("webhook-timestamp", " 1614265330") }, webhook.ErrInvalidTimestamp},
		{"timestamp in milliseconds", func(m *msg) { m.h.Set("webhook-timestamp", "1614265330000") }, webhook.ErrInvalidTimestamp},
		{"timestamp beyond int64", func(m *msg) { m.h.Set("webhook-timestamp", "99999999999999999999") }, webhook.ErrInvalidTimestamp},
		{"ISO 8601 timestamp", func(m *msg) { m.h.Set("webhook-timestamp", "2021-02-25T15:02:10Z") }, webhook.ErrInvalidTimestamp},
		{"timestamp repeated, other value", func(m *msg) { m.h.Add("webhook-timestamp", "1614265331") }, webhook.ErrInvalidTimestamp},
		{"timestamp zero, correctly signed", func(m *msg) { resign(m, vectorID, time.Unix(0, 0)) }, webhook.ErrTooOld},

		// Tampering.
		{"body changed", func(m *msg) { m.body = []byte(`{"test": 2432232315}`) }, webhook.ErrNoMatch},
		{"body re-serialised", func(m *msg) { m.body = []byte(`{"test":2432232314}`) }, webhook.ErrNoMatch},
		{"body empty", func(m *msg) { m.body = nil }, webhook.ErrNoMatch},
		{"ID changed", func(m *msg) { m.h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJel") }, webhook.ErrNoMatch},
		{"timestamp moved a second", func(m *msg) { m.h.Set("webhook-timestamp", "1614265331") }, webhook.ErrNoMatch},
		{"ID and timestamp shifted across the dot", func(m *msg) {
			// Same signed bytes "msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{...}"
			// cannot be re-split: the ID may not hold a dot.
			m.h.Set("webhook-id", vectorID+".1614265330")
			m.h.Set("webhook-timestamp", "2")
		}, webhook.ErrInvalidID},
		{"signature bit flipped", func(m *msg) { m.h.Set("webhook-signature", strings.Replace(sig(m), "g0hM", "g0hN", 1)) }, webhook.ErrNoMatch},
		{"signature re-encoded with other padding bits", func(m *msg) {
			// "E" and "F" differ only in bits that padding drops, so both
			// decode to the same MAC; the reference libraries compare text.
			m.h.Set("webhook-signature", strings.Replace(sig(m), "OE=", "OF=", 1))
		}, webhook.ErrNoMatch},
		{"signature unpadded", func(m *msg) { m.h.Set("webhook-signature", strings.TrimSuffix(sig(m), "=")) }, webhook.ErrNoMatch},
		{"signature in the URL alphabet", func(m *msg) {
			m.h.Set("webhook-signature", strings.ReplaceAll(strings.ReplaceAll(sig(m), "+", "-"), "/", "_"))
		}, webhook.ErrNoMatch},
		{"other secret", func(m *msg) { m.secrets = [][]byte{[]byte("some other secret, 24 bytes or more")} }, webhook.ErrNoMatch},
		{"secret given as its serialised string", func(m *msg) { m.secrets = [][]byte{[]byte(vectorSecret)} }, webhook.ErrNoMatch},

		// Versions and odd lists.
		{"unknown versions around the v1", func(m *msg) {
			m.h.Set("webhook-signature", "v1a,"+strings.Repeat("A", 86)+"== "+sig(m)+" v2,whatever")
		}, nil},
		{"only unknown versions", func(m *msg) { m.h.Set("webhook-signature", "v1a,"+sig(m)[3:]+" v2,"+sig(m)[3:]) }, webhook.ErrNoMatch},
		{"upper-case version", func(m *msg) { m.h.Set("webhook-signature", "V1,"+sig(m)[3:]) }, webhook.ErrNoMatch},
		{"signature without version", func(m *msg) { m.h.Set("webhook-signature", sig(m)[3:]) }, webhook.ErrNoMatch},
		{"tabs and runs of spaces", func(m *msg) { m.h.Set("webhook-signature", "\t v1,x  \t"+sig(m)+"   ") }, nil},
		{"signatures on two header lines", func(m *msg) {
			m.h["Webhook-Signature"] = []string{"v1,bm9wZQ==", sig(m)}
		}, nil},
		{"doubled comma", func(m *msg) { m.h.Set("webhook-signature", "v1,"+sig(m)) }, webhook.ErrNoMatch},
		{"trailing comma", func(m *msg) { m.h.Set("webhook-signature", sig(m)+",") }, webhook.ErrNoMatch},
		{"comma-separated list", func(m *msg) { m.h.Set("webhook-signature", "v1,bm9wZQ==,"+sig(m)) }, webhook.ErrNoMatch},
		{"commas only", func(m *msg) { m.h.Set("webhook-signature", ",,, , ,") }, webhook.ErrNoMatch},

		// Tolerance, both ways, to the nanosecond; the default is 5 minutes.
		{"5 min late", func(m *msg) { m.now = m.now.Add(5 * time.Minute) }, nil},
		{"5 min and 1 ns late", func(m *msg) { m.now = m.now.Add(5*time.Minute + 1) }, webhook.ErrTooOld},
		{"5 min early", func(m *msg) { m.now = m.now.Add(-5 * time.Minute) }, nil},
		{"5 min and 1 ns early", func(m *msg) { m.now = m.now.Add(-5*time.Minute - 1) }, webhook.ErrTooNew},
		{"negative tolerance is the default", func(m *msg) { m.now, m.tolerance = m.now.Add(5*time.Minute+1), -1 }, webhook.ErrTooOld},
		{"10 s tolerance, 10 s late", func(m *msg) { m.now, m.tolerance = m.now.Add(10*time.Second), 10*time.Second }, nil},
		{"10 s tolerance, 11 s late", func(m *msg) { m.now, m.tolerance = m.now.Add(11*time.Second), 10*time.Second }, webhook.ErrTooOld},
		{"10 s tolerance, 11 s early", func(m *msg) { m.now, m.tolerance = m.now.Add(-11*time.Second), 10*time.Second }, webhook.ErrTooNew},
		{"1 h tolerance, 59 min late", func(m *msg) { m.now, m.tolerance = m.now.Add(59*time.Minute), time.Hour }, nil},
		{"a year late", func(m *msg) { m.now = m.now.AddDate(1, 0, 0) }, webhook.ErrTooOld},
		{"receiver clock at the zero time", func(m *msg) { m.now = time.Time{} }, webhook.ErrTooNew},
		{"signed in the far future", func(m *msg) { resign(m, vectorID, time.Unix(999_999_999_999, 0)) }, webhook.ErrTooNew},
		// The signature is checked before the clock: a stale forgery is a
		// forgery.
		{"forged and stale", func(m *msg) { m.body, m.now = []byte("{}"), m.now.Add(time.Hour) }, webhook.ErrNoMatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := signed(t)
			tc.change(&m)
			if err := m.verify(); !isOnly(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestVerifyRoundTrip signs and verifies many shapes of message.
func TestVerifyRoundTrip(t *testing.T) {
	key, _ := webhook.NewSecret()
	k, err := webhook.ParseSecret(key)
	if err != nil {
		t.Fatal(err)
	}
	bodies := [][]byte{nil, {}, []byte("{}"), []byte("not JSON at all\x00\xff"), []byte(strings.Repeat("é", 20000))}
	ids := []string{webhook.NewMessageID(), "x", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", strings.Repeat("id", 500), "weird id,with v1,commas and spaces"}
	times := []time.Time{time.Unix(1, 0), time.Unix(vectorTimestamp, 0), time.Now(), time.Unix(99_999_999_999, 0)}
	for _, body := range bodies {
		for _, id := range ids {
			for _, ts := range times {
				h := webhook.Headers([][]byte{k}, id, ts, body)
				if err := webhook.Verify([][]byte{k}, h, body, ts, 0); err != nil {
					t.Fatalf("id %.20q at %v, body of %d bytes: %v", id, ts, len(body), err)
				}
			}
		}
	}
}

func TestVerifyRotation(t *testing.T) {
	oldKey := vectorKey(t)
	newSecret, _ := webhook.NewSecret()
	newKey, _ := webhook.ParseSecret(newSecret)
	body := []byte(`{"type":"cdr.created"}`)
	id := webhook.NewMessageID()
	ts := time.Unix(vectorTimestamp, 0)

	before := webhook.Headers([][]byte{oldKey}, id, ts, body)
	during := webhook.Headers([][]byte{newKey, oldKey}, id, ts, body)
	after := webhook.Headers([][]byte{newKey}, id, ts, body)

	if got, want := during.Get("webhook-signature"),
		webhook.Sign(newKey, id, ts, body)+" "+webhook.Sign(oldKey, id, ts, body); got != want {
		t.Fatalf("during the rotation, signature header %q, want the new one first: %q", got, want)
	}
	for _, tc := range []struct {
		name    string
		h       http.Header
		secrets [][]byte
		want    error
	}{
		{"before, receiver on the old secret", before, [][]byte{oldKey}, nil},
		{"before, receiver on both", before, [][]byte{newKey, oldKey}, nil},
		{"during, receiver on the old secret", during, [][]byte{oldKey}, nil},
		{"during, receiver on the new secret", during, [][]byte{newKey}, nil},
		{"during, receiver on both", during, [][]byte{oldKey, newKey}, nil},
		{"after, receiver on both", after, [][]byte{newKey, oldKey}, nil},
		{"after, receiver on the new secret", after, [][]byte{newKey}, nil},
		// The old secret dropped: what it signed no longer verifies, and a
		// receiver left behind on it gets nothing through.
		{"old signature, old secret dropped", before, [][]byte{newKey}, webhook.ErrNoMatch},
		{"after, receiver left on the old secret", after, [][]byte{oldKey}, webhook.ErrNoMatch},
	} {
		if err := webhook.Verify(tc.secrets, tc.h, body, ts, 0); !isOnly(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestVerifyHostileHeaders feeds headers no sender would make: huge,
// packed with entries, full of separators and control bytes. Verify must
// refuse them (or accept the one real signature buried among them)
// without panicking, and the cost of an entry must not be an allocation.
func TestVerifyHostileHeaders(t *testing.T) {
	good := signed(t)
	valid := good.h.Get(webhook.HeaderSignature)
	junk := "v1," + strings.Repeat("A", 43) + "="
	const mib = 1 << 20
	for _, tc := range []struct {
		name      string
		id, stamp string
		sig       string
		want      error
	}{
		{"1 MiB of wrong v1 signatures", vectorID, "1614265330", strings.Repeat(junk+" ", mib/48), webhook.ErrNoMatch},
		{"1 MiB of wrong ones, then the right one", vectorID, "1614265330", strings.Repeat(junk+" ", mib/48) + valid, nil},
		{"1 MiB of commas", vectorID, "1614265330", strings.Repeat(",", mib), webhook.ErrNoMatch},
		{"1 MiB of spaces around commas", vectorID, "1614265330", strings.Repeat(" , ", mib/3), webhook.ErrNoMatch},
		{"100 000 bare versions", vectorID, "1614265330", strings.Repeat("v1, ", 100000), webhook.ErrNoMatch},
		{"1 MiB signature", vectorID, "1614265330", "v1," + strings.Repeat("A", mib), webhook.ErrNoMatch},
		{"1 MiB version", vectorID, "1614265330", strings.Repeat("v", mib) + "," + valid[3:], webhook.ErrNoMatch},
		{"NUL bytes and invalid UTF-8", vectorID, "1614265330", "v1,\x00\xff\xfe" + strings.Repeat("\x00", 41) + " " + valid, nil},
		{"control characters as separators", vectorID, "1614265330", "\x00" + valid, webhook.ErrNoMatch},
		{"1 MiB ID", strings.Repeat("m", mib), "1614265330", valid, webhook.ErrNoMatch},
		{"1 MiB ID of dots", strings.Repeat(".", mib), "1614265330", valid, webhook.ErrInvalidID},
		{"1 MiB timestamp", vectorID, strings.Repeat("1", mib), valid, webhook.ErrInvalidTimestamp},
		{"timestamp of NULs", vectorID, "\x00\x00", valid, webhook.ErrInvalidTimestamp},
	} {
		h := http.Header{}
		h.Set("webhook-id", tc.id)
		h.Set("webhook-timestamp", tc.stamp)
		h["Webhook-Signature"] = []string{tc.sig}
		start := time.Now()
		err := webhook.Verify(good.secrets, h, good.body, good.now, 0)
		if !isOnly(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %v", tc.name, d)
		}
		if err != nil && len(err.Error()) > 300 {
			t.Errorf("%s: error of %d bytes echoes the input", tc.name, len(err.Error()))
		}
	}

	// Allocations do not grow with the number of entries.
	allocs := func(entries int) float64 {
		h := good.h.Clone()
		h.Set("webhook-signature", strings.Repeat(junk+" ", entries)+valid)
		return testing.AllocsPerRun(20, func() {
			if err := webhook.Verify(good.secrets, h, good.body, good.now, 0); err != nil {
				t.Fatal(err)
			}
		})
	}
	if few, many := allocs(1), allocs(10000); many > few {
		t.Errorf("Verify allocates %v times with 10 000 entries, %v with one", many, few)
	}
}

// TestVerifyConcurrent shares secrets and headers between goroutines, as
// an HTTP handler does, for the race detector.
func TestVerifyConcurrent(t *testing.T) {
	m := signed(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if err := m.verify(); err != nil {
					t.Error(err)
					return
				}
				_ = webhook.Headers(m.secrets, vectorID, m.now, m.body)
			}
		})
	}
	wg.Wait()
}
