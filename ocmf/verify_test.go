package ocmf

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"os"
	"strings"
	"testing"
)

// spkiOn builds a SubjectPublicKeyInfo naming the given curve, for curves
// Go cannot make keys on (brainpool): Verify must name the curve before it
// ever looks at the point.
func spkiOn(t *testing.T, curve asn1.ObjectIdentifier) []byte {
	t.Helper()
	params, err := asn1.Marshal(curve)
	if err != nil {
		t.Fatal(err)
	}
	point := make([]byte, 65)
	point[0] = 4
	_, _ = rand.Read(point[1:])
	der, err := asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}{
		pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}},
		asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestVerify(t *testing.T) {
	keys(t)
	p256 := signDER(t, keyP256, payloadMR)
	p384 := signDER(t, keyP384, payloadMR)
	// One byte of a reading changed: 2965.100 kWh billed as 2966.100.
	tampered := strings.Replace(payloadMR, `"RV":2965.100`, `"RV":2966.100`, 1)
	// The same JSON, re-serialised with a space: equal as data, not as bytes.
	spaced := strings.Replace(payloadMR, `"FV":"1.0",`, `"FV": "1.0",`, 1)
	// A P-384 signer that hashed with SHA-384: table 22 says SHA-256.
	d384 := sha512.Sum384([]byte(payloadMR))
	sha384sig, err := ecdsa.SignASN1(rand.Reader, keyP384.priv, d384[:])
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKIXPublicKey(edPub)
	brainpoolKey := spkiOn(t, curveBrainP256.oid)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: keyP256.der})

	tests := []struct {
		name    string
		record  []byte
		key     []byte
		want    Outcome
		reason  string // the whole reason, or with a trailing "…" its beginning
		wantAlg string
	}{
		{"P-256 hex, SA given", record(payloadMR, sigSection(AlgorithmP256, "hex", p256)), keyP256.der, Verified, "", AlgorithmP256},
		{"P-256, SA and SE left out", record(payloadMR, sigSection("", "", p256)), keyP256.der, Verified, "", AlgorithmP256},
		{"P-256 lower-case hex SD", record(payloadMR, `{"SD":"`+hex.EncodeToString(p256)+`"}`), keyP256.der, Verified, "", AlgorithmP256},
		{"P-256 base64", record(payloadMR, sigSection(AlgorithmP256, "base64", p256)), keyP256.der, Verified, "", AlgorithmP256},
		{"P-256 base64 unpadded", record(payloadMR, `{"SE":"base64","SD":"`+base64.RawStdEncoding.EncodeToString(p256)+`"}`), keyP256.der, Verified, "", AlgorithmP256},
		{"P-384 hex", record(payloadMR, sigSection(AlgorithmP384, "hex", p384)), keyP384.der, Verified, "", AlgorithmP384},
		{"P-384 base64", record(payloadMR, sigSection(AlgorithmP384, "base64", p384)), keyP384.der, Verified, "", AlgorithmP384},
		{"key as upper-case hex", record(payloadMR, sigSection("", "", p256)), keyP256.hex(), Verified, "", AlgorithmP256},
		{"key as lower-case hex with newline", record(payloadMR, sigSection("", "", p256)), []byte(hex.EncodeToString(keyP256.der) + "\n"), Verified, "", AlgorithmP256},
		{"key as PEM", record(payloadMR, sigSection("", "", p256)), pemKey, Verified, "", AlgorithmP256},

		{"tampered reading value", record(tampered, sigSection(AlgorithmP256, "hex", p256)), keyP256.der, SignatureInvalid,
			"the signature does not match the payload under this key: the payload was changed after signing, or the key is not the signing meter's", AlgorithmP256},
		{"white space added to the payload", record(spaced, sigSection(AlgorithmP256, "hex", p256)), keyP256.der, SignatureInvalid, "the signature does not match…", AlgorithmP256},
		{"tampered P-384", record(tampered, sigSection(AlgorithmP384, "base64", p384)), keyP384.der, SignatureInvalid, "the signature does not match…", AlgorithmP384},
		{"another meter's key", record(payloadMR, sigSection(AlgorithmP256, "hex", p256)), keyP256b.der, SignatureInvalid, "the signature does not match…", AlgorithmP256},
		{"P-384 signed over SHA-384", record(payloadMR, sigSection(AlgorithmP384, "hex", sha384sig)), keyP384.der, SignatureInvalid, "the signature does not match…", AlgorithmP384},
		{"SD not hex", record(payloadMR, `{"SD":"30GG"}`), keyP256.der, SignatureInvalid, "SD is not valid hex: encoding/hex: invalid byte: U+0047 'G'", AlgorithmP256},
		{"SD not base64", record(payloadMR, `{"SE":"base64","SD":"!!"}`), keyP256.der, SignatureInvalid, "SD is not valid base64: illegal base64 data at input byte 0", AlgorithmP256},
		{"SD not DER", record(payloadMR, `{"SD":"1234567890ABCDEF"}`), keyP256.der, SignatureInvalid, "SD does not hold a DER-encoded ECDSA signature", AlgorithmP256},
		{"SD is the base64 of the signature but SE says hex", record(payloadMR, `{"SD":"`+base64.StdEncoding.EncodeToString(p256)+`"}`), keyP256.der, SignatureInvalid, "SD is not valid hex…", AlgorithmP256},

		{"brainpool, the spec's spelling", record(payloadMR, sigSection("ECDSA-brainpool256r1-SHA256", "", p256)), brainpoolKey, NotVerifiable,
			"ECDSA-brainpool256r1-SHA256 is not supported: Go's standard library has no brainpool curves", "ECDSA-brainpool256r1-SHA256"},
		{"brainpool, the usual spelling", record(payloadMR, sigSection("ECDSA-brainpoolP256r1-SHA256", "", p256)), brainpoolKey, NotVerifiable,
			"ECDSA-brainpoolP256r1-SHA256 is not supported: Go's standard library has no brainpool curves", "ECDSA-brainpoolP256r1-SHA256"},
		{"brainpool 384", record(payloadMR, sigSection("ECDSA-brainpool384r1-SHA256", "", p384)), nil, NotVerifiable,
			"ECDSA-brainpool384r1-SHA256 is not supported: Go's standard library has no brainpool curves", "ECDSA-brainpool384r1-SHA256"},
		{"secp256k1", record(payloadMR, sigSection("ECDSA-secp256k1-SHA256", "", p256)), keyP256.der, NotVerifiable,
			"ECDSA-secp256k1-SHA256 is not supported: Go's standard library has no secp256k1 curve", "ECDSA-secp256k1-SHA256"},
		{"secp192r1", record(payloadMR, sigSection("ECDSA-secp192r1-SHA256", "", p256)), keyP256.der, NotVerifiable,
			"ECDSA-secp192r1-SHA256 is not supported: Go's standard library has no P-192 curve", "ECDSA-secp192r1-SHA256"},
		{"unknown algorithm", record(payloadMR, sigSection("ECDSA-secp384r1-SHA384", "", p384)), keyP384.der, NotVerifiable,
			`unknown signature algorithm "ECDSA-secp384r1-SHA384": OCMF defines…`, "ECDSA-secp384r1-SHA384"},
		{"SA P-256, key P-384", record(payloadMR, sigSection(AlgorithmP256, "", p384)), keyP384.der, NotVerifiable,
			"curve mismatch: SA ECDSA-secp256r1-SHA256 signs on secp256r1 (P-256), but the key is on secp384r1 (P-384)", AlgorithmP256},
		{"SA P-384, key P-256", record(payloadMR, sigSection(AlgorithmP384, "", p256)), keyP256.der, NotVerifiable,
			"curve mismatch: SA ECDSA-secp384r1-SHA256 signs on secp384r1 (P-384), but the key is on secp256r1 (P-256)", AlgorithmP384},
		{"SA left out, brainpool key", record(payloadMR, sigSection("", "", p256)), brainpoolKey, NotVerifiable,
			"curve mismatch: SA ECDSA-secp256r1-SHA256 signs on secp256r1 (P-256), but the key is on brainpoolP256r1", AlgorithmP256},
		{"no key", record(payloadMR, sigSection("", "", p256)), nil, NotVerifiable,
			"no public key given: OCMF keys come out of band, looked up by the meter's or gateway's serial number", AlgorithmP256},
		{"blank key", record(payloadMR, sigSection("", "", p256)), []byte(" \n"), NotVerifiable, "no public key given…", AlgorithmP256},
		{"garbage key", record(payloadMR, sigSection("", "", p256)), []byte("not a key"), NotVerifiable,
			"public key unparsable: not a DER SubjectPublicKeyInfo (nor its hex or PEM)", AlgorithmP256},
		{"truncated key", record(payloadMR, sigSection("", "", p256)), keyP256.der[:40], NotVerifiable, "public key unparsable: not a DER…", AlgorithmP256},
		{"bare point", record(payloadMR, sigSection("", "", p256)), keyP256.der[len(keyP256.der)-65:], NotVerifiable,
			"public key unparsable: it looks like a bare curve point; give the DER SubjectPublicKeyInfo, which names the curve", AlgorithmP256},
		{"Ed25519 key", record(payloadMR, sigSection("", "", p256)), edDER, NotVerifiable, "public key unparsable: an Ed25519 key, not an ECDSA key", AlgorithmP256},
		{"PEM of another kind", record(payloadMR, sigSection("", "", p256)), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), NotVerifiable,
			`public key unparsable: PEM block "CERTIFICATE", want "PUBLIC KEY"`, AlgorithmP256},
		{"unknown encoding", record(payloadMR, `{"SE":"base32","SD":"00"}`), keyP256.der, NotVerifiable,
			`signature encoding (SE) "base32" is not supported: OCMF defines hex and base64`, AlgorithmP256},
		{"unknown mime type", record(payloadMR, `{"SM":"application/jose","SD":"00"}`), keyP256.der, NotVerifiable,
			`signature mime type (SM) "application/jose" is not supported: OCMF defines only application/x-der`, AlgorithmP256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustParse(t, tt.record)
			got := Verify(r, tt.key)
			if got.Outcome != tt.want || got.Algorithm != tt.wantAlg || !reasonMatches(got.Reason, tt.reason) {
				t.Errorf("Verify = %+v\nwant outcome %s, algorithm %s, reason %q", got, tt.want, tt.wantAlg, tt.reason)
			}
		})
	}
}

func reasonMatches(got, want string) bool {
	if prefix, ok := strings.CutSuffix(want, "…"); ok {
		return strings.HasPrefix(got, prefix)
	}
	return got == want
}

// Verify works on the bytes as received, so a record whose payload is
// pretty-printed verifies when it was signed pretty-printed, and the same
// data in compact form does not.
func TestVerifyPrettyPrintedPayload(t *testing.T) {
	keys(t)
	b, err := os.ReadFile("testdata/spec-example.ocmf")
	if err != nil {
		t.Fatal(err)
	}
	example := mustParse(t, b)
	payload := string(example.PayloadBytes)
	r := mustParse(t, signedRecord(t, keyP256, "", "", payload))
	if got := Verify(r, keyP256.der); got.Outcome != Verified {
		t.Fatalf("pretty-printed payload: %s", got)
	}
	compact := strings.Join(strings.Fields(payload), "")
	r.PayloadBytes = []byte(compact)
	if got := Verify(r, keyP256.der); got.Outcome != SignatureInvalid {
		t.Errorf("compacted payload: %s", got)
	}
}

// The spec's example record has a placeholder SD and no key.
func TestVerifySpecExample(t *testing.T) {
	keys(t)
	b, err := os.ReadFile("testdata/spec-example.ocmf")
	if err != nil {
		t.Fatal(err)
	}
	r := mustParse(t, b)
	if got := Verify(r, nil); got.Outcome != NotVerifiable {
		t.Errorf("without a key: %s", got)
	}
	if got := Verify(r, keyP256.der); got.Outcome != SignatureInvalid || got.Reason != "SD does not hold a DER-encoded ECDSA signature" {
		t.Errorf("with a key: %s", got)
	}
}

func TestResultString(t *testing.T) {
	for _, tt := range []struct {
		r    Result
		want string
	}{
		{Result{Outcome: Verified, Algorithm: AlgorithmP384}, "verified (ECDSA-secp384r1-SHA256)"},
		{Result{Outcome: NotVerifiable, Algorithm: AlgorithmP256, Reason: "no public key given"}, "not verifiable: no public key given"},
		{Result{Outcome: SignatureInvalid, Reason: "x"}, "signature invalid: x"},
		{Result{}, "no outcome ()"},
	} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	keys(t)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: keyP384.der})
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKIXPublicKey(edPub)
	for _, tt := range []struct {
		name string
		key  []byte
		want []byte // the DER; nil when refused
		err  string
	}{
		{"P-256 as upper-case hex", keyP256.hex(), keyP256.der, ""},
		{"P-256 as lower-case hex with white space", []byte(" " + strings.ToLower(string(keyP256.hex())) + "\n"), keyP256.der, ""},
		{"P-384 as DER", keyP384.der, keyP384.der, ""},
		{"P-384 as PEM", pemKey, keyP384.der, ""},
		{"brainpool", spkiOn(t, curveBrainP256.oid), nil, "brainpoolP256r1"},
		{"secp256k1", spkiOn(t, curveK256.oid), nil, "secp256k1"},
		{"Ed25519", edDER, nil, "Ed25519"},
		{"empty", nil, nil, "no public key"},
		{"garbage hex", []byte("00112233"), nil, "unparsable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pub, der, err := ParsePublicKey(tt.key)
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one naming %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(der) != string(tt.want) || pub == nil {
				t.Errorf("DER %x, want %x", der, tt.want)
			}
		})
	}
}
