package cdr

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/evbill/evbill/tariff"
)

// BenchmarkParse parses the OCPI specification's example CDR, pretty-printed
// as published; ParseCompact the same CDR on one line, as in NDJSON.
func BenchmarkParse(b *testing.B) {
	benchParse(b, readSpec(b, "cdr_example.json"))
}

func BenchmarkParseCompact(b *testing.B) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, readSpec(b, "cdr_example.json")); err != nil {
		b.Fatal(err)
	}
	benchParse(b, buf.Bytes())
}

func benchParse(b *testing.B, data []byte) {
	var c CDR
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := c.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPriced(b *testing.B) {
	data := readSpec(b, "cdr_example.json")
	c, err := Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	r, err := mustTariff(b, exampleTariff).Price(&c.Session)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = AppendPriced(buf[:0], c, &r); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkPriceStream prices 10,000 NDJSON CDRs (ENERGY-only periods, so
// TIME and PARKING_TIME are derived and written out) under the OCPI
// example tariff_4_complex (a start fee, TIME by current, PARKING_TIME by
// time of day) on GOMAXPROCS workers.
func BenchmarkPriceStream(b *testing.B) {
	const n = 10_000
	var in strings.Builder
	for i := range n {
		in.WriteString(lineCDR(i))
		in.WriteByte('\n')
	}
	input := in.String()
	tf := specTariff(b, "tariff_4_complex.json")
	price := func(c *CDR, r *tariff.Result) error { return tf.PriceInto(&c.Session, r) }
	b.ReportAllocs()
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		st, err := PriceStream(context.Background(), strings.NewReader(input), io.Discard, runtime.GOMAXPROCS(0), price)
		if err != nil || st.Priced != n {
			b.Fatalf("%+v %v", st, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "CDRs/s")
}
