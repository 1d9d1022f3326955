// Package auth holds evbill's credentials logic: API keys for the operator
// API, the hashes of charging stations' OCPP passwords, and which role may
// do what. It does no I/O besides reading crypto/rand, so every rule here is
// tested without a database or a network.
package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/evbill/evbill"
)

// KeyPrefix starts every API key secret, so a leaked key is recognisable by
// secret scanners and by people, and a station password or a token uid can
// never be mistaken for one.
const KeyPrefix = "evb_"

// DisplayPrefixLen is the length of the part of a secret shown in lists and
// logs: "evb_" and 8 characters (40 random bits), enough to tell keys apart
// and far too little to guess the rest.
const DisplayPrefixLen = len(KeyPrefix) + 8

// keyEncoding writes the random bytes in lower-case base32 without padding:
// the result is case-insensitive to read aloud, has no characters that need
// escaping in a header or a shell, and 32 bytes become 52 characters.
var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewAPIKey returns a new API key: the secret to show once to the user, its
// display prefix, and the hash to store. The secret carries 256 random bits.
func NewAPIKey() (secret, prefix string, hash []byte) {
	var b [32]byte
	// crypto/rand.Read never returns an error on supported platforms (it
	// crashes the program instead), so there is nothing to handle.
	_, _ = rand.Read(b[:])
	secret = KeyPrefix + strings.ToLower(keyEncoding.EncodeToString(b[:]))
	return secret, secret[:DisplayPrefixLen], HashAPIKey(secret)
}

// HashAPIKey returns the SHA-256 of the secret, the form in which keys are
// stored and looked up.
//
// A fast, unsalted hash is right here and would be wrong for passwords: a
// key has 256 random bits, so no amount of hashing speed makes guessing
// feasible, and the hash must be deterministic so that a request's key can
// be found by an indexed lookup of its hash instead of trying every stored
// key with a slow function on every request.
func HashAPIKey(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// LooksLikeAPIKey reports whether s has the shape of a secret made by
// NewAPIKey, so that obvious garbage is refused without a database lookup.
func LooksLikeAPIKey(s string) bool {
	if !strings.HasPrefix(s, KeyPrefix) || len(s) != len(KeyPrefix)+52 {
		return false
	}
	for _, c := range s[len(KeyPrefix):] {
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// Password hashing parameters. PBKDF2-HMAC-SHA256 is in the standard
// library (Go 1.24+) and FIPS-approved, which matters to some operators.
// These passwords are OCPP AuthorizationKeys: at least 16 characters and
// normally machine-generated, not a person's password, so the 600,000
// iterations OWASP recommends for human passwords (about 100 ms of CPU
// here) buy little and cost much: every charger is checked when it
// (re)connects, and 50,000 chargers reconnecting after a restart would
// queue for 40 minutes of CPU on two cores. 20,000 iterations take about
// 3 ms. The count is stored with each hash, so it can change without
// invalidating stored passwords.
const (
	PasswordIterations = 20_000
	passwordSaltLen    = 16
	passwordKeyLen     = 32
	passwordScheme     = "pbkdf2-sha256"
	// maxIterations bounds the work a stored hash can ask for, so a corrupt
	// or hostile row cannot make verification hang.
	maxIterations = 10_000_000
)

// OCPP 1.6 (security profile 1 and 2) passwords are 16 to 40 characters.
const (
	MinPasswordLen = 16
	MaxPasswordLen = 40
)

var b64 = base64.RawStdEncoding

// HashPassword returns a salted PBKDF2 hash of pw in the self-describing
// form "pbkdf2-sha256$ITERATIONS$SALT$KEY" (salt and key in unpadded
// base64). The iteration count is stored with the hash so that it can be
// raised later without invalidating the passwords already stored.
func HashPassword(pw string) ([]byte, error) {
	return hashPassword(pw, PasswordIterations)
}

func hashPassword(pw string, iter int) ([]byte, error) {
	salt := make([]byte, passwordSaltLen)
	_, _ = rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, pw, salt, iter, passwordKeyLen)
	if err != nil {
		return nil, evbill.Errorf(evbill.EINTERNAL, "hash password: %w", err)
	}
	out := make([]byte, 0, 100)
	out = append(out, passwordScheme...)
	out = append(out, '$')
	out = strconv.AppendInt(out, int64(iter), 10)
	out = append(out, '$')
	out = b64.AppendEncode(out, salt)
	out = append(out, '$')
	out = b64.AppendEncode(out, key)
	return out, nil
}

// VerifyPassword reports whether pw is the password hash was made from. It
// is false for a hash it cannot read. The final comparison takes the same
// time wherever the first difference is, so timing reveals nothing about
// the stored key.
func VerifyPassword(hash []byte, pw string) bool {
	parts := strings.Split(string(hash), "$")
	if len(parts) != 4 || parts[0] != passwordScheme {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > maxIterations {
		return false
	}
	salt, err := b64.DecodeString(parts[2])
	if err != nil || len(salt) == 0 {
		return false
	}
	want, err := b64.DecodeString(parts[3])
	if err != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Action is what a request does, as far as permissions are concerned.
type Action int

// The actions, from least to most privileged.
const (
	// Read covers every request that changes nothing, including a price
	// quote, which computes but stores nothing.
	Read Action = iota
	// Write covers creating, changing and deleting records other than API
	// keys.
	Write
	// ManageKeys covers listing and creating API keys: whoever can make a
	// key can make an admin key, so this is for admins alone.
	ManageKeys
	// Configure covers the tenant's own settings, such as letting unknown
	// chargers register themselves: they decide who may connect, so they
	// are for admins alone.
	Configure
	// Refund covers giving money back (refunds, credit notes): a finance
	// decision, for finance keys and admins, not for operators.
	Refund
)

// String names the action for error messages.
func (a Action) String() string {
	switch a {
	case Read:
		return "read"
	case Write:
		return "write"
	case ManageKeys:
		return "manage API keys"
	case Configure:
		return "configure the tenant"
	case Refund:
		return "refund"
	}
	return "unknown action " + strconv.Itoa(int(a))
}

// Allowed reports whether a key with the role may perform the action:
// readonly keys only read; finance keys read and refund; operators read
// and write everything except API keys, tenant settings and refunds;
// admins do everything. An unknown role may do nothing.
func Allowed(role evbill.Role, a Action) bool {
	switch role {
	case evbill.RoleAdmin:
		return a == Read || a == Write || a == ManageKeys || a == Configure || a == Refund
	case evbill.RoleOperator:
		return a == Read || a == Write
	case evbill.RoleFinance:
		return a == Read || a == Refund
	case evbill.RoleReadonly:
		return a == Read
	}
	return false
}
