package webhook_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill/webhook"
)

// The seed corpus is committed under testdata/fuzz/FuzzVerify (the
// reference vector, a rotation, odd separators, malformed timestamps); run
// the target with, for example,
//
//	go test -run '^$' -fuzz '^FuzzVerify$' -fuzztime 60s ./webhook

// FuzzVerify feeds arbitrary headers and bodies to Verify under the
// reference vector's secret and clock. Verify never panics; it refuses with
// exactly one of its errors; it accepts only when the signature header
// holds, as a whole entry, the very signature Sign makes of those headers
// and body; and whatever ID, instant and body it was given, what Headers
// signs from them verifies unless the ID is one Verify must refuse.
func FuzzVerify(f *testing.F) {
	f.Add(vectorID, "1614265330", vectorSignature, []byte(vectorBody))
	key := vectorKey(f)
	other := []byte("a second secret for the rotation, 24+ bytes")
	secrets := [][]byte{key, other}
	now := time.Unix(vectorTimestamp, 0)

	f.Fuzz(func(t *testing.T, id, stamp, sig string, body []byte) {
		h := http.Header{}
		h.Set(webhook.HeaderID, id)
		h.Set(webhook.HeaderTimestamp, stamp)
		h.Set(webhook.HeaderSignature, sig)
		err := webhook.Verify(secrets, h, body, now, 0)
		if err != nil {
			matched := 0
			for _, e := range verifyErrors {
				if isOnly(err, e) {
					matched++
				}
			}
			if matched != 1 {
				t.Fatalf("Verify = %v: not exactly one of the refusals", err)
			}
		} else {
			unix, perr := strconv.ParseInt(stamp, 10, 64)
			if perr != nil {
				t.Fatalf("accepted timestamp %q", stamp)
			}
			ts := time.Unix(unix, 0)
			if d := now.Sub(ts); d > webhook.DefaultTolerance || d < -webhook.DefaultTolerance {
				t.Fatalf("accepted timestamp %q, %v from now", stamp, d)
			}
			fields := strings.Fields(sig)
			genuine := false
			for _, s := range secrets {
				want := webhook.Sign(s, id, ts, body)
				for _, fld := range fields {
					genuine = genuine || fld == want
				}
			}
			if !genuine || strings.Contains(id, ".") || id == "" {
				t.Fatalf("accepted id %q, timestamp %q, signature %q without a genuine signature", id, stamp, sig)
			}
		}

		// Round trip at a time derived from the fuzzed timestamp, clamped
		// to what a clock can show.
		unix, _ := strconv.ParseInt(stamp, 10, 64)
		ts := time.Unix(unix%(1<<36), 0)
		h = webhook.Headers(secrets, id, ts, body)
		var want error
		switch {
		case id == "":
			want = webhook.ErrMissingHeader
		case strings.Contains(id, "."):
			want = webhook.ErrInvalidID
		case ts.Unix() < 0: // "-5" is no canonical timestamp
			want = webhook.ErrInvalidTimestamp
		}
		if err := webhook.Verify(secrets[1:], h, body, ts, 0); !isOnly(err, want) {
			t.Fatalf("round trip of id %q at %d: Verify = %v, want %v", id, ts.Unix(), err, want)
		}
	})
}
