package ocmf

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse holds Parse to three promises on any input: it does not panic,
// its errors are *ParseError, and a record it accepts parses again to the
// same result, both from its own bytes and from its sections put back
// together (so the split loses and invents nothing). Verify and the energy
// comparison run on every accepted record too, since they read what Parse
// produced and must not panic on it either. Seeds: testdata/fuzz/FuzzParse
// and the cases below.
func FuzzParse(f *testing.F) {
	keys(f)
	if b, err := os.ReadFile("testdata/spec-example.ocmf"); err == nil {
		f.Add(b)
	}
	for _, r := range interopRecords {
		f.Add([]byte(r.record))
	}
	f.Add(signedRecord(f, keyP256, AlgorithmP256, "base64", payloadMR))
	f.Add(signedRecord(f, keyP384, AlgorithmP384, "hex", payloadMR))
	f.Add(record(payloadWith("T1", `{"TM":"2018-07-24T13:22:04,000+0200 S","TX":"B","RV":1,"RI":"1-0:1.8.0","RU":"kWh","ST":"G"},{"TM":"2018-07-24T13:23:04.000-0130 R","TX":"E","RV":2e0,"CL":0.1}`), `{"SD":"00"}`))

	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "ocmf: ") {
				t.Fatalf("error %T %q is not a *ParseError", err, err)
			}
			return
		}
		again, err := Parse(r.Raw)
		if err != nil {
			t.Fatalf("a parsed record does not parse from its own bytes: %v", err)
		}
		if !reflect.DeepEqual(r, again) {
			t.Fatalf("re-parse differs:\n%+v\n%+v", r, again)
		}
		joined := "OCMF|" + string(r.PayloadBytes) + "|" + string(r.SignatureBytes)
		rejoined, err := Parse([]byte(joined))
		if err != nil {
			t.Fatalf("the record's sections put together do not parse: %v", err)
		}
		if !reflect.DeepEqual(r.Payload, rejoined.Payload) || r.Signature != rejoined.Signature ||
			string(r.PayloadBytes) != string(rejoined.PayloadBytes) {
			t.Fatalf("the record's sections put together parse differently")
		}
		for i, rd := range r.Payload.Readings {
			tm, err := ParseTime(rd.Time.String())
			if err != nil || !tm.At.Equal(rd.Time.At) || tm.Sync != rd.Time.Sync {
				t.Fatalf("RD[%d].TM %s does not round-trip: %v", i, rd.Time, err)
			}
		}
		if res := Verify(r, keyP256.der); res.Outcome == 0 || (res.Outcome != Verified) == (res.Reason == "") {
			t.Fatalf("Verify = %+v", res)
		}
		if c := CompareEnergy(r, "1000"); c.Outcome == 0 || (c.Outcome != Match) == (c.Reason == "") {
			t.Fatalf("CompareEnergy = %+v", c)
		}
	})
}
