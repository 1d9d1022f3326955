package auth

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/evbill/evbill"
)

func TestNewAPIKey(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		secret, prefix, hash := NewAPIKey()
		if !strings.HasPrefix(secret, KeyPrefix) || len(secret) != 56 {
			t.Fatalf("secret %q: want evb_ and 52 characters", secret)
		}
		if !LooksLikeAPIKey(secret) {
			t.Fatalf("LooksLikeAPIKey(%q) = false", secret)
		}
		if prefix != secret[:DisplayPrefixLen] || len(prefix) != 12 {
			t.Fatalf("prefix %q of %q", prefix, secret)
		}
		sum := sha256.Sum256([]byte(secret))
		if !bytes.Equal(hash, sum[:]) || !bytes.Equal(HashAPIKey(secret), hash) {
			t.Fatalf("hash of %q is not its SHA-256", secret)
		}
		if seen[secret] {
			t.Fatalf("duplicate secret %q", secret)
		}
		seen[secret] = true
	}
}

func TestLooksLikeAPIKey(t *testing.T) {
	secret, _, _ := NewAPIKey()
	for _, s := range []string{"", "evb_", "Bearer " + secret, strings.ToUpper(secret), secret + "a", secret[:55] + "1", "xyz_" + secret[4:]} {
		if LooksLikeAPIKey(s) {
			t.Errorf("LooksLikeAPIKey(%q) = true", s)
		}
	}
}

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(h), "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" || parts[1] != "20000" {
		t.Fatalf("hash %q: want pbkdf2-sha256$20000$salt$key", h)
	}
	if !VerifyPassword(h, "correct horse battery staple") {
		t.Fatal("the right password does not verify")
	}
	if VerifyPassword(h, "correct horse battery stapl") || VerifyPassword(h, "") {
		t.Fatal("a wrong password verifies")
	}
	h2, _ := HashPassword("correct horse battery staple")
	if bytes.Equal(h, h2) {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

// TestPasswordIterationsRead checks that the stored iteration count, not
// the current default, is what verification uses, so the default can be
// raised without locking out stations.
func TestPasswordIterationsRead(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		pw := rapid.StringN(MinPasswordLen, MaxPasswordLen, -1).Draw(t, "pw")
		iter := rapid.IntRange(1, 50).Draw(t, "iter")
		h, err := hashPassword(pw, iter)
		if err != nil {
			t.Fatal(err)
		}
		if !VerifyPassword(h, pw) {
			t.Fatalf("%q does not verify against its hash %q", pw, h)
		}
		other := rapid.StringN(0, MaxPasswordLen, -1).Draw(t, "other")
		if other != pw && VerifyPassword(h, other) {
			t.Fatalf("%q verifies against the hash of %q", other, pw)
		}
	})
}

func TestVerifyPasswordRejectsGarbage(t *testing.T) {
	good, _ := hashPassword("0123456789abcdef", 10)
	parts := strings.Split(string(good), "$")
	for _, h := range []string{
		"", "plain", "pbkdf2-sha256$10$" + parts[2],
		"pbkdf2-sha1$10$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$0$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$-5$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$999999999999$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$ten$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$10$!!$" + parts[3],
		"pbkdf2-sha256$10$" + parts[2] + "$",
		"pbkdf2-sha256$10$$" + parts[3],
	} {
		if VerifyPassword([]byte(h), "0123456789abcdef") {
			t.Errorf("VerifyPassword(%q) = true", h)
		}
	}
	if !VerifyPassword(good, "0123456789abcdef") {
		t.Fatal("the control hash does not verify")
	}
}

func TestAllowed(t *testing.T) {
	want := map[evbill.Role][5]bool{ // Read, Write, ManageKeys, Configure, Refund
		evbill.RoleAdmin:    {true, true, true, true, true},
		evbill.RoleOperator: {true, true, false, false, false},
		evbill.RoleFinance:  {true, false, false, false, true},
		evbill.RoleReadonly: {true, false, false, false, false},
		"":                  {false, false, false, false, false},
		"root":              {false, false, false, false, false},
	}
	for role, w := range want {
		for a, ok := range w {
			if got := Allowed(role, Action(a)); got != ok {
				t.Errorf("Allowed(%q, %v) = %v, want %v", role, Action(a), got, ok)
			}
		}
		if Allowed(role, Action(7)) {
			t.Errorf("Allowed(%q, unknown action) = true", role)
		}
	}
}

// BenchmarkVerifyPassword measures a charger's password check: the CPU
// each OCPP connection costs the central system when it connects.
func BenchmarkVerifyPassword(b *testing.B) {
	hash, err := HashPassword("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !VerifyPassword(hash, "correct horse battery staple") {
			b.Fatal("no match")
		}
	}
}
