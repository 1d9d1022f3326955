package tariff

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamplesParseAndRoundTrip parses every tariff in the OCPI examples
// (including those embedded in CDR and session examples), echoes it back
// byte for byte, and re-encodes it from the model to the same meaning.
func TestExamplesParseAndRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "ocpi-2.2.1", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	count := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range tariffsIn(t, f, data) {
			count++
			tf, err := Parse(raw)
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			echoed, _ := tf.MarshalJSON()
			var want bytes.Buffer
			_ = json.Compact(&want, raw)
			if !bytes.Equal(echoed, want.Bytes()) {
				t.Errorf("%s: echo differs:\n got %s\nwant %s", f, echoed, want.Bytes())
			}
			// The model's own encoding parses to the same model.
			again, err := Parse(tf.encode())
			if err != nil {
				t.Errorf("%s: re-encoded tariff does not parse: %v\n%s", f, err, tf.encode())
				continue
			}
			if a, b := string(again.encode()), string(tf.encode()); a != b {
				t.Errorf("%s: encode is not stable:\n%s\n%s", f, a, b)
			}
			if !semanticallyEqual(t, raw, tf.encode()) {
				t.Errorf("%s: re-encoding changed the meaning:\n%s\n%s", f, raw, tf.encode())
			}
		}
	}
	if count < 20 {
		t.Errorf("found only %d example tariffs", count)
	}
}

// tariffsIn returns the tariff objects in an example file: the file itself,
// or the tariffs inside a CDR or a location PATCH.
func tariffsIn(t *testing.T, name string, data []byte) []json.RawMessage {
	var probe struct {
		Tariffs  []json.RawMessage `json:"tariffs"`
		Elements json.RawMessage   `json:"elements"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	switch {
	case probe.Elements != nil:
		return []json.RawMessage{data}
	case probe.Tariffs != nil:
		return probe.Tariffs
	}
	return nil
}

// semanticallyEqual compares two JSON documents as values, numbers as
// decimals (2.50 equals 2.5).
func semanticallyEqual(t *testing.T, a, b []byte) bool {
	norm := func(data []byte) any {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		return canon(v)
	}
	x, _ := json.Marshal(norm(a))
	y, _ := json.Marshal(norm(b))
	return bytes.Equal(x, y)
}

func canon(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = canon(e)
		}
	case []any:
		for i, e := range v {
			v[i] = canon(e)
		}
	case json.Number:
		return dec(string(v)).Trim(0).String()
	}
	return v
}

func TestParseKeepsUnknownFields(t *testing.T) {
	in := `{"country_code":"NL","party_id":"EVB","id":"x","currency":"EUR","last_updated":"2024-01-01T00:00:00Z",
		"x_vendor":{"note":"kept"},"elements":[{"price_components":[{"type":"ENERGY","price":0.25,"step_size":1,"x_tier":"gold"}],"x_el":1}]}`
	tf := mustTariff(t, in)
	out, _ := tf.MarshalJSON()
	for _, want := range []string{`"x_vendor":{"note":"kept"}`, `"x_tier":"gold"`, `"x_el":1`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("echo lost %s: %s", want, out)
		}
	}
}

func TestParseRejectsInvalidTariffs(t *testing.T) {
	base := func(elements string) string {
		return `{"country_code":"NL","party_id":"EVB","id":"x","currency":"EUR","last_updated":"2024-01-01T00:00:00Z","elements":` + elements + `}`
	}
	one := func(component, restrictions string) string {
		el := `{"price_components":[` + component + `]`
		if restrictions != "" {
			el += `,"restrictions":` + restrictions
		}
		return base(`[` + el + `}]`)
	}
	energy := `{"type":"ENERGY","price":0.25,"step_size":1}`
	tests := []struct {
		name, json, want string
	}{
		{"not JSON", `{"id":`, "invalid JSON"},
		{"array of numbers", `[1,2]`, "must be a JSON object"},
		{"missing currency", `{"country_code":"NL","party_id":"EVB","id":"x","last_updated":"2024-01-01T00:00:00Z","elements":[{"price_components":[` + energy + `]}]}`, "currency: is required"},
		{"unknown currency", strings.Replace(base(`[{"price_components":[`+energy+`]}]`), "EUR", "EUX", 1), `currency: must be an ISO 4217 currency code, got "EUX"`},
		{"lower-case currency", strings.Replace(base(`[{"price_components":[`+energy+`]}]`), "EUR", "eur", 1), `currency: must be an ISO 4217`},
		{"country code too long", strings.Replace(base(`[{"price_components":[`+energy+`]}]`), `"NL"`, `"NLD"`, 1), "country_code: must be 2 characters"},
		{"no elements", base(`[]`), "elements: must hold at least one tariff element"},
		{"elements missing", `{"country_code":"NL","party_id":"EVB","id":"x","currency":"EUR","last_updated":"2024-01-01T00:00:00Z"}`, "elements: is required"},
		{"no components", base(`[{"price_components":[]}]`), "elements[0].price_components: must hold at least one price component"},
		{"step_size zero", one(`{"type":"ENERGY","price":0.25,"step_size":0}`, ""), "elements[0].price_components[0].step_size: must be > 0"},
		{"step_size missing", one(`{"type":"TIME","price":2}`, ""), "elements[0].price_components[0].step_size: is required"},
		{"step_size fraction", one(`{"type":"TIME","price":2,"step_size":1.5}`, ""), "step_size: must be an integer"},
		{"negative price", one(`{"type":"ENERGY","price":-0.25,"step_size":1}`, ""), "elements[0].price_components[0].price: must be >= 0"},
		{"price as string", one(`{"type":"ENERGY","price":"0.25","step_size":1}`, ""), "price: must be a JSON number"},
		{"price too precise", one(`{"type":"ENERGY","price":0.12345678901234567890123,"step_size":1}`, ""), "price: amount exceeds exact decimal precision"},
		{"vat over 100", one(`{"type":"ENERGY","price":0.25,"vat":120,"step_size":1}`, ""), "vat: must be a percentage from 0 to 100"},
		{"unknown dimension", one(`{"type":"KWH","price":0.25,"step_size":1}`, ""), `type: must be one of ENERGY, FLAT, PARKING_TIME, TIME, got "KWH"`},
		{"bad start_time", one(energy, `{"start_time":"7:00"}`), `elements[0].restrictions.start_time: must be HH:MM in 24-hour time, got "7:00"`},
		{"24:00", one(energy, `{"end_time":"24:00"}`), `end_time: must be HH:MM`},
		{"bad date", one(energy, `{"start_date":"2024-02-30"}`), `start_date: must be a date YYYY-MM-DD, got "2024-02-30"`},
		{"end_date not after start_date", one(energy, `{"start_date":"2024-03-01","end_date":"2024-03-01"}`), "end_date: must be after start_date"},
		{"min_kwh above max_kwh", one(energy, `{"min_kwh":20,"max_kwh":10}`), "max_kwh: must be greater than min_kwh"},
		{"negative max_power", one(energy, `{"max_power":-1}`), "max_power: must be >= 0"},
		{"negative duration", one(energy, `{"min_duration":-60}`), "min_duration: must be >= 0"},
		{"duration as float", one(energy, `{"max_duration":1.5}`), "max_duration: must be an integer"},
		{"bad weekday", one(energy, `{"day_of_week":["MONDAY","FUNDAY"]}`), `day_of_week[1]: must be MONDAY … SUNDAY, got "FUNDAY"`},
		{"repeated weekday", one(energy, `{"day_of_week":["MONDAY","MONDAY"]}`), "day_of_week[1]: repeats MONDAY"},
		{"bad reservation", one(`{"type":"TIME","price":1,"step_size":1}`, `{"reservation":"YES"}`), `reservation: must be RESERVATION or RESERVATION_EXPIRES`},
		{"energy in reservation", one(energy, `{"reservation":"RESERVATION"}`), "type: must be FLAT or TIME in a reservation element, got ENERGY"},
		{"restrictions not an object", one(energy, `[]`), "elements[0].restrictions: must be a JSON object"},
		{"min above max price", strings.Replace(base(`[{"price_components":[`+energy+`]}]`), `"elements"`, `"min_price":{"excl_vat":5},"max_price":{"excl_vat":4},"elements"`, 1), "min_price.excl_vat: must be <= max_price.excl_vat"},
		{"min_price without incl_vat under VAT", one(`{"type":"ENERGY","price":0.25,"vat":21,"step_size":1}`, "")[:0] +
			strings.Replace(one(`{"type":"ENERGY","price":0.25,"vat":21,"step_size":1}`, ""), `"elements"`, `"min_price":{"excl_vat":1},"elements"`, 1),
			"min_price.incl_vat: is required when price components state VAT"},
		{"incl below excl", strings.Replace(base(`[{"price_components":[`+energy+`]}]`), `"elements"`, `"max_price":{"excl_vat":5,"incl_vat":4},"elements"`, 1), "max_price.incl_vat: must be >= excl_vat"},
		{"end before start", strings.Replace(base(`[{"price_components":[`+energy+`]}]`), `"elements"`, `"start_date_time":"2024-02-01T00:00:00Z","end_date_time":"2024-01-01T00:00:00Z","elements"`, 1), "end_date_time: must be after start_date_time"},
		{"bad date time", strings.Replace(base(`[{"price_components":[`+energy+`]}]`), `"2024-01-01T00:00:00Z"`, `"yesterday"`, 1), "last_updated: must be an OCPI DateTime"},
		{"bad alt url", strings.Replace(base(`[{"price_components":[`+energy+`]}]`), `"elements"`, `"tariff_alt_url":"ftp://x","elements"`, 1), "tariff_alt_url: must be an absolute http(s) URL"},
		{"bad type", strings.Replace(base(`[{"price_components":[`+energy+`]}]`), `"elements"`, `"type":"CHEAP","elements"`, 1), `type: must be one of AD_HOC_PAYMENT`},
		{"wrong type for elements", base(`{}`), "elements: must be an array"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.json))
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.json)
			}
			if !errors.Is(err, ErrInvalidTariff) {
				t.Errorf("error %v is not ErrInvalidTariff", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte(`{"country_code":"NL","party_id":"EVB","id":"x","currency":"EUR","last_updated":"2024-01-01T00:00:00Z","elements":[
		{"price_components":[{"type":"ENERGY","price":-1,"step_size":0}]}]}`))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("want two problems, got %v", err)
	}
}

func TestParseList(t *testing.T) {
	list, err := ParseList([]byte(`[` + mustRead(t, "tariff_8_simple_025kwh.json") + `,` + mustRead(t, "tariff_6_025kwh_start_max_price.json") + `]`))
	if err != nil || len(list) != 2 {
		t.Fatalf("ParseList: %v, %d", err, len(list))
	}
	_, err = ParseList([]byte(`[` + mustRead(t, "tariff_8_simple_025kwh.json") + `,{"id":1}]`))
	if err == nil || !strings.Contains(err.Error(), "[1].id: must be a string") {
		t.Errorf("error %v should name [1].id", err)
	}
	if _, err := ParseList([]byte(`[]`)); err == nil {
		t.Error("empty list accepted")
	}
}

func mustRead(t *testing.T, name string) string {
	data, err := os.ReadFile(filepath.Join("testdata", "ocpi-2.2.1", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
