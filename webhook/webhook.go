// Package webhook sends evbill's outbound notifications to operators'
// endpoints in the Standard Webhooks format (standardwebhooks.com), so a
// receiver can verify them with an off-the-shelf library in its own
// language instead of code written for evbill.
//
// Its signing core does no I/O, so the delivery worker and evbill's tests
// share it and Go receivers can use it as it is: secrets (NewSecret,
// ParseSecret), message IDs (NewMessageID), signing (Sign, Headers) and
// verification (Verify). A message is signed as
//
//	base64(HMAC-SHA256(key, webhook-id + "." + webhook-timestamp + "." + body))
//
// and sent as "v1,<signature>" in the webhook-signature header, one per
// secret while a secret is being rotated. Only the symmetric "v1" scheme is
// implemented; "v1a" (ed25519) signatures are optional in the
// specification and are ignored by Verify like any unknown version.
//
// Around that core, the Dispatcher turns the outbox's events into
// deliveries, one per endpoint that wants the event, and the Worker sends
// them, retrying on RetrySchedule; both keep their state in the store
// (evbill.WebhookStore), so delivery is at least once across restarts.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/evbill/evbill"
)

// The headers a signed message carries, named exactly as the specification
// does. Go canonicalises them ("Webhook-Id") in an http.Header; HTTP header
// names are case-insensitive, so receivers see the same header either way.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// MessageIDPrefix starts every message ID, as in the specification's
// examples, so that an ID in a receiver's logs is recognisably a webhook
// message's and not one of evbill's records.
const MessageIDPrefix = "msg"

// NewMessageID returns a new message ID, "msg_" and 26 characters. An ID is
// made once per event and kept across delivery attempts, because receivers
// use it as their idempotency key; it comes from evbill.NewID so it sorts by
// creation like every other evbill ID and, having no ".", it cannot shift
// the boundaries of the signed content.
func NewMessageID() string {
	return evbill.NewID(MessageIDPrefix)
}

// v1 identifies HMAC-SHA256 signatures; versionV1 is how one starts, the
// identifier and the comma that separates it from the signature.
const (
	v1        = "v1"
	versionV1 = v1 + ","
)

// sigLen is the length of a base64-encoded HMAC-SHA256: 32 bytes in 44
// characters, the last of them padding.
const sigLen = (sha256.Size + 2) / 3 * 4

// appendSignature appends the base64 HMAC-SHA256 of id.ts.body under secret
// to dst. The signed content is written to the MAC in pieces, so a large
// body is never copied to build it.
func appendSignature(dst, secret []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	var head [96]byte
	prefix := append(append(append(append(head[:0], id...), '.'), ts...), '.')
	m.Write(prefix)
	m.Write(body)
	var sum [sha256.Size]byte
	return base64.StdEncoding.AppendEncode(dst, m.Sum(sum[:0]))
}

// formatTimestamp is the webhook-timestamp of ts: integer seconds since
// the Unix epoch, as the specification asks; the sub-second part is
// dropped, so signer and verifier sign the same digits.
func formatTimestamp(ts time.Time) string {
	return strconv.FormatInt(ts.Unix(), 10)
}

// Sign returns the "v1,<base64>" signature of a message as of ts under one
// HMAC key, exactly as every Standard Webhooks library computes it, so any
// of them verifies what evbill sends. The id must not contain a "." (one
// from NewMessageID never does), or Verify refuses the message: a dot would
// make the boundary between ID and timestamp ambiguous.
func Sign(secret []byte, id string, ts time.Time, body []byte) string {
	out := make([]byte, 0, len(versionV1)+sigLen)
	out = append(out, versionV1...)
	return string(appendSignature(out, secret, id, formatTimestamp(ts), body))
}

// Headers returns the three headers of a message sent at ts, with one
// signature per secret in the order given, space-separated. During a
// rotation the caller passes the new secret first and the old one second,
// so a receiver that tries signatures in order finds the current one
// first, and one that still holds only the old secret keeps verifying.
//
// Empty secrets are skipped, because an HMAC under an empty key is one
// anybody can compute; with no secret left the signature header is absent,
// so a receiver refuses the message rather than accept it unsigned.
func Headers(secrets [][]byte, id string, ts time.Time, body []byte) http.Header {
	stamp := formatTimestamp(ts)
	h := make(http.Header, 3)
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, stamp)
	var sig []byte
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		if len(sig) > 0 {
			sig = append(sig, ' ')
		}
		sig = append(sig, versionV1...)
		sig = appendSignature(sig, s, id, stamp, body)
	}
	if len(sig) > 0 {
		h.Set(HeaderSignature, string(sig))
	}
	return h
}

// validID reports whether id can be part of the signed content without
// ambiguity: a timestamp is digits only, so with no "." in the ID the first
// two dots of "id.timestamp.body" are the separators and no other split of
// the same bytes into ID, timestamp and body exists.
func validID(id string) bool {
	return id != "" && !strings.Contains(id, ".")
}
