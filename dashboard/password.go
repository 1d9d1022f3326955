package dashboard

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/evbill/evbill"
)

// Users' passwords are hashed with argon2id (RFC 9106), not with the
// PBKDF2 that auth uses for chargers' OCPP passwords: those are long
// machine-made secrets checked at every reconnect of thousands of
// chargers, these are chosen by people, checked at a login, and worth
// the memory-hard function that makes guessing them on GPUs expensive.
// The parameters are OWASP's for argon2id (19 MiB, 2 passes, 1 lane),
// about 40 ms here (BenchmarkVerifyPassword); they are stored with each
// hash in the PHC string format, so they can be raised without
// invalidating stored passwords.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
	// The bounds of what a stored hash may ask for, so that a corrupt or
	// hostile row cannot make a login take minutes or gigabytes.
	maxArgonTime    = 16
	maxArgonMemory  = 256 * 1024
	maxArgonThreads = 16
)

// Password lengths. NIST SP 800-63B asks for at least 8 characters and
// no composition rules; evbill asks for 12, since an operator's login
// sees money and drivers' data. The maximum only bounds the work of a
// request, far above any passphrase.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

var phc = base64.RawStdEncoding

// CheckPassword returns EINVALID when pw cannot be a user's password: fewer
// than MinPasswordLen characters, more than MaxPasswordLen bytes, or not
// UTF-8 text.
func CheckPassword(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return evbill.Errorf(evbill.EINVALID, "the password is not UTF-8 text")
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return evbill.Errorf(evbill.EINVALID, "the password must have at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return evbill.Errorf(evbill.EINVALID, "the password must have at most %d bytes", MaxPasswordLen)
	}
	return nil
}

// HashPassword returns the argon2id hash of pw with a random salt, as a
// PHC string: "$argon2id$v=19$m=19456,t=2,p=1$SALT$KEY". It refuses a
// password CheckPassword refuses.
func HashPassword(pw string) ([]byte, error) {
	if err := CheckPassword(pw); err != nil {
		return nil, err
	}
	return hashArgon(pw, argonTime, argonMemory, argonThreads), nil
}

func hashArgon(pw string, t, m uint32, p uint8) []byte {
	salt := make([]byte, argonSaltLen)
	_, _ = rand.Read(salt) // never fails on supported platforms
	key := argon2.IDKey([]byte(pw), salt, t, m, p, argonKeyLen)
	return fmt.Appendf(nil, "$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p, phc.EncodeToString(salt), phc.EncodeToString(key))
}

// VerifyPassword reports whether pw is the password hash was made from;
// false for a hash it cannot read or whose parameters are out of bounds.
// The comparison takes the same time wherever the first difference is.
func VerifyPassword(hash []byte, pw string) bool {
	if len(pw) > MaxPasswordLen {
		return false
	}
	parts := strings.Split(string(hash), "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); n != 3 || err != nil {
		return false
	}
	if t < 1 || t > maxArgonTime || m < 8*uint32(p) || m > maxArgonMemory || p < 1 || p > maxArgonThreads {
		return false
	}
	salt, err := phc.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false
	}
	want, err := phc.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
