package ocmf

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The example record printed in the spec (figure 1), verbatim but for the
// four spaces of markdown indentation. It has no public key and its SD is a
// placeholder, so it can only be parsed, not verified.
func TestParseSpecExample(t *testing.T) {
	b, err := os.ReadFile("testdata/spec-example.ocmf")
	if err != nil {
		t.Fatal(err)
	}
	r := mustParse(t, b)
	p := r.Payload
	if p.FormatVersion != "1.4" || p.GatewayID != "ABL SBC-301" || p.GatewaySerial != "808829900001" ||
		p.Pagination != (Pagination{Context: "T", Number: 12345}) || p.MeterSerial != "BQ27400330016" ||
		p.IdentificationStatus == nil || !*p.IdentificationStatus || p.IdentificationLevel != "VERIFIED" ||
		!reflect.DeepEqual(p.IdentificationFlags, []string{"RFID_PLAIN", "OCPP_RS_TLS"}) ||
		p.IdentificationType != "ISO14443" || p.IdentificationData != "1F2D3A4F5506C7" || p.TariffText != "Tarif 1" {
		t.Errorf("payload header fields: %+v", p)
	}
	if want := (&LossCompensation{Name: "cable_name", ID: "1", Resistance: "2", Unit: "mOhm"}); !reflect.DeepEqual(p.LossCompensation, want) {
		t.Errorf("LC = %+v, want %+v", p.LossCompensation, want)
	}
	if len(p.Readings) != 6 {
		t.Fatalf("%d readings, want 6", len(p.Readings))
	}
	wantValues := []string{"2935.600", "2965.100", "2905.600", "2934.600", "0.000", "29.000"}
	for i, rd := range p.Readings {
		if rd.Value != wantValues[i] {
			t.Errorf("RD[%d].RV = %q, want %q (kept as written)", i, rd.Value, wantValues[i])
		}
	}
	if got := p.Readings[1]; got.CumulatedLoss != "0.5" || got.Reason != ReasonEnd || got.Unit != "kWh" || got.CurrentType != "DC" || got.Status != StatusOK {
		t.Errorf("RD[1] = %+v", got)
	}
	if got, want := p.Readings[0].Time.String(), "2018-07-24T13:22:04,000+0200 S"; got != want {
		t.Errorf("RD[0].TM = %s, want %s", got, want)
	}
	if !bytes.HasPrefix(r.PayloadBytes, []byte("{\n    \"FV\": \"1.4\",")) || !bytes.HasSuffix(r.PayloadBytes, []byte("    ]\n}")) {
		t.Errorf("payload bytes not verbatim: %q…", r.PayloadBytes[:20])
	}
	if r.Signature.EffectiveAlgorithm() != AlgorithmP256 || r.Signature.EffectiveEncoding() != "hex" || r.Signature.Algorithm != "" {
		t.Errorf("signature defaults: %+v", r.Signature)
	}
}

func TestParseFields(t *testing.T) {
	const payload = `{"FV":"1.3","GI":"G","GS":"GS1","GV":"2.0","PG":"F7","MV":"V","MM":"M","MS":"MS1","MF":"1","CF":"cf","CT":"EVSEID","CI":"DE*ABC*E1","TT":"Tarif 1",` +
		`"XV":{"vendor":"extension"},"RD":[{"TM":"2024-02-29T23:59:59.999-0130 R","RV":1.5e3,"RI":"01-00:B1.08.00*FF","RU":"Wh","ST":"G"}]}`
	r := mustParse(t, record(payload, `{"SA":"ECDSA-secp384r1-SHA256","SE":"base64","SM":"application/x-der","SD":"AAAA","XY":1}`))
	want := Payload{
		FormatVersion: "1.3", GatewayID: "G", GatewaySerial: "GS1", GatewayVersion: "2.0",
		Pagination:  Pagination{Context: "F", Number: 7},
		MeterVendor: "V", MeterModel: "M", MeterSerial: "MS1", MeterFirmware: "1",
		ChargeControllerFirmware: "cf", ChargePointIDType: "EVSEID", ChargePointID: "DE*ABC*E1", TariffText: "Tarif 1",
		Readings: []Reading{{
			Time:  Time{At: time.Date(2024, 2, 29, 23, 59, 59, 999e6, time.FixedZone("", -90*60)), Sync: SyncRelative},
			Value: "1.5e3", ID: "01-00:B1.08.00*FF", Unit: "Wh", Status: StatusOK,
		}},
	}
	if !reflect.DeepEqual(r.Payload, want) {
		t.Errorf("payload:\n got %+v\nwant %+v", r.Payload, want)
	}
	if want := (Signature{Algorithm: AlgorithmP384, Encoding: "base64", MimeType: "application/x-der", Data: "AAAA"}); r.Signature != want {
		t.Errorf("signature = %+v, want %+v", r.Signature, want)
	}
	if r.Payload.Pagination.String() != "F7" {
		t.Errorf("pagination = %s", r.Payload.Pagination)
	}
}

// The spec's omission rule: a field equal to the previous reading's is
// left out, so TX=B, C, (C), (C), E and RI/RU given once.
func TestParseInheritance(t *testing.T) {
	r := mustParse(t, record(payloadWith("T1", `{"TM":"2018-07-24T13:22:04,000+0200 S","TX":"B","RV":1,"RI":"1-0:1.8.0","RU":"kWh","RT":"AC","EF":"","ST":"G"},`+
		`{"TM":"2018-07-24T13:23:04,000+0200 S","TX":"C","RV":2},{"TM":"2018-07-24T13:24:04,000+0200 S","RV":3},`+
		`{"TM":"2018-07-24T13:24:30,000+0200 S","EF":"t"},{"TM":"2018-07-24T13:25:04,000+0200 S","TX":"E","RV":4,"CL":0.1}`), `{"SD":"00"}`))
	rd := r.Payload.Readings
	wantTX := []Reason{ReasonBegin, ReasonCharging, ReasonCharging, ReasonCharging, ReasonEnd}
	wantRV := []string{"1", "2", "3", "", "4"}
	wantEF := []string{"", "", "", "t", "t"}
	for i := range rd {
		if rd[i].Reason != wantTX[i] || rd[i].Value != wantRV[i] || rd[i].ErrorFlags != wantEF[i] ||
			rd[i].ID != "1-0:1.8.0" || rd[i].Unit != "kWh" || rd[i].CurrentType != "AC" || rd[i].Status != StatusOK {
			t.Errorf("RD[%d] = %+v", i, rd[i])
		}
	}
	if rd[3].CumulatedLoss != "" || rd[4].CumulatedLoss != "0.1" {
		t.Errorf("CL is per reading: %q, %q", rd[3].CumulatedLoss, rd[4].CumulatedLoss)
	}
}

func TestParseKeepsBytes(t *testing.T) {
	payload := "\n { \"PG\" : \"T1\", \"MS\":\"m\",\t\"RD\":[{\"TM\":\"2018-07-24T13:22:04,000+0200 S\",\"ST\":\"G\"}] } \r\n"
	in := record(payload, `{"SD":"00"}`)
	r := mustParse(t, in)
	if string(r.PayloadBytes) != payload {
		t.Errorf("PayloadBytes = %q, want %q", r.PayloadBytes, payload)
	}
	if string(r.SignatureBytes) != `{"SD":"00"}` || !bytes.Equal(r.Raw, in) {
		t.Errorf("SignatureBytes = %q, Raw = %q", r.SignatureBytes, r.Raw)
	}
	in[10] = 'X' // the caller reuses its buffer
	if string(r.PayloadBytes) != payload {
		t.Error("the record shares the caller's buffer")
	}
	// Appending to PayloadBytes must not write into the signature section.
	_ = append(r.PayloadBytes, '!')
	if string(r.SignatureBytes) != `{"SD":"00"}` {
		t.Error("PayloadBytes has capacity over the signature section")
	}
}

func TestParseErrors(t *testing.T) {
	const rd0 = `{"TM":"2018-07-24T13:22:04,000+0200 S","TX":"B","RV":1,"RI":"1-0:1.8.0","RU":"kWh","ST":"G"}`
	const sig = `{"SD":"00"}`
	withRD := func(readings string) []byte { return record(payloadWith("T1", readings), sig) }
	withField := func(field string) []byte {
		return record(`{`+field+`,"PG":"T1","MS":"m","RD":[`+rd0+`]}`, sig)
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "ocmf: record has no pipe: want OCMF|{payload}|{signature}"},
		{"header", []byte(`OCMX|{}|{}`), `ocmf: header: "OCMX", want "OCMF"`},
		{"long header", []byte(`{"not":"an ocmf record at all"}|{}|{}`), `ocmf: header: "{\"not\":\"an ocmf "…, want "OCMF"`},
		{"no second pipe", []byte(`OCMF|{"PG":"T1"}`), "ocmf: record has no second pipe: want OCMF|{payload}|{signature}"},
		{"third pipe", []byte(`OCMF|{}|{"SD":"00"}|x`), "ocmf: record has a third pipe at byte 19: '|' may not appear inside a section"},
		{"payload not JSON", []byte(`OCMF|{"PG":T1}|{}`), `ocmf: payload: invalid JSON at byte 6: invalid character 'T' looking for beginning of value`},
		{"payload truncated", []byte(`OCMF|{"PG":"T1"|{}`), `ocmf: payload: invalid JSON: it ends early`},
		{"payload empty", []byte(`OCMF||{}`), `ocmf: payload: invalid JSON: it ends early`},
		{"payload array", []byte(`OCMF|[1]|{}`), `ocmf: payload: want a JSON object, got an array`},
		{"payload trailing", []byte(`OCMF|{"PG":"T1"} {}|{}`), `ocmf: payload: "{" after the object's end at byte 12`},
		{"duplicate key", record(`{"PG":"T1","PG":"T2"}`, sig), `ocmf: payload: duplicate key "PG"`},
		{"duplicate in reading", withRD(`{"TM":"2018-07-24T13:22:04,000+0200 S","RV":1,"RV":2,"RU":"kWh","ST":"G"}`), `ocmf: payload: RD[0]: duplicate key "RV"`},
		{"unsupported version", withField(`"FV":"2.0"`), `ocmf: payload: FV: unsupported format version "2.0": this package reads 0.x and 1.x`},
		{"version shape", withField(`"FV":"1"`), `ocmf: payload: FV: "1" is not <major>.<minor>`},
		{"version number", withField(`"FV":1.0`), `ocmf: payload: FV: want a string, got a number`},
		{"PG missing", record(`{"MS":"m","RD":[`+rd0+`]}`, sig), `ocmf: payload: PG: missing: every record has its pagination`},
		{"PG leading zero", record(payloadWith("T01", rd0), sig), `ocmf: payload: PG: "T01" is not T<number> or F<number> (no leading zeros)`},
		{"PG context", record(payloadWith("X1", rd0), sig), `ocmf: payload: PG: "X1" is not T<number> or F<number> (no leading zeros)`},
		{"no serial", record(`{"PG":"T1","RD":[`+rd0+`]}`, sig), `ocmf: payload: neither MS (meter serial) nor GS (gateway serial) is given: one is needed to tie the record to a public key`},
		{"IS string", withField(`"IS":"true"`), `ocmf: payload: IS: want true or false, got a string`},
		{"IF not array", withField(`"IF":"RFID_PLAIN"`), `ocmf: payload: IF: want an array of strings, got a string`},
		{"IF element", withField(`"IF":["RFID_PLAIN",3]`), `ocmf: payload: IF[1]: want a string, got a number`},
		{"LC not object", withField(`"LC":[]`), `ocmf: payload: LC: want an object, got an array`},
		{"LC without LR", withField(`"LC":{"LU":"mOhm"}`), `ocmf: payload: LC.LR: missing: the cable resistance is required`},
		{"LC unit", withField(`"LC":{"LR":2,"LU":"Ohm"}`), `ocmf: payload: LC.LU: "Ohm", want "mOhm" or "uOhm"`},
		{"RD missing", record(`{"PG":"T1","MS":"m"}`, sig), `ocmf: payload: RD: missing: a record has one or more readings`},
		{"RD empty", withRD(``), `ocmf: payload: RD: no readings: a record has one or more`},
		{"RD object", record(`{"PG":"T1","MS":"m","RD":{}}`, sig), `ocmf: payload: RD: want an array of readings, got an object`},
		{"RD element", withRD(rd0 + `,7`), `ocmf: payload: RD[1]: want an object, got a number`},
		{"TM missing", withRD(`{"RV":1,"RU":"kWh","ST":"G"}`), `ocmf: payload: RD[0].TM: missing: every reading has its time`},
		{"TM shape", withRD(rd0 + `,` + rd0 + `,{"TM":"2018-07-24 13:22:04"}`), `ocmf: payload: RD[2].TM: "2018-07-24 13:22:04" is not an OCMF time: want e.g. 2018-07-24T13:22:04,000+0200 S`},
		{"TM no sync", withRD(`{"TM":"2018-07-24T13:22:04,000+0200","ST":"G"}`), `ocmf: payload: RD[0].TM: "2018-07-24T13:22:04,000+0200" has no clock state: want the time, a space and U, I, S or R`},
		{"TM sync letter", withRD(`{"TM":"2018-07-24T13:22:04,000+0200 Q","ST":"G"}`), `ocmf: payload: RD[0].TM: "2018-07-24T13:22:04,000+0200 Q": clock state "Q" is not one of U, I, S, R`},
		{"TM range", withRD(`{"TM":"2019-02-29T13:22:04,000+0200 S","ST":"G"}`), `ocmf: payload: RD[0].TM: "2019-02-29T13:22:04,000+0200 S": a date or time field is out of range`},
		{"TX", withRD(`{"TM":"2018-07-24T13:22:04,000+0200 S","TX":"Z","ST":"G"}`), `ocmf: payload: RD[0].TX: "Z" is not one of B, C, X, E, L, R, A, P, S, T`},
		{"RV string", withRD(`{"TM":"2018-07-24T13:22:04,000+0200 S","RV":"2935.6","RU":"kWh","ST":"G"}`), `ocmf: payload: RD[0].RV: want a JSON number, got a string`},
		{"RV without unit", withRD(`{"TM":"2018-07-24T13:22:04,000+0200 S","RV":1,"ST":"G"}`), `ocmf: payload: RD[0].RU: missing: a reading value needs its unit, and no earlier reading gave one`},
		{"CL null", withRD(`{"TM":"2018-07-24T13:22:04,000+0200 S","CL":null,"ST":"G"}`), `ocmf: payload: RD[0].CL: want a JSON number, got null`},
		{"EF", withRD(`{"TM":"2018-07-24T13:22:04,000+0200 S","EF":"Ex","ST":"G"}`), `ocmf: payload: RD[0].EF: "Ex": only E (energy) and t (time) are defined`},
		{"ST missing", withRD(`{"TM":"2018-07-24T13:22:04,000+0200 S"}`), `ocmf: payload: RD[0].ST: missing: every reading has the meter's state`},
		{"ST", withRD(`{"TM":"2018-07-24T13:22:04,000+0200 S","ST":"OK"}`), `ocmf: payload: RD[0].ST: "OK" is not one of N, G, T, D, R, M, X, I, O, S, E, F`},
		{"signature not JSON", record(payloadWith("T1", rd0), `SD=00`), `ocmf: signature: invalid JSON at byte 0: invalid character 'S' looking for beginning of value`},
		{"SD missing", record(payloadWith("T1", rd0), `{"SA":"ECDSA-secp256r1-SHA256"}`), `ocmf: signature: SD: missing: a record carries its signature data`},
		{"SD number", record(payloadWith("T1", rd0), `{"SD":12}`), `ocmf: signature: SD: want a string, got a number`},
		{"SD twice", record(payloadWith("T1", rd0), `{"SD":"00","SD":"01"}`), `ocmf: signature: duplicate key "SD"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", r)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error is %T, not *ParseError", err)
			}
			if (tt.name == "unsupported version") != errors.Is(err, ErrUnsupportedVersion) {
				t.Errorf("errors.Is(err, ErrUnsupportedVersion) = %v", errors.Is(err, ErrUnsupportedVersion))
			}
		})
	}
}

func TestParseVersions(t *testing.T) {
	const rd = `{"TM":"2018-07-24T13:22:04,000+0200 S","ST":"G"}`
	for _, fv := range []string{"0.4", "1.0", "1.4", "1.15", "01.0"} {
		if _, err := Parse(record(`{"FV":"`+fv+`","PG":"T1","MS":"m","RD":[`+rd+`]}`, `{"SD":"00"}`)); err != nil {
			t.Errorf("FV %s: %v", fv, err)
		}
	}
	// FV is optional.
	if _, err := Parse(record(`{"PG":"T1","MS":"m","RD":[`+rd+`]}`, `{"SD":"00"}`)); err != nil {
		t.Errorf("no FV: %v", err)
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		sync SyncState
		out  string // String(), when it differs from in
	}{
		{"2018-07-24T13:22:04,000+0200 S", time.Date(2018, 7, 24, 11, 22, 4, 0, time.UTC), SyncSynchronized, ""},
		{"2019-08-13T10:03:36,000+0000 R", time.Date(2019, 8, 13, 10, 3, 36, 0, time.UTC), SyncRelative, ""},
		{"2024-02-29T00:00:00,001-0530 I", time.Date(2024, 2, 29, 5, 30, 0, 1e6, time.UTC), SyncInformative, ""},
		{"1999-12-31T23:59:59.999+1400 U", time.Date(1999, 12, 31, 9, 59, 59, 999e6, time.UTC), SyncUnknown, "1999-12-31T23:59:59,999+1400 U"},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if err != nil {
			t.Errorf("ParseTime(%q): %v", tt.in, err)
			continue
		}
		if !got.At.Equal(tt.want) || got.Sync != tt.sync {
			t.Errorf("ParseTime(%q) = %v %s, want %v %s", tt.in, got.At, got.Sync, tt.want, tt.sync)
		}
		out := tt.out
		if out == "" {
			out = tt.in
		}
		if got.String() != out {
			t.Errorf("String() = %q, want %q", got.String(), out)
		}
	}
	for _, in := range []string{
		"", "2018-07-24T13:22:04,000+0200 s", "2018-07-24T13:22:04,000+0200  S", "2018-07-24T13:22:04,00+0200 S",
		"2018-7-24T13:22:04,000+0200 S ", "2018-07-24T24:00:00,000+0200 S", "2018-07-24T13:60:00,000+0200 S",
		"2018-07-24T13:22:60,000+0200 S", "2018-00-24T13:22:04,000+0200 S", "2018-07-32T13:22:04,000+0200 S",
		"2018-07-24T13:22:04,000+2400 S", "2018-07-24T13:22:04,000+0260 S", "2018-07-24T13:22:04,000Z0200 S",
		"2018-07-24T13:22:04,000+02:0 S", "2018-07-24T13:22:04Z", "２018-07-24T13:22:04,000+0200 S",
	} {
		if got, err := ParseTime(in); err == nil {
			t.Errorf("ParseTime(%q) = %v, want an error", in, got)
		}
	}
}

func TestReasonEnds(t *testing.T) {
	for _, r := range []Reason{ReasonEnd, ReasonLocalStop, ReasonRemoteStop, ReasonAbort, ReasonPowerFailure} {
		if !r.Ends() {
			t.Errorf("%s does not end", r)
		}
	}
	for _, r := range []Reason{ReasonBegin, ReasonCharging, ReasonException, ReasonSuspended, ReasonTariffChange, ""} {
		if r.Ends() {
			t.Errorf("%q ends", r)
		}
	}
}

func TestParseNeverPanicsOnTruncations(t *testing.T) {
	b, err := os.ReadFile("testdata/spec-example.ocmf")
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		_, _ = Parse(b[:i])
		_, _ = Parse(b[i:])
	}
	if _, err := Parse([]byte(strings.Repeat("[", 100000))); err == nil {
		t.Error("Parse of brackets succeeded")
	}
}
