package ocmf

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Outcome is what Verify concluded. The zero value is no outcome, so that
// a Result nobody filled in never reads as verified.
type Outcome int

// The three outcomes of Verify. NotVerifiable and SignatureInvalid are kept
// apart because they call for different actions: the first for a key or
// software that can check the record, the second for a dispute, since the
// payload is not what the meter signed (or the key is not the meter's).
const (
	// Verified means the signature over the payload as received checks
	// out under the key.
	Verified Outcome = iota + 1
	// NotVerifiable means the check could not be made (no key, a key that
	// does not parse, an algorithm or curve Go's standard library does not
	// have, SA and the key disagreeing on the curve). It says nothing about
	// the record either way.
	NotVerifiable
	// SignatureInvalid means the check was made and failed: the payload
	// was changed (a single byte, white space included), the key is another
	// meter's, or SD does not hold a signature.
	SignatureInvalid
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case Verified:
		return "verified"
	case NotVerifiable:
		return "not verifiable"
	case SignatureInvalid:
		return "signature invalid"
	}
	return "no outcome"
}

// Result is Verify's answer. Verify returns no error: every way a check can
// end is one of the three outcomes, with the reason in words.
type Result struct {
	// Outcome is Verified, NotVerifiable or SignatureInvalid.
	Outcome Outcome
	// Algorithm is the signature algorithm the check used or would have
	// used: SA, or the default when the record leaves SA out.
	Algorithm string
	// Reason says why the outcome is NotVerifiable or SignatureInvalid;
	// empty when Verified.
	Reason string
}

// String formats the result for a log line or a receipt, e.g.
// "not verifiable: ECDSA-brainpool256r1-SHA256 is not supported: …".
func (r Result) String() string {
	if r.Reason == "" {
		return r.Outcome.String() + " (" + r.Algorithm + ")"
	}
	return r.Outcome.String() + ": " + r.Reason
}

// curve is an elliptic curve OCMF names (table 22) or a key may be on.
type curve struct {
	name    string // as OCMF's table 22 or the SEC standards name it
	alias   string // the NIST name, when it has one
	oid     asn1.ObjectIdentifier
	missing string // why Go's standard library cannot verify on it; empty when it can
}

func (c *curve) String() string {
	if c.alias == "" {
		return c.name
	}
	return c.name + " (" + c.alias + ")"
}

var (
	curveP256      = &curve{name: "secp256r1", alias: "P-256", oid: asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}}
	curveP384      = &curve{name: "secp384r1", alias: "P-384", oid: asn1.ObjectIdentifier{1, 3, 132, 0, 34}}
	curveP521      = &curve{name: "secp521r1", alias: "P-521", oid: asn1.ObjectIdentifier{1, 3, 132, 0, 35}, missing: "OCMF defines no algorithm on P-521"}
	curveP192      = &curve{name: "secp192r1", alias: "P-192", oid: asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 1}, missing: "Go's standard library has no P-192 curve"}
	curveK192      = &curve{name: "secp192k1", oid: asn1.ObjectIdentifier{1, 3, 132, 0, 31}, missing: "Go's standard library has no secp192k1 curve"}
	curveK256      = &curve{name: "secp256k1", oid: asn1.ObjectIdentifier{1, 3, 132, 0, 10}, missing: "Go's standard library has no secp256k1 curve"}
	curveBrainP256 = &curve{name: "brainpoolP256r1", oid: asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 7}, missing: "Go's standard library has no brainpool curves"}
	curveBrainP384 = &curve{name: "brainpoolP384r1", oid: asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 11}, missing: "Go's standard library has no brainpool curves"}

	knownCurves = []*curve{curveP256, curveP384, curveP521, curveP192, curveK192, curveK256, curveBrainP256, curveBrainP384}

	// algorithms maps SA to its curve. Every OCMF algorithm hashes with
	// SHA-256, ECDSA-secp384r1-SHA256 included (table 22), so the hash is
	// not in the table. The brainpool names are the spec's spelling and the
	// usual one with a P, since meters write both.
	algorithms = map[string]*curve{
		"ECDSA-secp192k1-SHA256":       curveK192,
		"ECDSA-secp256k1-SHA256":       curveK256,
		"ECDSA-secp192r1-SHA256":       curveP192,
		AlgorithmP256:                  curveP256,
		"ECDSA-brainpool256r1-SHA256":  curveBrainP256,
		"ECDSA-brainpoolP256r1-SHA256": curveBrainP256,
		AlgorithmP384:                  curveP384,
		"ECDSA-brainpool384r1-SHA256":  curveBrainP384,
		"ECDSA-brainpoolP384r1-SHA256": curveBrainP384,
	}

	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidRSA         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidEd25519     = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// Verify checks the record's signature over r.PayloadBytes, the payload
// exactly as received, with the meter's public key. The key is a DER
// SubjectPublicKeyInfo, or that DER in hex (as OCMF tools and the
// transparency software pass keys around) or in a PEM "PUBLIC KEY" block.
//
// ECDSA-secp256r1-SHA256 (the default when SA is left out) and
// ECDSA-secp384r1-SHA256 are verified; the spec's other algorithms are
// NotVerifiable with the reason. The signature is read per SE (hex, the
// default, or base64) as a DER ECDSA signature per SM.
func Verify(r Record, publicKey []byte) Result {
	res := Result{Algorithm: r.Signature.EffectiveAlgorithm()}
	notVerifiable := func(format string, args ...any) Result {
		res.Outcome, res.Reason = NotVerifiable, fmt.Sprintf(format, args...)
		return res
	}
	invalid := func(format string, args ...any) Result {
		res.Outcome, res.Reason = SignatureInvalid, fmt.Sprintf(format, args...)
		return res
	}

	want, ok := algorithms[res.Algorithm]
	if !ok {
		return notVerifiable("unknown signature algorithm %q: OCMF defines ECDSA-<curve>-SHA256 on secp192k1, secp256k1, secp192r1, secp256r1, brainpool256r1, secp384r1 and brainpool384r1", res.Algorithm)
	}
	if want.missing != "" {
		return notVerifiable("%s is not supported: %s", res.Algorithm, want.missing)
	}
	if m := r.Signature.EffectiveMimeType(); m != DefaultMimeType {
		return notVerifiable("signature mime type (SM) %q is not supported: OCMF defines only %s", m, DefaultMimeType)
	}
	enc := strings.ToLower(r.Signature.EffectiveEncoding())
	if enc != DefaultEncoding && enc != encodingBase64 {
		return notVerifiable("signature encoding (SE) %q is not supported: OCMF defines hex and base64", r.Signature.EffectiveEncoding())
	}
	if r.Signature.Data == "" {
		return notVerifiable("the record has no signature data (SD)")
	}

	der, err := keyDER(publicKey)
	if err != nil {
		return notVerifiable("%v", err)
	}
	got, err := keyCurve(der)
	if err != nil {
		return notVerifiable("public key unparsable: %v", err)
	}
	if got != want {
		return notVerifiable("curve mismatch: SA %s signs on %s, but the key is on %s", res.Algorithm, want, got)
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return notVerifiable("public key unparsable: %s", strings.TrimPrefix(err.Error(), "x509: "))
	}
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok { // unreachable: keyCurve accepted only EC keys
		return notVerifiable("public key is a %T, not an ECDSA key", key)
	}

	sig, err := decodeSignature(r.Signature.Data, enc)
	if err != nil {
		return invalid("SD is not valid %s: %v", enc, err)
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) > 0 {
		return invalid("SD does not hold a DER-encoded ECDSA signature")
	}
	digest := sha256.Sum256(r.PayloadBytes)
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return invalid("the signature does not match the payload under this key: the payload was changed after signing, or the key is not the signing meter's")
	}
	res.Outcome = Verified
	return res
}

// keyDER turns the key as given into DER, telling hex and PEM text from
// binary DER by their content. Binary DER is taken untrimmed, since its
// last bytes may well be white-space characters.
func keyDER(b []byte) ([]byte, error) {
	text := bytes.TrimSpace(b)
	switch {
	case len(text) == 0:
		return nil, errors.New("no public key given: OCMF keys come out of band, looked up by the meter's or gateway's serial number")
	case bytes.HasPrefix(text, []byte("-----BEGIN")):
		block, _ := pem.Decode(text)
		if block == nil {
			return nil, errors.New("public key unparsable: PEM text without a complete block")
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("public key unparsable: PEM block %q, want \"PUBLIC KEY\"", block.Type)
		}
		return block.Bytes, nil
	case isHexText(text):
		der := make([]byte, len(text)/2)
		if _, err := hex.Decode(der, text); err != nil { // unreachable: isHexText checked
			return nil, fmt.Errorf("public key unparsable: %v", err)
		}
		return der, nil
	}
	return b, nil
}

func isHexText(b []byte) bool {
	if len(b)%2 != 0 {
		return false
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// keyCurve reads the curve named in a SubjectPublicKeyInfo. It reads the
// structure itself because crypto/x509 refuses keys on curves it lacks
// with one generic error, and a brainpool key under a secp256r1 SA should
// be reported as the curve mismatch it is.
func keyCurve(der []byte) (*curve, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(der, &spki); err != nil || len(rest) > 0 {
		if (len(der) == 65 || len(der) == 97) && der[0] == 4 {
			return nil, errors.New("it looks like a bare curve point; give the DER SubjectPublicKeyInfo, which names the curve")
		}
		return nil, errors.New("not a DER SubjectPublicKeyInfo (nor its hex or PEM)")
	}
	alg := spki.Algorithm.Algorithm
	switch {
	case alg.Equal(oidRSA):
		return nil, errors.New("an RSA key, not an elliptic-curve key")
	case alg.Equal(oidEd25519):
		return nil, errors.New("an Ed25519 key, not an ECDSA key")
	case !alg.Equal(oidECPublicKey):
		return nil, fmt.Errorf("algorithm %s, not an elliptic-curve key", alg)
	}
	var named asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(spki.Algorithm.Parameters.FullBytes, &named); err != nil || len(rest) > 0 {
		return nil, errors.New("the key's curve is not given by name (explicit curve parameters are not supported)")
	}
	for _, c := range knownCurves {
		if c.oid.Equal(named) {
			return c, nil
		}
	}
	return &curve{name: "the curve " + named.String(), missing: "unknown curve"}, nil
}

func decodeSignature(data, enc string) ([]byte, error) {
	if enc == encodingBase64 {
		if b, err := base64.StdEncoding.DecodeString(data); err == nil {
			return b, nil
		}
		// Some signers leave the padding off; the value is the same.
		return base64.RawStdEncoding.DecodeString(data)
	}
	return hex.DecodeString(data)
}
