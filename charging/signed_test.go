package charging_test

import (
	"context"
	"crypto/elliptic"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/internal/meter"
	"github.com/evbill/evbill/receipt"
)

func TestIsOCMF(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  bool
	}{
		{`OCMF|{"FV":"1.0"}|{"SD":"30"}`, true},
		{" \r\n\tOCMF|{}|{}", true}, // the format allows white space before the header
		{"ocmf|{}|{}", false},
		{"OCMF{}", false},
		{"", false},
		{"AP;0;3;ALCV3ABBBISHMA2RYEGAZE3HV5YQBQRQAEHAR2MN;BIHEIWSHAAA6MAAKGAAAAAAQBA;", false}, // Alfen's signed format
		{"12345", false},
	} {
		if got := charging.IsOCMF(tt.value); got != tt.want {
			t.Errorf("IsOCMF(%q) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

// TestSignedValuesKept: a MeterValues whose only sampled value is an OCMF
// record stores the record, exactly as its JSON string decodes, once
// however often it is resent; a signed value in another format is not
// kept, nor one outside a transaction. At the stop, a station with a key
// whose record does not verify has its session flagged.
func TestSignedValuesKept(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		m, err := meter.New(elliptic.P256(), "MTR-C1")
		if err != nil {
			t.Fatal(err)
		}
		w.station.MeterPublicKey = m.PublicKeyHex()
		if err := w.store.UpdateStation(ctx, &w.station); err != nil {
			t.Fatal(err)
		}
		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
		tx := int(ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"TAG1","meterStart":1000,"timestamp":%q}`,
			start.Format(time.RFC3339)))["transactionId"].(float64))
		// White space no encoder would write, signed as it is: it must be
		// kept as sent to verify.
		begin, err := m.Sign("{ \"FV\" : \"1.0\", \"GS\":\"MTR-C1\", \"PG\":\"T1\", \"MS\":\"MTR-C1\",\n \"RD\":[{\"TM\":\"2027-03-12T17:15:00,000+0000 S\"," +
			"\"TX\":\"B\",\"RV\":1000,\"RI\":\"1-0:1.8.0\",\"RU\":\"Wh\",\"ST\":\"G\"}] }")
		if err != nil {
			t.Fatal(err)
		}
		value, _ := json.Marshal(begin)
		mv := func(sampled string) string {
			return fmt.Sprintf(`{"connectorId":1,"transactionId":%d,"meterValue":[{"timestamp":%q,"sampledValue":[%s]}]}`,
				tx, start.Format(time.RFC3339), sampled)
		}
		signed := fmt.Sprintf(`{"value":%s,"context":"Transaction.Begin","format":"SignedData"}`, value)
		ch.call("MeterValues", mv(signed))
		ch.call("MeterValues", mv(signed))
		ch.call("MeterValues", mv(`{"value":"AP;0;3;ALCV3ABBBISHMA2RYEGAZE3HV5YQBQRQAEHAR2MN;","format":"SignedData"}`))
		ch.call("MeterValues", fmt.Sprintf(`{"connectorId":1,"meterValue":[{"timestamp":%q,"sampledValue":[%s]}]}`,
			start.Format(time.RFC3339), strings.Replace(signed, "T1", "T9", 1)))
		sess, err := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if err != nil {
			t.Fatal(err)
		}
		got, err := w.store.SignedValues(ctx, w.tenant.ID, sess.ID)
		if err != nil || len(got) != 1 || got[0].Raw != begin || got[0].Context != "Transaction.Begin" || !got[0].Time.Equal(start) {
			t.Fatalf("signed values %+v, %v; want the one record as sent", got, err)
		}

		// The end record, changed after signing, comes with the stop.
		end, err := m.Reading(meter.End, start.Add(time.Hour), 13500, "TAG1")
		if err != nil {
			t.Fatal(err)
		}
		end = strings.Replace(end, `"RV":13500`, `"RV":12500`, 1)
		value, _ = json.Marshal(end)
		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":13500,"timestamp":%q,"transactionData":[{"timestamp":%q,"sampledValue":[`+
			`{"value":"13500","context":"Transaction.End"},{"value":%s,"context":"Transaction.End","format":"SignedData"}]}]}`,
			tx, start.Add(time.Hour).Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339), value))
		sess, err = w.store.Session(ctx, w.tenant.ID, sess.ID)
		if err != nil || sess.State != evbill.SessionEnded || !slices.Contains(sess.Flags, evbill.FlagSignatureInvalid) {
			t.Fatalf("ended session %+v, %v; want it flagged %s", sess, err, evbill.FlagSignatureInvalid)
		}
		if _, err := w.store.CDRBySession(ctx, w.tenant.ID, sess.ID); err != nil {
			t.Errorf("a flagged session is still billed: %v", err)
		}
		got, err = w.store.SignedValues(ctx, w.tenant.ID, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		res := receipt.CheckSigned(got, m.PublicKeyHex(), "12500")
		if len(res.Checks) != 2 || res.Checks[0].Outcome != receipt.StatusVerified || res.Checks[1].Outcome != receipt.StatusSignatureInvalid {
			t.Errorf("checks %+v: want the begin verified as sent and the changed end invalid", res.Checks)
		}
	})
}
