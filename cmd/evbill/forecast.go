package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/forecast"
)

const forecastUsage = `Usage:
  evbill forecast --input history.csv [--horizon 365] [--holidays holidays.txt]
  evbill forecast --input history.csv [--horizon 365] --backtest [--origins 4] [--holidays holidays.txt]

Forecasts a daily series (charging sessions, kWh or revenue, of a site or
of the network) with an 80 % prediction interval, from a model with trend,
weekly and yearly seasonality and holidays.

history.csv has the header line "date,value", then one row per day, oldest
first: an ISO date (2025-01-31) and a number. A day with no figure is left
out; the model copes with gaps. --input - reads standard input.

The forecast is CSV on standard output: the header "date,forecast,lo80,hi80"
and one row per day from the day after the history's last date, with two
decimals. lo80 and hi80 bound the range the day is expected to fall in four
times out of five. The figures are statistical estimates; nothing is billed
from them.

--backtest prints, instead of the forecast, how well the model would have
done: it is fitted at --origins points in the history, each forecasting
--horizon days that the history then shows, and scored by MASE against the
seasonal naive forecast (the same weekday last week). The output is CSV: the
header "horizon,origins,points,mase,naive_mase,coverage80" and one row.
MASE below 1 errs less than last week's values did one week ahead; the model
is worth having where mase is clearly below naive_mase. coverage80 is the
share of days inside the 80 % interval.

--holidays names a file of ISO dates, one a line, past and future, on which
demand follows a holiday pattern (lines starting with # are skipped).

Notes on what the history was too short for go to standard error.

Flags:
`

// runForecast is the "forecast" command.
func runForecast(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("evbill forecast", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, forecastUsage)
		fs.PrintDefaults()
	}
	input := fs.String("input", "", "history CSV `file` with the header date,value; - reads standard input")
	horizon := fs.Int("horizon", 365, "`days` to forecast")
	backtest := fs.Bool("backtest", false, "print the rolling-origin backtest's accuracy instead of the forecast")
	origins := fs.Int("origins", 4, "backtest: number of forecast `origins`")
	holidays := fs.String("holidays", "", "`file` of holiday dates, one ISO date a line")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return evbill.Errorf(evbill.EINVALID, "forecast: %v", err)
	}
	switch {
	case fs.NArg() > 0:
		return evbill.Errorf(evbill.EINVALID, "forecast: unexpected argument %q", fs.Arg(0))
	case *input == "":
		return evbill.Errorf(evbill.EINVALID, "forecast: --input is required")
	case *horizon < 1 || *horizon > forecast.MaxHorizon:
		return evbill.Errorf(evbill.EINVALID, "forecast: --horizon must be from 1 to %d days", forecast.MaxHorizon)
	case *origins < 1 || *origins > forecast.MaxOrigins:
		return evbill.Errorf(evbill.EINVALID, "forecast: --origins must be from 1 to %d", forecast.MaxOrigins)
	}

	name, in := *input, stdin
	if name == "-" {
		name = "standard input"
	} else {
		f, err := os.Open(*input)
		if err != nil {
			return evbill.Errorf(evbill.EINVALID, "forecast: %v", err)
		}
		defer f.Close()
		in = f
	}
	s, err := readHistory(in)
	if err != nil {
		return evbill.Errorf(evbill.EINVALID, "forecast: %s: %v", name, err)
	}
	if *holidays != "" {
		f, err := os.Open(*holidays)
		if err != nil {
			return evbill.Errorf(evbill.EINVALID, "forecast: %v", err)
		}
		s.Holidays, err = readHolidays(f)
		f.Close()
		if err != nil {
			return evbill.Errorf(evbill.EINVALID, "forecast: %s: %v", *holidays, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	w := bufio.NewWriter(stdout)
	if *backtest {
		a, err := forecast.Backtest(s, *horizon, *origins)
		if err != nil {
			return evbill.Errorf(evbill.EINVALID, "forecast: %s: %v", name, err)
		}
		fmt.Fprintln(w, "horizon,origins,points,mase,naive_mase,coverage80")
		fmt.Fprintf(w, "%d,%d,%d,%.3f,%.3f,%.3f\n", a.Horizon, a.Origins, a.Points, a.MASE, a.NaiveMASE, a.Coverage80)
		return w.Flush()
	}
	m, err := forecast.Fit(s)
	if err != nil {
		return evbill.Errorf(evbill.EINVALID, "forecast: %s: %v", name, err)
	}
	for _, note := range m.Notes() {
		fmt.Fprintf(stderr, "evbill forecast: note: %s\n", note)
	}
	fmt.Fprintln(w, "date,forecast,lo80,hi80")
	var line []byte
	for _, p := range m.Forecast(*horizon) {
		line = p.Time.AppendFormat(line[:0], time.DateOnly)
		for _, v := range []float64{p.Forecast, p.Lo80, p.Hi80} {
			line = strconv.AppendFloat(append(line, ','), v, 'f', 2, 64)
		}
		w.Write(append(line, '\n'))
	}
	return w.Flush()
}

// readHistory reads the date,value CSV into a daily series, the days
// between rows marked missing. Its errors name the line.
func readHistory(r io.Reader) (forecast.Series, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // counted here, for a message that says what a row should be
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return forecast.Series{}, fmt.Errorf("empty: want the header date,value and a row per day")
	}
	if err != nil {
		return forecast.Series{}, err
	}
	if len(header) != 2 || !strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(header[0], "\ufeff")), "date") || !strings.EqualFold(strings.TrimSpace(header[1]), "value") {
		return forecast.Series{}, fmt.Errorf("line 1: the header is %q, want date,value", strings.Join(header, ","))
	}
	var (
		first, prev time.Time
		prevLine    int
		values      []float64
		missing     []bool
		gaps        bool
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return forecast.Series{}, err // a *csv.ParseError names its line
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != 2 {
			return forecast.Series{}, fmt.Errorf("line %d: %d fields, want 2: date,value", line, len(rec))
		}
		d, err := time.Parse(time.DateOnly, strings.TrimSpace(rec[0]))
		if err != nil {
			return forecast.Series{}, fmt.Errorf("line %d: %q is not an ISO date such as 2025-01-31", line, rec[0])
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return forecast.Series{}, fmt.Errorf("line %d: value %q is not a finite number", line, rec[1])
		}
		if len(values) == 0 { // not first.IsZero(): 0001-01-01 is a date too
			first = d
		} else if !d.After(prev) {
			return forecast.Series{}, fmt.Errorf("line %d: %s does not come after %s on line %d: the days must be in order, each once", line, rec[0], prev.Format(time.DateOnly), prevLine)
		}
		// Dates parse to UTC midnights, so seconds divide into whole days
		// (and, unlike a time.Duration, do not saturate at 292 years).
		days := (d.Unix() - first.Unix()) / 86400
		if days >= forecast.MaxLength {
			return forecast.Series{}, fmt.Errorf("line %d: %s is too far from %s: a history spans at most %d days", line, rec[0], first.Format(time.DateOnly), forecast.MaxLength)
		}
		for len(values) < int(days) {
			values = append(values, 0)
			missing = append(missing, true)
			gaps = true
		}
		values = append(values, v)
		missing = append(missing, false)
		prev, prevLine = d, line
	}
	if len(values) == 0 {
		return forecast.Series{}, fmt.Errorf("no rows after the header")
	}
	s := forecast.Series{Start: first, Freq: forecast.Daily, Values: values}
	if gaps {
		s.Missing = missing
	}
	return s, nil
}

// readHolidays reads one ISO date a line; blank lines and lines starting
// with # are skipped, and so is a header line "date".
func readHolidays(r io.Reader) ([]time.Time, error) {
	var out []time.Time
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") || (line == 1 && strings.EqualFold(text, "date")) {
			continue
		}
		d, err := time.Parse(time.DateOnly, text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q is not an ISO date such as 2025-12-25", line, text)
		}
		out = append(out, d)
	}
	return out, sc.Err()
}
