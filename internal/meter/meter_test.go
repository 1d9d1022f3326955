package meter_test

import (
	"crypto/elliptic"
	"testing"
	"time"

	"github.com/evbill/evbill/internal/meter"
	"github.com/evbill/evbill/ocmf"
)

// TestReadingsVerify: the records the meter makes parse, verify under its
// published key, and compare as one session.
func TestReadingsVerify(t *testing.T) {
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		m, err := meter.New(c, "EVB-1")
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		var recs []ocmf.Record
		for _, r := range []struct {
			tx meter.Reason
			wh int64
		}{{meter.Begin, 1000}, {meter.End, 13500}} {
			raw, err := m.Reading(r.tx, at, r.wh, "TAG1")
			if err != nil {
				t.Fatal(err)
			}
			rec, err := ocmf.Parse([]byte(raw))
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, raw)
			}
			if res := ocmf.Verify(rec, []byte(m.PublicKeyHex())); res.Outcome != ocmf.Verified {
				t.Fatalf("%s: %s", c.Params().Name, res)
			}
			recs = append(recs, rec)
			at = at.Add(time.Hour)
		}
		if cmp := ocmf.CompareSessionEnergy(recs, "12500"); cmp.Outcome != ocmf.Match {
			t.Errorf("%s: %s", c.Params().Name, cmp)
		}
	}
}
