package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SecretPrefix starts every signing secret, as the Standard Webhooks
// specification asks, so that a leaked secret is recognisable by secret
// scanners and by people, and a customer's receiving library knows the
// string is an HMAC key rather than an ed25519 one ("whsk_", "whpk_").
const SecretPrefix = "whsec_"

// MinSecretLen and MaxSecretLen are the bounds, in bytes, the specification
// sets on HMAC keys: fewer than 192 bits is guessable in principle, and
// HMAC-SHA256 hashes a key longer than its 64-byte block down to 32 bytes,
// so a longer one would add nothing but length.
const (
	MinSecretLen = 24
	MaxSecretLen = 64
)

// newSecretLen is what NewSecret draws: the output size of SHA-256, below
// which RFC 2104 (section 3) calls an HMAC key weaker than the MAC itself.
const newSecretLen = 32

// Why ParseSecret refused a string. The wrapped error adds details but
// never quotes the secret, because such errors end up in logs.
var (
	// ErrSecretPrefix means the string does not start with "whsec_": it is
	// probably something else pasted into the wrong field (an asymmetric
	// key, an API key) or a bare base64 key the caller should prefix.
	ErrSecretPrefix = errors.New("webhook: secret does not start with " + SecretPrefix)
	// ErrSecretEncoding means the part after the prefix is not standard,
	// padded base64, so the key it encodes is unknown.
	ErrSecretEncoding = errors.New("webhook: secret is not valid base64")
	// ErrSecretLength means the decoded key is outside the 24–64 bytes the
	// specification allows, so a receiver's library may refuse it.
	ErrSecretLength = errors.New("webhook: secret length out of range")
)

// NewSecret returns a fresh signing secret for an endpoint in its
// serialised form, "whsec_" and the base64 of 32 random bytes, which is
// what an operator copies into the receiving side's configuration and what
// ParseSecret reads back.
//
// The error is always nil today: crypto/rand.Read never returns one (it
// crashes the program instead). It is part of the signature so that callers
// already handle a failure should the source of randomness ever become one
// that can fail.
func NewSecret() (string, error) {
	var b [newSecretLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("webhook: new secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:]), nil
}

// ParseSecret returns the HMAC key a serialised secret encodes, refusing
// anything but "whsec_" followed by standard padded base64 of 24 to 64
// bytes, so that a secret evbill accepts is one every Standard Webhooks
// library accepts too. Its errors wrap ErrSecretPrefix, ErrSecretEncoding
// or ErrSecretLength.
func ParseSecret(s string) ([]byte, error) {
	enc, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		switch {
		case strings.HasPrefix(s, "whsk_"), strings.HasPrefix(s, "whpk_"):
			return nil, fmt.Errorf("%w: it is an ed25519 key (v1a signatures are not supported)", ErrSecretPrefix)
		case s == "":
			return nil, fmt.Errorf("%w: it is empty", ErrSecretPrefix)
		}
		return nil, ErrSecretPrefix
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		// The CorruptInputError names only an offset, not the secret.
		return nil, fmt.Errorf("%w: %v", ErrSecretEncoding, err)
	}
	if len(key) < MinSecretLen || len(key) > MaxSecretLen {
		return nil, fmt.Errorf("%w: %d bytes, want %d to %d", ErrSecretLength, len(key), MinSecretLen, MaxSecretLen)
	}
	return key, nil
}
