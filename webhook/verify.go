package webhook

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far a message's timestamp may be from the
// receiver's clock, either way, when Verify is given no tolerance. The
// specification asks only for "some allowable tolerance"; five minutes is
// what its reference libraries use, long enough for clock skew and a slow
// network, short enough that a captured message is soon useless to replay.
const DefaultTolerance = 5 * time.Minute

// Why Verify refused a message: each refusal wraps exactly one of these, so
// a caller can answer or log it with errors.Is and tests can tell the
// causes apart.
var (
	// ErrNoSecrets means Verify was given no non-empty secret, a mistake of
	// the caller's configuration rather than of the message: nothing could
	// ever verify.
	ErrNoSecrets = errors.New("webhook: no secret to verify with")
	// ErrMissingHeader means webhook-id, webhook-timestamp or
	// webhook-signature is absent or empty.
	ErrMissingHeader = errors.New("webhook: missing header")
	// ErrInvalidID means the webhook-id contains a "." or is repeated with
	// different values, either of which makes it unclear what was signed.
	ErrInvalidID = errors.New("webhook: invalid webhook-id")
	// ErrInvalidTimestamp means the webhook-timestamp is not integer Unix
	// seconds written canonically (digits only, no leading zero, at most
	// 12 digits) or is repeated with different values.
	ErrInvalidTimestamp = errors.New("webhook: invalid webhook-timestamp")
	// ErrNoMatch means no v1 signature in webhook-signature is that of the
	// message under any of the secrets: the message was forged, altered,
	// or signed with a secret the receiver no longer (or does not yet) hold.
	ErrNoMatch = errors.New("webhook: no matching signature")
	// ErrTooOld means the message is authentic but was signed more than the
	// tolerance before now: a replay, a very late delivery, or a slow clock.
	ErrTooOld = errors.New("webhook: timestamp too old")
	// ErrTooNew means the message is authentic but was signed more than the
	// tolerance after now, which only a wrong clock on either side explains.
	ErrTooNew = errors.New("webhook: timestamp too new")
)

// maxTimestampDigits bounds webhook-timestamp. Twelve digits reach past
// the year 30000, so a longer value is a mistake (milliseconds are 13
// digits today) and refusing it keeps the arithmetic far from overflow.
const maxTimestampDigits = 12

// Verify checks a received message: its headers h (keys canonical, as
// net/http gives them and http.Header.Set makes them), its body exactly as
// received, against the receiver's secrets (any order, raw keys as
// ParseSecret returns them) and clock now. It accepts the message when any
// v1 signature in webhook-signature matches under any secret, so a
// receiver that holds the old and the new secret during a rotation, or a
// sender that signs with both, keeps working. Signatures of other versions
// ("v1a", future ones) and malformed entries are skipped, not refused,
// because the specification lets a sender add signatures a receiver does
// not know. A tolerance of zero or less means DefaultTolerance.
//
// Signatures are compared in constant time, and the signature is checked
// before the clock, so that a forgery is reported as ErrNoMatch rather than
// as late, and ErrTooOld or ErrTooNew always concern a message the sender
// really signed. The work is linear in the size of the headers and body
// whatever they hold; a hostile header can make Verify refuse, never panic.
func Verify(secrets [][]byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	usable := 0
	for _, s := range secrets {
		if len(s) > 0 {
			usable++
		}
	}
	if usable == 0 {
		return ErrNoSecrets
	}

	id, ok := single(h, HeaderID)
	if !ok {
		return fmt.Errorf("%w: %s given %d times with different values", ErrInvalidID, HeaderID, len(h.Values(HeaderID)))
	}
	stamp, ok := single(h, HeaderTimestamp)
	if !ok {
		return fmt.Errorf("%w: given %d times with different values", ErrInvalidTimestamp, len(h.Values(HeaderTimestamp)))
	}
	sigLines := h.Values(HeaderSignature)
	switch {
	case id == "":
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderID)
	case stamp == "":
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderTimestamp)
	case !hasContent(sigLines):
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderSignature)
	}
	if !validID(id) {
		return fmt.Errorf("%w: it contains a %q", ErrInvalidID, ".")
	}
	unix, ok := parseTimestamp(stamp)
	if !ok {
		return fmt.Errorf("%w: want integer Unix seconds, at most %d digits", ErrInvalidTimestamp, maxTimestampDigits)
	}

	// One expected signature per secret, computed once however many
	// signatures the header lists. The received timestamp is signed as
	// received; parseTimestamp accepted only the canonical form, which is
	// what a sender formats.
	want := make([][]byte, 0, usable)
	for _, s := range secrets {
		if len(s) > 0 {
			want = append(want, appendSignature(make([]byte, 0, sigLen), s, id, stamp, body))
		}
	}
	if !anyMatch(sigLines, want) {
		return ErrNoMatch
	}

	signed := time.Unix(unix, 0)
	switch d := now.Sub(signed); {
	case d > tolerance:
		return fmt.Errorf("%w: signed at %s, %s before now, more than %s", ErrTooOld,
			signed.UTC().Format(time.RFC3339), d, tolerance)
	case d < -tolerance:
		return fmt.Errorf("%w: signed at %s, %s after now, more than %s", ErrTooNew,
			signed.UTC().Format(time.RFC3339), -d, tolerance)
	}
	return nil
}

// anyMatch reports whether any v1 entry of the signature header lines is
// one of the expected signatures. Several lines are read as one list: a
// proxy may split a long header, and an extra line can add no signature the
// sender did not make. Entries are compared as base64 text, as the
// reference libraries do, so a re-encoding with different padding bits
// does not match; a candidate of the wrong length is skipped before any
// comparison. Each comparison takes the same time however many leading
// bytes agree, so timing tells an attacker nothing about how close a guess
// came; stopping at the first match reveals only that one matched.
func anyMatch(lines []string, want [][]byte) bool {
	for _, line := range lines {
		for entry := range strings.FieldsSeq(line) {
			version, sig, ok := strings.Cut(entry, ",")
			if !ok || version != v1 || len(sig) != sigLen {
				continue
			}
			// A fixed buffer, not []byte(sig): a header of thousands of
			// entries costs no allocation per entry.
			var cand [sigLen]byte
			copy(cand[:], sig)
			for _, w := range want {
				if hmac.Equal(cand[:], w) {
					return true
				}
			}
		}
	}
	return false
}

// single returns the one value of header name, or "" when it is absent;
// ok is false when it is given several times with different values, since
// a verifier reading the first and an application reading the last would
// then disagree on what was signed.
func single(h http.Header, name string) (v string, ok bool) {
	vs := h.Values(name)
	if len(vs) == 0 {
		return "", true
	}
	for _, o := range vs[1:] {
		if o != vs[0] {
			return "", false
		}
	}
	return vs[0], true
}

// hasContent reports whether any header line holds more than whitespace.
func hasContent(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			return true
		}
	}
	return false
}

// parseTimestamp reads webhook-timestamp strictly: ASCII digits, no sign,
// no leading zero, no spaces. Only that form is accepted because the digits
// are signed as received: a lenient parser would let "+1674087231" or
// "01674087231" name the same instant with different signed bytes.
func parseTimestamp(s string) (int64, bool) {
	if s == "" || len(s) > maxTimestampDigits || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
