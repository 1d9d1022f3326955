package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill"
)

// historyCSV writes days of a commuter-like daily series with a yearly
// swing and seeded noise, leaving out every day in skip, and returns the
// CSV text.
func historyCSV(start time.Time, days int, skip func(i int) bool) string {
	week := [7]float64{60, 110, 115, 115, 112, 105, 80}
	rng := rand.New(rand.NewPCG(8, 8))
	var b strings.Builder
	b.WriteString("date,value\n")
	for i := range days {
		noise := 1 + 0.1*rng.NormFloat64()
		if skip != nil && skip(i) {
			continue
		}
		d := start.AddDate(0, 0, i)
		v := week[d.Weekday()] * (1 + 0.2*math.Sin(2*math.Pi*float64(d.YearDay())/365.25)) * noise
		fmt.Fprintf(&b, "%s,%.1f\n", d.Format(time.DateOnly), v)
	}
	return b.String()
}

// TestForecastCSV holds the output contract: the header, four columns,
// one row per day from the day after the history's last date, two
// decimals, lo80 <= forecast <= hi80. The history has gaps, which are
// allowed.
func TestForecastCSV(t *testing.T) {
	start := time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC)
	history := historyCSV(start, 2*365, func(i int) bool { return i%11 == 3 && i < 700 || (i > 300 && i < 320) })
	path := writeFile(t, "history.csv", history)
	out, stderr, err := runCLI(t, "", "forecast", "--input", path, "--horizon", "45")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[0] != "date,forecast,lo80,hi80" {
		t.Fatalf("header %q", lines[0])
	}
	if len(lines) != 1+45 {
		t.Fatalf("%d rows for --horizon 45", len(lines)-1)
	}
	next := start.AddDate(0, 0, 2*365)
	for k, line := range lines[1:] {
		f := strings.Split(line, ",")
		if len(f) != 4 {
			t.Fatalf("row %d has %d columns: %q", k+1, len(f), line)
		}
		if want := next.AddDate(0, 0, k).Format(time.DateOnly); f[0] != want {
			t.Fatalf("row %d dated %s, want %s", k+1, f[0], want)
		}
		var v [3]float64
		for j, s := range f[1:] {
			if dot := strings.IndexByte(s, '.'); dot < 0 || len(s)-dot-1 != 2 {
				t.Fatalf("row %d: %q does not have two decimals", k+1, s)
			}
			if v[j], err = strconv.ParseFloat(s, 64); err != nil {
				t.Fatalf("row %d: %v", k+1, err)
			}
		}
		if !(v[1] <= v[0] && v[0] <= v[2]) || v[1] < 0 {
			t.Fatalf("row %d out of order: %q", k+1, line)
		}
	}

	// Standard input gives the same forecast as the file.
	stdinOut, _, err := runCLI(t, history, "forecast", "--input", "-", "--horizon", "45")
	if err != nil {
		t.Fatal(err)
	}
	if stdinOut != out {
		t.Error("--input - forecast differs from the file's")
	}
}

// TestForecastBacktest: --backtest prints one CSV row of accuracy instead
// of the forecast, and on a clean weekly series the model beats last
// week's values.
func TestForecastBacktest(t *testing.T) {
	path := writeFile(t, "history.csv", historyCSV(time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC), 400, nil))
	out, stderr, err := runCLI(t, "", "forecast", "--input", path, "--horizon", "28", "--backtest", "--origins", "4")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || lines[0] != "horizon,origins,points,mase,naive_mase,coverage80" {
		t.Fatalf("backtest output:\n%s", out)
	}
	f := strings.Split(lines[1], ",")
	if len(f) != 6 || f[0] != "28" || f[1] != "4" || f[2] != "112" {
		t.Fatalf("backtest row %q, want horizon 28, 4 origins, 112 points", lines[1])
	}
	mase, _ := strconv.ParseFloat(f[3], 64)
	naive, _ := strconv.ParseFloat(f[4], 64)
	if !(mase < naive) {
		t.Errorf("MASE %s does not beat the seasonal naive %s on a clean weekly series", f[3], f[4])
	}
}

// TestForecastNotes: a history too short for the full model still gives a
// forecast, and says on standard error what it left out.
func TestForecastNotes(t *testing.T) {
	out, stderr, err := runCLI(t, "date,value\n2025-06-01,10\n2025-06-02,12\n2025-06-04,11\n", "forecast", "--input", "-", "--horizon", "3")
	if err != nil {
		t.Fatal(err)
	}
	if want := "date,forecast,lo80,hi80\n2025-06-05,"; !strings.HasPrefix(out, want) {
		t.Errorf("output %q, want it to start %q", out, want)
	}
	if !strings.Contains(stderr, "note: the history spans 4 days") {
		t.Errorf("stderr %q does not note the short history", stderr)
	}
}

// TestForecastBadInput: every rejected input is EINVALID (exit status 2)
// with a message that names the line at fault.
func TestForecastBadInput(t *testing.T) {
	good := "date,value\n2025-01-01,5\n2025-01-02,6\n"
	for _, c := range []struct{ input, want string }{
		{"", "empty"},
		{"day,kwh\n2025-01-01,5\n", "line 1: the header"},
		{"date,value\n", "no rows"},
		{good + "2025-01-3,7\n", `line 4: "2025-01-3" is not an ISO date`},
		{good + "2025-01-03,seven\n", `line 4: value "seven" is not a finite number`},
		{good + "2025-01-03,NaN\n", "line 4: value"},
		{good + "2025-01-03,1e999\n", "line 4: value"},
		{good + "2025-01-02,7\n", "line 4: 2025-01-02 does not come after 2025-01-02 on line 3"},
		{good + "2024-12-31,7\n", "line 4: 2024-12-31 does not come after"},
		{good + "2025-01-03,7,8\n", "line 4: 3 fields, want 2"},
		{good + "2025-01-03,\"7\n", "line 4"},
		{"date,value\n0001-01-01,1\n9999-01-01,1\n", "line 3: 9999-01-01 is too far"},
	} {
		_, _, err := runCLI(t, c.input, "forecast", "--input", "-")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("input %q: error %v, want it to contain %q", c.input, err, c.want)
			continue
		}
		if evbill.ErrorCode(err) != evbill.EINVALID || exitStatus(err) != 2 {
			t.Errorf("input %q: error code %q, want %q", c.input, evbill.ErrorCode(err), evbill.EINVALID)
		}
	}
	holidays := writeFile(t, "holidays.txt", "# closed\n2025-12-25\n25/12/2025\n")
	_, _, err := runCLI(t, good, "forecast", "--input", "-", "--holidays", holidays)
	if err == nil || !strings.Contains(err.Error(), `line 3: "25/12/2025" is not an ISO date`) {
		t.Errorf("bad holidays file: %v", err)
	}
	for _, args := range [][]string{
		{},
		{"--input", "-", "--horizon", "0"},
		{"--input", "-", "--origins", "0", "--backtest"},
		{"--input", "-", "extra"},
		{"--input", filepath.Join(t.TempDir(), "missing.csv")},
	} {
		_, _, err := runCLI(t, good, append([]string{"forecast"}, args...)...)
		if evbill.ErrorCode(err) != evbill.EINVALID {
			t.Errorf("forecast %q: error %v, want %s", args, err, evbill.EINVALID)
		}
	}
	// Too short to backtest is an answer about the input, not a crash.
	_, _, err = runCLI(t, good, "forecast", "--input", "-", "--backtest", "--horizon", "7")
	if evbill.ErrorCode(err) != evbill.EINVALID {
		t.Errorf("backtest of two days: %v", err)
	}
}
