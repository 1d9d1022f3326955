package cdr

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/tariff"
)

func TestParseSpecExample(t *testing.T) {
	c, err := Parse(readSpec(t, "cdr_example.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := &c.Session
	if want := ts(t, "2015-06-29T21:39:09Z"); !s.Start.Equal(want) {
		t.Errorf("Start = %v, want %v", s.Start, want)
	}
	if want := ts(t, "2015-06-29T23:37:32Z"); !s.End.Equal(want) {
		t.Errorf("End = %v, want %v", s.End, want)
	}
	if s.Location != nil {
		t.Errorf("Location = %v, want nil", s.Location)
	}
	if len(s.Periods) != 1 {
		t.Fatalf("%d periods, want 1", len(s.Periods))
	}
	p := s.Periods[0]
	if !p.Start.Equal(s.Start) || p.Has != tariff.HasTime || p.Time.Cmp(dec("7102.8")) != 0 {
		t.Errorf("period = %+v, want TIME 7102.8 s from the session start", p)
	}
	if c.Currency != money.MustCurrency("EUR") {
		t.Errorf("Currency = %v", c.Currency)
	}
	if c.TotalEnergy.Cmp(dec("15.342")) != 0 || c.TotalTime.Cmp(dec("1.973")) != 0 || c.HasTotalParkingTime {
		t.Errorf("totals = %s kWh, %s h, parking %v", c.TotalEnergy, c.TotalTime, c.HasTotalParkingTime)
	}
	if c.Derived() {
		t.Error("Derived() = true for a CDR that reports TIME")
	}
}

// base is a compact CDR that the error cases below break one rule at a time.
const base = `{"id":"1","start_date_time":"2024-03-01T10:00:00Z","end_date_time":"2024-03-01T12:00:00Z",` +
	`"currency":"EUR","charging_periods":[` +
	`{"start_date_time":"2024-03-01T10:00:00Z","dimensions":[{"type":"ENERGY","volume":10},{"type":"TIME","volume":1.5}]},` +
	`{"start_date_time":"2024-03-01T11:30:00Z","dimensions":[{"type":"PARKING_TIME","volume":0.5}]}],` +
	`"total_energy":10,"total_time":2,"total_parking_time":0.5,"total_cost":{"excl_vat":1}}`

func replace(old, new string) string {
	if !strings.Contains(base, old) {
		panic("base does not contain " + old)
	}
	return strings.Replace(base, old, new, 1)
}

func TestParseBase(t *testing.T) {
	c, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	ps := c.Session.Periods
	if len(ps) != 2 || ps[0].Energy.Cmp(dec("10")) != 0 || ps[0].Time.Cmp(dec("5400")) != 0 ||
		ps[1].ParkingTime.Cmp(dec("1800")) != 0 || ps[0].Has != tariff.HasEnergy|tariff.HasTime || ps[1].Has != tariff.HasParkingTime {
		t.Errorf("periods = %+v", ps)
	}
}

func TestParseErrors(t *testing.T) {
	deep := strings.Repeat("[", 70) + strings.Repeat("]", 70)
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, `invalid JSON at byte 0: unexpected end of input`},
		{"whitespace only", " \n\t", `invalid JSON at byte 3: unexpected end of input`},
		{"truncated in a key", base[:20], `invalid JSON at byte 10: unterminated string`},
		{"truncated after a value", base[:strings.Index(base, `,"end_date_time"`)], `invalid JSON at byte 50: unexpected end of input`},
		{"truncated in a number", base[:strings.Index(base, `0.5,"total_cost"`)+2], `invalid JSON at byte 396: unexpected end of input`},
		{"truncated in a string", base[:len(base)-20], `invalid JSON at byte 398: unterminated string`},
		{"truncated in a literal", `{"a":tr`, `invalid JSON at byte 7: unexpected end of input`},
		{"bad escape", replace(`"id":"1"`, `"id":"1\x"`), `invalid JSON at byte 9: invalid escape character after '\' in string: 'x'`},
		{"bad unicode escape", replace(`"id":"1"`, `"id":"\u12G4"`), `invalid JSON at byte 7: invalid \u escape: four hexadecimal digits expected`},
		{"raw control character", replace(`"id":"1"`, "\"id\":\"a\tb\""), `invalid JSON at byte 8: control character in string: byte 0x09`},
		{"invalid UTF-8", replace(`"id":"1"`, "\"id\":\"a\xffb\""), `invalid JSON at byte 8: invalid UTF-8 in string`},
		{"leading zero", replace(`"total_energy":10`, `"total_energy":01`), `invalid JSON at byte 356: invalid number: leading zero`},
		{"no digit after point", replace(`"total_energy":10`, `"total_energy":1.}`), `invalid JSON at byte 357: invalid number: digit expected after decimal point, found '}'`},
		{"no exponent digits", replace(`"total_energy":10`, `"total_energy":1e+`), `invalid JSON at byte 358: invalid number: digit expected in exponent, found ','`},
		{"lone minus", replace(`"total_energy":10`, `"total_energy":-`), `invalid JSON at byte 356: invalid number: digit expected after '-', found ','`},
		{"plus sign", replace(`"total_energy":10`, `"total_energy":+1`), `invalid JSON at byte 355: expected a JSON value, found '+'`},
		{"NaN", replace(`"total_energy":10`, `"total_energy":NaN`), `invalid JSON at byte 355: expected a JSON value, found 'N'`},
		{"bad literal", replace(`"total_energy":10`, `"total_energy":nul`), `invalid JSON at byte 355: invalid literal, found 'n'`},
		{"single quotes", `{'a':1}`, `invalid JSON at byte 1: expected a string object key, found '\''`},
		{"missing colon", `{"a" 1}`, `invalid JSON at byte 5: expected ':' after object key, found '1'`},
		{"trailing comma in object", `{"a":1,}`, `invalid JSON at byte 7: expected a string object key, found '}'`},
		{"trailing comma in array", `{"a":[1,]}`, `invalid JSON at byte 8: expected a JSON value, found ']'`},
		{"missing comma", `{"a":1 "b":2}`, `invalid JSON at byte 7: expected ',' or '}' after object member, found '"'`},
		{"trailing garbage", base + ` x`, `invalid JSON at byte 427: unexpected data after the top-level value: 'x'`},
		{"two objects", base + base, `invalid JSON at byte 426: unexpected data after the top-level value: '{'`},
		{"deep nesting", `{"x":` + deep + `}`, `invalid JSON at byte 68: nesting deeper than 64 levels`},
		{"syntax error wins over an earlier rule", `{"currency":5,"x":"`, `invalid JSON at byte 18: unterminated string`},

		{"not an object", `[1,2]`, `a CDR must be a JSON object`},
		{"missing start_date_time", replace(`"start_date_time":"2024-03-01T10:00:00Z","end`, `"end`), `start_date_time: required`},
		{"missing end_date_time", replace(`"end_date_time":"2024-03-01T12:00:00Z",`, ``), `end_date_time: required`},
		{"missing currency", replace(`"currency":"EUR",`, ``), `currency: required`},
		{"missing charging_periods", `{"start_date_time":"2024-03-01T10:00:00Z","end_date_time":"2024-03-01T12:00:00Z","currency":"EUR","total_energy":1,"total_time":1}`, `charging_periods: required`},
		{"missing total_energy", replace(`"total_energy":10,`, ``), `total_energy: required`},
		{"missing total_time", replace(`"total_time":2,`, ``), `total_time: required`},
		{"null total_time", replace(`"total_time":2`, `"total_time":null`), `total_time: must be a number >= 0`},
		{"empty charging_periods", `{"charging_periods":[]}`, `charging_periods: must contain at least one charging period`},
		{"charging_periods not an array", `{"charging_periods":{}}`, `charging_periods: must be an array of ChargingPeriod objects`},
		{"period not an object", `{"charging_periods":[1]}`, `charging_periods[0]: must be a ChargingPeriod object`},
		{"period without start", replace(`{"start_date_time":"2024-03-01T11:30:00Z",`, `{`), `charging_periods[1].start_date_time: required`},
		{"period without dimensions", replace(`"dimensions":[{"type":"PARKING_TIME","volume":0.5}]`, `"x":1`), `charging_periods[1].dimensions: required`},
		{"empty dimensions", replace(`[{"type":"PARKING_TIME","volume":0.5}]`, `[]`), `charging_periods[1].dimensions: must contain at least one dimension`},
		{"dimension not an object", replace(`{"type":"PARKING_TIME","volume":0.5}`, `"PARKING_TIME"`), `charging_periods[1].dimensions[0]: must be a CdrDimension object`},
		{"dimension without type", replace(`{"type":"PARKING_TIME","volume":0.5}`, `{"volume":0.5}`), `charging_periods[1].dimensions[0].type: required`},
		{"dimension without volume", replace(`{"type":"PARKING_TIME","volume":0.5}`, `{"type":"PARKING_TIME"}`), `charging_periods[1].dimensions[0].volume: required`},
		{"currency not a string", replace(`"currency":"EUR"`, `"currency":978`), `currency: must be an ISO 4217 currency code string`},
		{"unknown currency", replace(`"currency":"EUR"`, `"currency":"EURO"`), `currency: unknown ISO 4217 currency: "EURO" is not a three-letter code`},
		{"bad date", replace(`"end_date_time":"2024-03-01T12:00:00Z"`, `"end_date_time":"2024-03-01 12:00"`), `end_date_time: must be an OCPI DateTime such as "2015-06-29T20:39:09Z"`},
		{"date not a string", replace(`"end_date_time":"2024-03-01T12:00:00Z"`, `"end_date_time":1709294400`), `end_date_time: must be an OCPI DateTime string such as "2015-06-29T20:39:09Z"`},
		{"negative energy", replace(`"volume":10`, `"volume":-1`), `charging_periods[0].dimensions[0].volume: must be a number >= 0`},
		{"negative parking time", replace(`"volume":0.5`, `"volume":-0.5`), `charging_periods[1].dimensions[0].volume: must be a number >= 0`},
		{"volume as a string", replace(`"volume":1.5`, `"volume":"1.5"`), `charging_periods[0].dimensions[1].volume: must be a number >= 0`},
		{"volume with 20 significant digits", replace(`"volume":10`, `"volume":1234567890.1234567891`), `charging_periods[0].dimensions[0].volume: must be a number with at most 19 significant digits`},
		{"volume with 20 integer digits", replace(`"volume":10`, `"volume":12345678901234567890`), `charging_periods[0].dimensions[0].volume: must be a number that fits an exact 19-digit decimal`},
		{"volume with 20 decimals", replace(`"volume":10`, `"volume":1e-20`), `charging_periods[0].dimensions[0].volume: must be a number with at most 19 decimal places`},
		{"volume out of range", replace(`"volume":10`, `"volume":1e400`), `charging_periods[0].dimensions[0].volume: must be a number that fits an exact 19-digit decimal`},
		{"unknown dimension", replace(`"type":"ENERGY"`, `"type":"VOLTAGE"`), `charging_periods[0].dimensions[0].type: unknown CdrDimensionType "VOLTAGE"`},
		{"dimension type not a string", replace(`"type":"ENERGY"`, `"type":1`), `charging_periods[0].dimensions[0].type: must be a CdrDimensionType string`},
		{"duplicate dimension", replace(`{"type":"TIME","volume":1.5}`, `{"type":"ENERGY","volume":1.5}`), `charging_periods[0].dimensions[1].type: duplicate ENERGY dimension in the same charging period`},
		{"duplicate member", replace(`"currency":"EUR"`, `"currency":"EUR","currency":"USD"`), `currency: duplicate member`},
		{"duplicate tariff_id", replace(`"dimensions":[{"type":"PARKING_TIME"`, `"tariff_id":"a","tariff_id":"b","dimensions":[{"type":"PARKING_TIME"`), `charging_periods[1].tariff_id: duplicate member`},
		{"negative total_energy", replace(`"total_energy":10`, `"total_energy":-10`), `total_energy: must be a number >= 0`},
		{"end before start", replace(`"end_date_time":"2024-03-01T12:00:00Z"`, `"end_date_time":"2024-03-01T09:00:00Z"`), `end_date_time: must not be before start_date_time`},
		{"period before the session", replace(`"start_date_time":"2024-03-01T10:00:00Z","dimensions"`, `"start_date_time":"2024-03-01T09:59:59Z","dimensions"`), `charging_periods[0].start_date_time: must not be before the CDR's start_date_time`},
		{"period after the session", replace(`"2024-03-01T11:30:00Z"`, `"2024-03-01T12:00:01Z"`), `charging_periods[1].start_date_time: must not be after the CDR's end_date_time`},
		{"periods out of order", replace(`"start_date_time":"2024-03-01T10:00:00Z","dimensions"`, `"start_date_time":"2024-03-01T11:45:00Z","dimensions"`), `charging_periods[1].start_date_time: must not be before the start of charging_periods[0]`},
		{"parking longer than the session", `{"start_date_time":"2024-03-01T10:00:00Z","end_date_time":"2024-03-01T11:00:00Z","currency":"EUR","charging_periods":[{"start_date_time":"2024-03-01T10:00:00Z","dimensions":[{"type":"ENERGY","volume":1}]}],"total_energy":1,"total_time":1,"total_parking_time":1.5}`,
			`total_parking_time: must not exceed the session's duration (end_date_time - start_date_time)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", c.Session)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			var se *SyntaxError
			if isSyntax := errors.As(err, &se); isSyntax != strings.HasPrefix(tt.want, "invalid JSON") {
				t.Errorf("error type %T", err)
			}
			// Whatever we call malformed, encoding/json must call malformed
			// too, except for invalid UTF-8, which it tolerates.
			if se != nil && json.Valid([]byte(tt.in)) && utf8.ValidString(tt.in) && tt.name != "deep nesting" {
				t.Errorf("encoding/json accepts what Parse calls malformed")
			}
		})
	}
}

func TestParseErrorCauses(t *testing.T) {
	_, err := Parse([]byte(replace(`"currency":"EUR"`, `"currency":"XAU"`)))
	if !errors.Is(err, money.ErrUnknownCurrency) {
		t.Errorf("%v does not wrap money.ErrUnknownCurrency", err)
	}
	_, err = Parse([]byte(replace(`"volume":10`, `"volume":1.2345678901234567890123`)))
	if !errors.Is(err, money.ErrPrecision) {
		t.Errorf("%v does not wrap money.ErrPrecision", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "charging_periods[0].dimensions[0].volume" {
		t.Errorf("FieldError = %+v", fe)
	}
}

// TestParseAccepts covers JSON that is unusual but valid, and OCPI
// variations evbill accepts.
func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name, in string
		check    func(t *testing.T, c *CDR)
	}{
		{"escaped keys and values", replace(`"currency":"EUR"`, `"curr\u0065ncy":"\u0045UR"`), func(t *testing.T, c *CDR) {
			if c.Currency.Code() != "EUR" {
				t.Errorf("currency %v", c.Currency)
			}
		}},
		{"escapes in unknown members", replace(`"id":"1"`, `"id":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800","x":"é😀"`), nil},
		{"exponent numbers", replace(`"volume":10`, `"volume":1.0E+1`), func(t *testing.T, c *CDR) {
			if c.Session.Periods[0].Energy.Cmp(dec("10")) != 0 {
				t.Errorf("energy %s", c.Session.Periods[0].Energy)
			}
		}},
		{"negative zero energy", replace(`"volume":10`, `"volume":-0.0`), nil},
		{"negative MIN_POWER", replace(`{"type":"TIME","volume":1.5}`, `{"type":"TIME","volume":1.5},{"type":"MIN_POWER","volume":-3.7}`), func(t *testing.T, c *CDR) {
			p := c.Session.Periods[0]
			if p.Has&tariff.HasMinPower == 0 || p.MinPower.Cmp(dec("-3.7")) != 0 {
				t.Errorf("MIN_POWER %s", p.MinPower)
			}
		}},
		{"session-only dimensions ignored", replace(`{"type":"TIME","volume":1.5}`, `{"type":"TIME","volume":1.5},{"type":"CURRENT","volume":-16},{"type":"STATE_OF_CHARGE","volume":80},{"type":"POWER","volume":11},{"type":"ENERGY_EXPORT","volume":1},{"type":"ENERGY_IMPORT","volume":12345678901234567890123}`), func(t *testing.T, c *CDR) {
			if p := c.Session.Periods[0]; p.Has != tariff.HasEnergy|tariff.HasTime {
				t.Errorf("Has = %b", p.Has)
			}
		}},
		{"volume before type", replace(`{"type":"TIME","volume":1.5}`, `{"volume":1.5,"extra":[null,true],"type":"TIME"}`), func(t *testing.T, c *CDR) {
			if c.Session.Periods[0].Time.Cmp(dec("5400")) != 0 {
				t.Errorf("time %s", c.Session.Periods[0].Time)
			}
		}},
		{"null total_parking_time is absent", replace(`"total_parking_time":0.5`, `"total_parking_time":null`), func(t *testing.T, c *CDR) {
			if c.HasTotalParkingTime {
				t.Error("HasTotalParkingTime")
			}
		}},
		{"whitespace everywhere", indent(base, " \r", "\t") + "\n", nil},
		{"date-times with offsets and fractions", replace(`"end_date_time":"2024-03-01T12:00:00Z"`, `"end_date_time":"2024-03-01T13:00:00.5+01:00"`), func(t *testing.T, c *CDR) {
			if !c.Session.End.Equal(ts(t, "2024-03-01T12:00:00.5Z")) {
				t.Errorf("End %v", c.Session.End)
			}
		}},
		{"nesting at the limit", replace(`"id":"1"`, `"id":`+strings.Repeat("[", 63)+strings.Repeat("]", 63)), nil},
		{"empty containers", replace(`"id":"1"`, `"a":{},"b":[],"c":[{}, [], ""]`), nil},
		{"all time dimensions", replace(`{"type":"TIME","volume":1.5}`, `{"type":"TIME","volume":0.25},{"type":"RESERVATION_TIME","volume":0.1},{"type":"MIN_CURRENT","volume":6},{"type":"MAX_CURRENT","volume":32},{"type":"MAX_POWER","volume":22}`), func(t *testing.T, c *CDR) {
			p := c.Session.Periods[0]
			want := tariff.HasEnergy | tariff.HasTime | tariff.HasReservationTime | tariff.HasMinCurrent | tariff.HasMaxCurrent | tariff.HasMaxPower
			if p.Has != want || p.Time.Cmp(dec("900")) != 0 || p.ReservationTime.Cmp(dec("360")) != 0 ||
				p.MinCurrent.Cmp(dec("6")) != 0 || p.MaxCurrent.Cmp(dec("32")) != 0 || p.MaxPower.Cmp(dec("22")) != 0 {
				t.Errorf("period %+v", p)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

// TestParseReuse parses a large CDR, then a small one, into the same
// value: nothing of the first may leak into the second.
func TestParseReuse(t *testing.T) {
	var c CDR
	big := replace(`"total_parking_time":0.5,`, ``)
	if err := c.Parse([]byte(big)); err != nil {
		t.Fatal(err)
	}
	if err := c.Parse([]byte("{")); err == nil {
		t.Fatal("truncated CDR accepted")
	}
	if _, err := AppendPriced(nil, &c, &tariff.Result{}); err == nil {
		t.Error("AppendPriced accepted a CDR whose Parse failed")
	}
	small := readSpec(t, "cdr_example.json")
	if err := c.Parse(small); err != nil {
		t.Fatal(err)
	}
	want, _ := Parse(small)
	if d := sessionDiff(&c.Session, &want.Session); d != "" {
		t.Error(d)
	}
	if c.HasTotalParkingTime || len(c.spans) != 1 {
		t.Errorf("stale state: parking %v, %d spans", c.HasTotalParkingTime, len(c.spans))
	}
}

func TestParseAllocations(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented build")
	}
	data := readSpec(t, "cdr_example.json")
	var c CDR
	if err := c.Parse(data); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = c.Parse(data) }); n != 0 {
		t.Errorf("Parse allocates %v times per CDR", n)
	}
}

func indent(s, prefix, ind string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), prefix, ind); err != nil {
		panic(err)
	}
	return b.String()
}

// TestDecode checks string unescaping against encoding/json, which evbill
// matches, lone surrogates included.
func TestDecode(t *testing.T) {
	cases := []string{
		`plain`, `\"\\\/\b\f\n\r\t`, `\u0041\u00e9\u20ac`, `\ud83d\ude00`, `a\ud800b`, `\udc00`,
		`\ud800\u0041`, `\ud800\ud800\udc00`, `\uD834\uDD1E`, `é😀`, ``, `\u0000`,
	}
	for _, raw := range cases {
		s := scanner{data: []byte(`"` + raw + `"`)}
		got, esc, ok := s.str()
		if !ok {
			t.Fatalf("%s: %v", raw, s.syntaxError())
		}
		if esc {
			got = decode(nil, got)
		}
		var want string
		if err := json.Unmarshal(s.data, &want); err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("decode(%s) = %q, want %q", raw, got, want)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.String().Draw(t, "s")
		lit, _ := json.Marshal(s)
		if rapid.Bool().Draw(t, "ascii") {
			lit = []byte(strconv.QuoteToASCII(s)) // \u escapes, Go style but JSON-compatible for BMP runes
			if strings.Contains(string(lit), `\U`) || strings.Contains(string(lit), `\x`) || strings.Contains(string(lit), `\a`) || strings.Contains(string(lit), `\v`) {
				return
			}
		}
		sc := scanner{data: lit}
		got, esc, ok := sc.str()
		if !ok {
			t.Fatalf("%s: %v", lit, sc.syntaxError())
		}
		if esc {
			got = decode(nil, got)
		}
		var want string
		if err := json.Unmarshal(lit, &want); err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		if string(got) != want {
			t.Fatalf("decode(%s) = %q, want %q", lit, got, want)
		}
	})
}
