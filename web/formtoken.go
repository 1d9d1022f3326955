package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	"github.com/evbill/evbill"
)

// formTTL is how long a pay form may be sent after it was shown: as long
// as the guest's token then lives, and long enough to find a card.
const formTTL = evbill.AdHocWindow

// The pay form carries a token evbill signed when it showed the form:
// issued-at and a random nonce, MACed with the secret together with the
// station and connector. A page without a login has no session to ride,
// so what the token guards is that a payment is made only from a form this
// server showed, recently, for this very connector. The nonce also names
// the guest's idTag (guestIDTag), so a form sent twice (a double tap, the
// back button) makes one payment, not two.

const nonceLen = 16

// formToken returns a fresh token for the pay form of station and
// connector.
func (h *Handler) formToken(station string, connector int, now time.Time) string {
	var body [8 + nonceLen]byte
	binary.BigEndian.PutUint64(body[:8], uint64(now.Unix()))
	if _, err := rand.Read(body[8:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(body[:]) + "." + enc.EncodeToString(h.formMAC(station, connector, body[:]))
}

func (h *Handler) formMAC(station string, connector int, body []byte) []byte {
	m := hmac.New(sha256.New, h.cfg.Secret)
	m.Write([]byte("evbill pay form\x00" + station + "\x00" + strconv.Itoa(connector) + "\x00"))
	m.Write(body)
	return m.Sum(nil)
}

// checkFormToken returns the nonce of a token made by formToken for the
// same station and connector within formTTL before now.
func (h *Handler) checkFormToken(token, station string, connector int, now time.Time) ([]byte, bool) {
	b64, mac64, ok := strings.Cut(token, ".")
	if !ok {
		return nil, false
	}
	enc := base64.RawURLEncoding
	body, err1 := enc.DecodeString(b64)
	mac, err2 := enc.DecodeString(mac64)
	if err1 != nil || err2 != nil || len(body) != 8+nonceLen || !hmac.Equal(mac, h.formMAC(station, connector, body)) {
		return nil, false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(body[:8])), 0)
	// A minute of slack for instances whose clocks differ a little.
	if now.Sub(issued) > formTTL || issued.Sub(now) > time.Minute {
		return nil, false
	}
	return body[8:], true
}

// guestIDTag is the idTag of the guest token a form's nonce pays for:
// "ADHOC" and 15 characters of a MAC of the nonce, 20 in all as OCPP
// allows. It is derived, not random, so that sending one form twice finds
// the first send's payment; it is MACed, so that nobody who saw a form
// knows the idTag a charger will be started with.
func (h *Handler) guestIDTag(nonce []byte) string {
	m := hmac.New(sha256.New, h.cfg.Secret)
	m.Write([]byte("evbill guest idTag\x00"))
	m.Write(nonce)
	tag := "ADHOC" + base32.StdEncoding.EncodeToString(m.Sum(nil))
	return tag[:evbill.MaxIDTag]
}
