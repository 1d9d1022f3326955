package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/evbill/evbill"
)

// TestServeRefusesBadSMTPSettings: with EVBILL_SMTP_HOST set, a mistake
// in the other SMTP settings stops serve at its start, naming the
// variable, rather than at the first receipt.
func TestServeRefusesBadSMTPSettings(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"EVBILL_SMTP_TLS": "ssl"}, "EVBILL_SMTP_TLS"},
		{map[string]string{"EVBILL_SMTP_PORT": "smtp"}, "EVBILL_SMTP_PORT"},
		{map[string]string{"EVBILL_SMTP_FROM": ""}, "EVBILL_SMTP_FROM is required"},
		{map[string]string{"EVBILL_SMTP_USERNAME": "u"}, "EVBILL_SMTP_PASSWORD"},
	} {
		env := map[string]string{"EVBILL_DATA": t.TempDir(), "EVBILL_ADDR": "127.0.0.1:0",
			"EVBILL_SMTP_HOST": "smtp.example.com", "EVBILL_SMTP_FROM": "receipts@example.com"}
		for k, v := range tc.env {
			env[k] = v
		}
		var out, errb bytes.Buffer
		err := run(context.Background(), []string{"evbill", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
		if evbill.ErrorCode(err) != evbill.EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want EINVALID naming %s", tc.env, err, tc.want)
		}
	}
}
