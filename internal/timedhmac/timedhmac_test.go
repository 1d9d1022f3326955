package timedhmac_test

import (
	"errors"
	"testing"
	"time"

	"github.com/evbill/evbill/internal/timedhmac"
)

func TestVerify(t *testing.T) {
	secret, body := []byte("whsec_test"), []byte(`{"id":"evt_1"}`)
	now := time.Unix(1_700_000_000, 0)
	good := timedhmac.Sign(secret, now, body)
	other := timedhmac.Sign([]byte("whsec_other"), now, body)
	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", good, body, now, nil},
		{"valid 300 s later", good, body, now.Add(300 * time.Second), nil},
		{"one of two signatures", other + ",v1=" + good[len("t=1700000000,v1="):], body, now, nil},
		{"missing", "", body, now, timedhmac.ErrMissing},
		{"no timestamp", good[len("t=1700000000,"):], body, now, timedhmac.ErrMalformed},
		{"no v1", "t=1700000000", body, now, timedhmac.ErrMalformed},
		{"not hex", "t=1700000000,v1=zz", body, now, timedhmac.ErrMalformed},
		{"other secret", other, body, now, timedhmac.ErrMismatch},
		{"tampered body", good, []byte(`{"id":"evt_2"}`), now, timedhmac.ErrMismatch},
		{"timestamp moved", "t=1700000001" + good[len("t=1700000000"):], body, now, timedhmac.ErrMismatch},
		{"301 s late", good, body, now.Add(301 * time.Second), timedhmac.ErrStale},
		{"301 s early", good, body, now.Add(-301 * time.Second), timedhmac.ErrStale},
	} {
		err := timedhmac.Verify(tc.header, tc.body, secret, tc.now, 300*time.Second)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
}
