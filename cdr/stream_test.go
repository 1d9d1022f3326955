package cdr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill/tariff"
)

// lineCDR returns a valid compact CDR that differs with i. Its periods
// report only ENERGY, so TIME and PARKING_TIME are derived.
func lineCDR(i int) string {
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 7 * time.Minute)
	mid := start.Add(time.Duration(1+i%90) * time.Minute)
	park := i % 10 * 3 // minutes, 0.05 h each
	end := mid.Add(time.Duration(park) * time.Minute)
	f := func(t time.Time) string { return t.Format(time.RFC3339) }
	return fmt.Sprintf(`{"id":"cdr-%d","start_date_time":%q,"end_date_time":%q,"currency":"EUR","charging_periods":[`+
		`{"start_date_time":%q,"dimensions":[{"type":"ENERGY","volume":%d.%03d},{"type":"MAX_CURRENT","volume":%d}]},`+
		`{"start_date_time":%q,"dimensions":[{"type":"ENERGY","volume":0}]}],"total_energy":%d.%03d,"total_time":0,"total_parking_time":%d.%02d}`,
		i, f(start), f(end), f(start), i%60, i%1000, 16+i%3*8, f(mid), i%60, i%1000, park/60, park*100/60%100)
}

func priceWith(tf *tariff.Tariff) PriceFunc {
	return func(c *CDR, r *tariff.Result) error {
		if strings.Contains(string(c.raw), `"id":"reject"`) {
			return errors.New("rejected by the price callback")
		}
		return tf.PriceInto(&c.Session, r)
	}
}

// reference prices the input line by line on one goroutine, the way
// PriceStream's output is specified.
func reference(t *testing.T, input string, price PriceFunc) (string, Stats) {
	t.Helper()
	var out bytes.Buffer
	var st Stats
	lines := strings.Split(input, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, ln := range lines {
		if strings.TrimSpace(ln) == "" {
			continue
		}
		st.Lines++
		c := new(CDR)
		var r tariff.Result
		err := c.Parse([]byte(ln))
		var b []byte
		if err == nil {
			if err = price(c, &r); err == nil {
				b, err = AppendPriced(nil, c, &r)
			}
		}
		if err != nil {
			st.Failed++
			b = appendErrorLine(nil, i+1, err)
		} else {
			st.Priced++
		}
		out.Write(b)
		out.WriteByte('\n')
	}
	return out.String(), st
}

func TestPriceStream(t *testing.T) {
	price := priceWith(specTariff(t, "tariff_13_simple_3hour_5parking.json"))
	var in strings.Builder
	bad := map[int]string{
		5:    `{"currency":"EUR"`,
		6:    ``,
		77:   `   `,
		300:  `{"id":"reject","start_date_time":"2024-03-01T10:00:00Z","end_date_time":"2024-03-01T11:00:00Z","currency":"EUR","charging_periods":[{"start_date_time":"2024-03-01T10:00:00Z","dimensions":[{"type":"ENERGY","volume":1}]}],"total_energy":1,"total_time":1}`,
		301:  `{"id":"usd","start_date_time":"2024-03-01T10:00:00Z","end_date_time":"2024-03-01T11:00:00Z","currency":"USD","charging_periods":[{"start_date_time":"2024-03-01T10:00:00Z","dimensions":[{"type":"ENERGY","volume":1}]}],"total_energy":1,"total_time":1}`,
		512:  "{\"id\":\"\x00\"}",
		513:  `not json`,
		1999: `{"a":"\u00"}`,
	}
	const n = 2000
	for i := 1; i <= n; i++ {
		if s, ok := bad[i]; ok {
			in.WriteString(s)
		} else {
			in.WriteString(lineCDR(i))
		}
		if i%100 == 0 {
			in.WriteByte('\r') // CRLF line ends are whitespace to JSON
		}
		if i < n {
			in.WriteByte('\n') // the last line has no newline
		}
	}
	want, wantStats := reference(t, in.String(), price)
	if wantStats.Failed != 6 || wantStats.Lines != n-2 {
		t.Fatalf("reference stats %+v", wantStats)
	}
	for _, workers := range []int{1, 2, 7, 32} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			var out bytes.Buffer
			st, err := PriceStream(context.Background(), strings.NewReader(in.String()), &out, workers, price)
			if err != nil {
				t.Fatal(err)
			}
			if st != wantStats {
				t.Errorf("stats %+v, want %+v", st, wantStats)
			}
			if out.String() != want {
				got := strings.Split(out.String(), "\n")
				exp := strings.Split(want, "\n")
				for i := range min(len(got), len(exp)) {
					if got[i] != exp[i] {
						t.Fatalf("output line %d:\n got %s\nwant %s", i+1, got[i], exp[i])
					}
				}
				t.Fatalf("%d output lines, want %d", len(got), len(exp))
			}
		})
	}
	// Spot-check the error lines.
	for _, w := range []string{
		`{"line":5,"error":"invalid JSON at byte 17: unexpected end of input"}`,
		`{"line":300,"error":"rejected by the price callback"}`,
		`{"line":301,"error":"currency: the CDR is in USD but was priced in EUR"}`,
		`{"line":512,"error":"invalid JSON at byte 7: control character in string: byte 0x00"}`,
		`{"line":1999,"error":"invalid JSON at byte 6: invalid \\u escape: four hexadecimal digits expected"}`,
	} {
		if !strings.Contains(want, w+"\n") {
			t.Errorf("output lacks %s", w)
		}
	}
	for _, ln := range strings.Split(strings.TrimSuffix(want, "\n"), "\n") {
		if !json.Valid([]byte(ln)) {
			t.Errorf("invalid output line %s", ln)
		}
	}
}

func TestPriceStreamLongLine(t *testing.T) {
	price := priceWith(specTariff(t, "tariff_13_simple_3hour_5parking.json"))
	remark := strings.Repeat("x", 17<<20)
	long := strings.Replace(lineCDR(1), `{"id"`, `{"remark":"`+remark+`","id"`, 1)
	in := long + "\n" + lineCDR(2) + "\n"
	var out bytes.Buffer
	st, err := PriceStream(context.Background(), strings.NewReader(in), &out, 2, price)
	if err != nil || st != (Stats{Lines: 2, Priced: 2}) {
		t.Fatalf("stats %+v, err %v", st, err)
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], `{"remark":"`+remark+`","id":"cdr-1"`) || !strings.HasPrefix(lines[1], `{"id":"cdr-2"`) {
		t.Errorf("unexpected output (%d lines)", len(lines))
	}
}

func TestPriceStreamTooLong(t *testing.T) {
	defer func(n int) { maxLineSize = n }(maxLineSize)
	maxLineSize = 1000
	price := priceWith(specTariff(t, "tariff_13_simple_3hour_5parking.json"))
	in := lineCDR(1) + "\n" + strings.Repeat(" ", 3000) + "x\n" + lineCDR(3)
	var out bytes.Buffer
	st, err := PriceStream(context.Background(), strings.NewReader(in), &out, 3, price)
	if err != nil || st != (Stats{Lines: 3, Priced: 2, Failed: 1}) {
		t.Fatalf("stats %+v, err %v", st, err)
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) != 4 || lines[1] != `{"line":2,"error":"line longer than 1000 bytes"}` || !strings.HasPrefix(lines[2], `{"id":"cdr-3"`) {
		t.Errorf("output:\n%s", out.String())
	}
}

// endless yields CDR lines forever.
type endless struct {
	n   int
	buf []byte
}

func (e *endless) Read(p []byte) (int, error) {
	if len(e.buf) == 0 {
		e.n++
		e.buf = append([]byte(lineCDR(e.n)), '\n')
	}
	n := copy(p, e.buf)
	e.buf = e.buf[n:]
	return n, nil
}

type cancelWriter struct {
	cancel context.CancelFunc
	n      int
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.n++
	if w.n == 3 {
		w.cancel()
	}
	return len(p), nil
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n++
	if w.n == 2 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

type failReader struct {
	r   io.Reader
	err error
}

func (f *failReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestPriceStreamStops(t *testing.T) {
	price := priceWith(specTariff(t, "tariff_13_simple_3hour_5parking.json"))
	before := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	w := &cancelWriter{cancel: cancel}
	st, err := PriceStream(ctx, &endless{}, w, 4, price)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
	if st.Lines != 3*batchLines || st.Priced != st.Lines {
		t.Errorf("cancelled: stats %+v", st)
	}

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := PriceStream(ctx, &endless{}, io.Discard, 4, price); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before the start: err = %v", err)
	}

	st, err = PriceStream(context.Background(), &endless{}, &failWriter{}, 3, price)
	if err == nil || err.Error() != "disk full" || st.Lines != batchLines {
		t.Errorf("write error: %+v %v", st, err)
	}

	var out bytes.Buffer
	in := lineCDR(1) + "\n" + lineCDR(2) + "\n" + lineCDR(3)[:40]
	st, err = PriceStream(context.Background(), &failReader{strings.NewReader(in), io.ErrUnexpectedEOF}, &out, 2, price)
	if !errors.Is(err, io.ErrUnexpectedEOF) || st.Priced != 2 || strings.Count(out.String(), "\n") != 2 {
		t.Errorf("read error: %+v %v\n%s", st, err, out.String())
	}

	st, err = PriceStream(context.Background(), strings.NewReader("\n \n\r\n"), &out, 0, price)
	if err != nil || st != (Stats{}) {
		t.Errorf("blank input: %+v %v", st, err)
	}

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left over", n-before)
	}
}
