package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// A session's live page is found by a token in its URL, /s/{token}: the
// session's ID, its tenant's ID and a MAC of both under the pages'
// secret. Whoever has the link sees the session and its receipt, as with
// the pay page's payment ID; nobody can make one for another session
// without the secret. The token needs nothing stored: it is checked, not
// looked up, so any instance with the same secret serves it, and a link
// lives as long as the secret. The IDs are evbill's own (NewID), which
// never hold a dot.

// liveMACLen is the MAC's length in bytes: 128 bits cannot be guessed,
// and keep the link short enough for a text message or a QR code.
const liveMACLen = 16

// LivePath returns the path of the session's live page for its driver,
// /s/{token}, which the API shows operators as live_path.
func (h *Handler) LivePath(tenantID, sessionID string) string {
	return "/s/" + sessionID + "." + tenantID + "." + base64.RawURLEncoding.EncodeToString(h.liveMAC(tenantID, sessionID))
}

func (h *Handler) liveMAC(tenantID, sessionID string) []byte {
	m := hmac.New(sha256.New, h.cfg.Secret)
	m.Write([]byte("evbill live page\x00" + tenantID + "\x00" + sessionID))
	return m.Sum(nil)[:liveMACLen]
}

// checkLiveToken returns the tenant and session of a token LivePath made.
func (h *Handler) checkLiveToken(token string) (tenantID, sessionID string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(mac, h.liveMAC(parts[1], parts[0])) {
		return "", "", false
	}
	return parts[1], parts[0], true
}
