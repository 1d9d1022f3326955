// Command gencdrs writes N OCPI 2.2.1 CDRs as NDJSON, for measuring
// `evbill price --batch`:
//
//	go run ./examples/gencdrs -n 200000 > cdrs.ndjson
//	time evbill price --tariff examples/tariff.json --batch --timezone Europe/Amsterdam < cdrs.ndjson > priced.ndjson
//
// Each CDR is shaped like examples/cdr.json — two charging periods and two
// parking periods — with its start spread over a year and its energy and
// durations varied, so the time-of-use windows of examples/tariff.json
// apply in every combination. The output is the same for the same -seed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

func main() {
	n := flag.Int("n", 200000, "number of CDRs")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	rng := rand.New(rand.NewPCG(*seed, *seed))
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < *n; i++ {
		start := base.Add(time.Duration(rng.IntN(365*24*60)) * time.Minute)
		// Quarter-hour lengths keep every OCPI hour volume a finite decimal.
		q := func(lo, hi int) int { return lo + rng.IntN(hi-lo+1) }
		c1, c2, p1, p2 := q(1, 8), q(1, 8), q(0, 4), q(1, 4)
		t1 := start.Add(time.Duration(c1) * 15 * time.Minute)
		t2 := t1.Add(time.Duration(c2) * 15 * time.Minute)
		t3 := t2.Add(time.Duration(p1) * 15 * time.Minute)
		end := t3.Add(time.Duration(p2) * 15 * time.Minute)
		e1 := rng.IntN(c1 * 2750) // Wh, up to 11 kW
		e2 := rng.IntN(c2 * 2750)
		ts := func(t time.Time) string { return t.Format(time.RFC3339) }
		kwh := func(wh int) string { return fmt.Sprintf("%d.%03d", wh/1000, wh%1000) }
		hours := func(quarters int) string { return fmt.Sprintf("%d.%02d", quarters/4, quarters%4*25) }
		fmt.Fprintf(w, `{"country_code":"NL","party_id":"EVB","id":"CDR-%07d","start_date_time":"%s","end_date_time":"%s",`+
			`"session_id":"S-%07d","cdr_token":{"country_code":"NL","party_id":"EVB","uid":"04A1B2C3D4E5F6","type":"RFID","contract_id":"NL-EVB-C12345678-X"},`+
			`"auth_method":"WHITELIST","cdr_location":{"id":"AMS-CENTRAAL","name":"Amsterdam Centraal P+R","address":"Stationsplein 1","city":"Amsterdam",`+
			`"postal_code":"1012 AB","country":"NLD","coordinates":{"latitude":"52.378901","longitude":"4.900272"},"evse_uid":"AMS-CENTRAAL-1",`+
			`"evse_id":"NL*EVB*E000001*1","connector_id":"1","connector_standard":"IEC_62196_T2","connector_format":"SOCKET","connector_power_type":"AC_3_PHASE"},`+
			`"currency":"EUR","charging_periods":[`+
			`{"start_date_time":"%s","dimensions":[{"type":"ENERGY","volume":%s},{"type":"TIME","volume":%s},{"type":"MAX_POWER","volume":11.04}]},`+
			`{"start_date_time":"%s","dimensions":[{"type":"ENERGY","volume":%s},{"type":"TIME","volume":%s},{"type":"MAX_POWER","volume":10.9}]},`+
			`{"start_date_time":"%s","dimensions":[{"type":"ENERGY","volume":0},{"type":"PARKING_TIME","volume":%s}]},`+
			`{"start_date_time":"%s","dimensions":[{"type":"ENERGY","volume":0},{"type":"PARKING_TIME","volume":%s}]}],`+
			`"total_energy":%s,"total_time":%s,"total_parking_time":%s,"last_updated":"%s"}`+"\n",
			i, ts(start), ts(end), i,
			ts(start), kwh(e1), hours(c1),
			ts(t1), kwh(e2), hours(c2),
			ts(t2), hours(p1),
			ts(t3), hours(p2),
			kwh(e1+e2), hours(c1+c2+p1+p2), hours(p1+p2), ts(end))
	}
}
