package webhook_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/evbill/evbill/webhook"
)

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := webhook.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s, "whsec_") || seen[s] {
			t.Fatalf("bad or repeated secret %q", s)
		}
		seen[s] = true
		key, err := webhook.ParseSecret(s)
		if err != nil {
			t.Fatalf("ParseSecret(NewSecret()) = %v", err)
		}
		if len(key) != 32 {
			t.Fatalf("key of %d bytes, want 32", len(key))
		}
		// What any receiving library does with it: strip, decode.
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil || !bytes.Equal(raw, key) {
			t.Fatalf("plain decoding gives %x, %v; ParseSecret %x", raw, err, key)
		}
	}
}

func TestParseSecret(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xA5}, n)) }
	for _, tc := range []struct {
		name, in string
		want     error
		wantLen  int
	}{
		{"reference libraries' test secret", vectorSecret, nil, 24},
		{"24 bytes", "whsec_" + b64(24), nil, 24},
		{"64 bytes", "whsec_" + b64(64), nil, 64},
		{"32 bytes, padded", "whsec_" + b64(32), nil, 32},
		{"empty", "", webhook.ErrSecretPrefix, 0},
		{"bare base64", strings.TrimPrefix(vectorSecret, "whsec_"), webhook.ErrSecretPrefix, 0},
		{"upper-case prefix", "WHSEC_" + b64(32), webhook.ErrSecretPrefix, 0},
		{"ed25519 secret key", "whsk_" + b64(64), webhook.ErrSecretPrefix, 0},
		{"ed25519 public key", "whpk_" + b64(32), webhook.ErrSecretPrefix, 0},
		{"prefix only", "whsec_", webhook.ErrSecretLength, 0},
		{"23 bytes", "whsec_" + b64(23), webhook.ErrSecretLength, 0},
		{"65 bytes", "whsec_" + b64(65), webhook.ErrSecretLength, 0},
		{"not base64", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La!aSw", webhook.ErrSecretEncoding, 0},
		{"URL alphabet", "whsec_" + strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\xfb\xff", 16)))), webhook.ErrSecretEncoding, 0},
		{"padding missing", "whsec_" + strings.TrimRight(b64(32), "="), webhook.ErrSecretEncoding, 0},
		{"space inside", "whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw", webhook.ErrSecretEncoding, 0},
	} {
		key, err := webhook.ParseSecret(tc.in)
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: ParseSecret = %v", tc.name, err)
		case tc.want == nil && len(key) != tc.wantLen:
			t.Errorf("%s: key of %d bytes, want %d", tc.name, len(key), tc.wantLen)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: ParseSecret = %v, want %v", tc.name, err, tc.want)
		case tc.want != nil && key != nil:
			t.Errorf("%s: refused but returned a key", tc.name)
		}
		// Errors are logged; they must not carry the secret.
		if err != nil && len(tc.in) > 12 && strings.Contains(err.Error(), tc.in[6:]) {
			t.Errorf("%s: error %q quotes the secret", tc.name, err)
		}
	}
}

func TestSecretErrorsDistinct(t *testing.T) {
	errs := []error{webhook.ErrSecretPrefix, webhook.ErrSecretEncoding, webhook.ErrSecretLength}
	for i, a := range errs {
		for j, b := range errs {
			if i != j && errors.Is(a, b) {
				t.Errorf("%v is %v", a, b)
			}
		}
	}
}
