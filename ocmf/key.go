package ocmf

import (
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"strings"
)

// ParsePublicKey reads a meter's public key in any form Verify takes (a
// DER SubjectPublicKeyInfo, its hex, or a PEM "PUBLIC KEY" block) and
// returns it with its DER, so that a key can be checked and stored once,
// when an operator enters it, rather than found unusable at the end of a
// driver's session.
//
// Only keys Verify can use are accepted: ECDSA on secp256r1 (P-256) or
// secp384r1 (P-384), read by crypto/x509. A key on a curve OCMF names
// but Go's standard library lacks (the brainpool curves, secp256k1,
// secp192r1, secp192k1) is refused with that curve named, as is
// anything that is not an elliptic-curve key.
func ParsePublicKey(key []byte) (*ecdsa.PublicKey, []byte, error) {
	der, err := keyDER(key)
	if err != nil {
		return nil, nil, err
	}
	c, err := keyCurve(der)
	if err != nil {
		return nil, nil, fmt.Errorf("public key unparsable: %v", err)
	}
	if c.missing != "" {
		return nil, nil, fmt.Errorf("a key on %s cannot be verified: %s; evbill verifies secp256r1 (P-256) and secp384r1 (P-384)", c, c.missing)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, nil, fmt.Errorf("public key unparsable: %s", strings.TrimPrefix(err.Error(), "x509: "))
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok { // unreachable: keyCurve accepted only EC keys
		return nil, nil, fmt.Errorf("public key is a %T, not an ECDSA key", k)
	}
	return pub, der, nil
}
