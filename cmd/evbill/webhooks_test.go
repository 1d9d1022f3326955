package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/evbill/evbill"
)

// TestServeRefusesBadWebhookSetting: EVBILL_WEBHOOK_ALLOW_PRIVATE is 1
// or 0; anything else stops serve with a message naming it, rather than
// guessing which way an operator meant.
func TestServeRefusesBadWebhookSetting(t *testing.T) {
	env := map[string]string{"EVBILL_DATA": t.TempDir(), "EVBILL_ADDR": "127.0.0.1:0", "EVBILL_WEBHOOK_ALLOW_PRIVATE": "yes"}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"evbill", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	if evbill.ErrorCode(err) != evbill.EINVALID || !strings.Contains(err.Error(), "EVBILL_WEBHOOK_ALLOW_PRIVATE") {
		t.Errorf("error %v, want EINVALID naming EVBILL_WEBHOOK_ALLOW_PRIVATE", err)
	}
}
