// Package timedhmac is the webhook signature scheme Stripe uses and the
// sandbox gateway mirrors: a header "t=<unix seconds>,v1=<hex>" whose v1
// is an HMAC-SHA256, keyed with the endpoint's secret, of the timestamp, a
// dot and the body exactly as received. A header may carry several v1
// signatures (one per secret while a secret is rolled); one match is
// enough. The timestamp bounds replays.
package timedhmac

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Why a header was refused; Verify wraps one of these with the details.
var (
	ErrMissing   = errors.New("no signature header")
	ErrMalformed = errors.New("signature header malformed")
	ErrMismatch  = errors.New("signature does not match")
	ErrStale     = errors.New("signature timestamp out of tolerance")
)

func mac(secret []byte, t string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Sign returns the header value that signs body at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

// Verify checks header against body and secret, then its timestamp
// against now within tolerance either way. The signature is checked before
// the time, so a forgery is reported as a forgery rather than as late, and
// every signature is compared in constant time.
func Verify(header string, body, secret []byte, now time.Time, tolerance time.Duration) error {
	if header == "" {
		return ErrMissing
	}
	var (
		t    string
		sigs [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			t = v
		case "v1":
			// A signature that is not hex cannot match; the others may.
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	unix, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: no t=<unix seconds>", ErrMalformed)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no v1 signature", ErrMalformed)
	}
	want := mac(secret, t, body)
	matched := false
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			matched = true
		}
	}
	if !matched {
		return ErrMismatch
	}
	signed := time.Unix(unix, 0)
	if d := now.Sub(signed); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s from now, more than %s", ErrStale,
			signed.UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	return nil
}
