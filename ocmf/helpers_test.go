package ocmf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
)

// testKey is a signing key made in the test, with its public key in the
// forms Verify takes.
type testKey struct {
	priv *ecdsa.PrivateKey
	der  []byte // SubjectPublicKeyInfo
}

func (k testKey) hex() []byte { return []byte(strings.ToUpper(hex.EncodeToString(k.der))) }

// Keys are made once per test binary: the fuzz target and the tables use
// the same ones, and ECDSA key generation is the slow part of a test.
var (
	keysOnce                   sync.Once
	keyP256, keyP384, keyP256b testKey
)

func keys(tb testing.TB) {
	tb.Helper()
	keysOnce.Do(func() {
		keyP256 = newKey(tb, elliptic.P256())
		keyP256b = newKey(tb, elliptic.P256())
		keyP384 = newKey(tb, elliptic.P384())
	})
}

func newKey(tb testing.TB, c elliptic.Curve) testKey {
	tb.Helper()
	priv, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return testKey{priv: priv, der: der}
}

// signDER signs the payload bytes as an OCMF meter does: SHA-256 over the
// bytes, ECDSA, the signature DER-encoded.
func signDER(tb testing.TB, k testKey, payload string) []byte {
	tb.Helper()
	digest := sha256.Sum256([]byte(payload))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	return sig
}

// sigSection formats a signature section with the given SA and SE (either
// may be empty, to leave the key out) and SD encoded per SE.
func sigSection(sa, se string, sig []byte) string {
	var b strings.Builder
	b.WriteString("{")
	if sa != "" {
		b.WriteString(`"SA":"` + sa + `",`)
	}
	if se != "" {
		b.WriteString(`"SE":"` + se + `",`)
	}
	sd := strings.ToUpper(hex.EncodeToString(sig))
	if se == "base64" {
		sd = base64.StdEncoding.EncodeToString(sig)
	}
	b.WriteString(`"SD":"` + sd + `"}`)
	return b.String()
}

func record(payload, signature string) []byte {
	return []byte("OCMF|" + payload + "|" + signature)
}

// signedRecord is a record in the real format, signed over payload.
func signedRecord(tb testing.TB, k testKey, sa, se, payload string) []byte {
	tb.Helper()
	return record(payload, sigSection(sa, se, signDER(tb, k, payload)))
}

func mustParse(tb testing.TB, b []byte) Record {
	tb.Helper()
	r, err := Parse(b)
	if err != nil {
		tb.Fatalf("Parse: %v\nrecord: %s", err, b)
	}
	return r
}

// payloadMR is a charger's record with begin and end in one payload, in the
// compact form meters send.
const payloadMR = `{"FV":"1.0","GI":"ABL SBC-301","GS":"808829900001","GV":"1.4p3","PG":"T12345","MV":"Phoenix Contact","MM":"EEM-350-D-MCB","MS":"BQ27400330016","MF":"1.0","IS":true,"IL":"VERIFIED","IF":["RFID_PLAIN","OCPP_RS_TLS"],"IT":"ISO14443","ID":"1F2D3A4F5506C7","RD":[{"TM":"2018-07-24T13:22:04,000+0200 S","TX":"B","RV":2935.600,"RI":"1-0:1.8.0","RU":"kWh","RT":"AC","EF":"","ST":"G"},{"TM":"2018-07-24T13:26:04,000+0200 S","TX":"E","RV":2965.100,"RI":"1-0:1.8.0","RU":"kWh","RT":"AC","EF":"","ST":"G"}]}`

// payloadWith builds a payload around the given readings (a JSON array's
// inside), so that table cases state only what they vary.
func payloadWith(pg, readings string) string {
	return `{"FV":"1.0","GS":"808829900001","PG":"` + pg + `","MS":"BQ27400330016","IS":true,"IT":"ISO14443","ID":"1F2D3A4F5506C7","RD":[` + readings + `]}`
}
