package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/cdr"
	"github.com/evbill/evbill/tariff"
)

const priceUsage = `Usage:
  evbill price --tariff TARIFF.json --cdr CDR.json [--timezone ZONE] [--explain]
  evbill price --tariff TARIFF.json --batch [--timezone ZONE] < cdrs.ndjson > priced.ndjson

Prices OCPI 2.2.1 CDRs under an OCPI 2.2.1 tariff. TARIFF.json holds one
Tariff object or an array of them; the first whose start_date_time and
end_date_time cover a CDR's start prices it. The output is the CDR with its
cost totals and charging_periods[].tariff_id filled in. Cost fields in the
input are ignored.

Flags:
`

// runPrice is the "price" command.
func runPrice(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("evbill price", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, priceUsage)
		fs.PrintDefaults()
	}
	tariffPath := fs.String("tariff", "", "OCPI tariff JSON file (`path`), one object or an array")
	cdrPath := fs.String("cdr", "", "OCPI CDR JSON file (`path`); - reads standard input")
	batch := fs.Bool("batch", false, "read NDJSON CDRs from standard input and write NDJSON priced CDRs")
	zone := fs.String("timezone", envOr(getenv, "EVBILL_TIMEZONE", "UTC"), "IANA time `zone` of the location, for time-of-day, date and weekday restrictions (env EVBILL_TIMEZONE)")
	explain := fs.Bool("explain", false, "print the price breakdown for a person instead of JSON")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "batch mode: number of pricing goroutines")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return evbill.Errorf(evbill.EINVALID, "price: %v", err)
	}
	switch {
	case fs.NArg() > 0:
		return evbill.Errorf(evbill.EINVALID, "price: unexpected argument %q", fs.Arg(0))
	case *tariffPath == "":
		return evbill.Errorf(evbill.EINVALID, "price: --tariff is required")
	case *batch && *cdrPath != "":
		return evbill.Errorf(evbill.EINVALID, "price: use either --cdr or --batch, not both")
	case !*batch && *cdrPath == "":
		return evbill.Errorf(evbill.EINVALID, "price: --cdr or --batch is required")
	case *batch && *explain:
		return evbill.Errorf(evbill.EINVALID, "price: --explain prices one CDR; it does not combine with --batch")
	case *workers < 1:
		return evbill.Errorf(evbill.EINVALID, "price: --workers must be at least 1")
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		return evbill.Errorf(evbill.EINVALID, "price: --timezone %q is not an IANA time zone", *zone)
	}
	data, err := os.ReadFile(*tariffPath)
	if err != nil {
		return evbill.Errorf(evbill.EINVALID, "price: %v", err)
	}
	tariffs, err := tariff.ParseList(data)
	if err != nil {
		return evbill.Errorf(evbill.EINVALID, "price: %s: %w", *tariffPath, err)
	}
	p := &pricer{tariffs: tariffs, loc: loc}

	if *batch {
		stats, err := cdr.PriceStream(ctx, stdin, stdout, *workers, p.price)
		if err != nil {
			return err
		}
		if stats.Failed > 0 {
			fmt.Fprintf(stderr, "evbill price: %d of %d CDRs could not be priced; see the error lines in the output\n", stats.Failed, stats.Lines)
		}
		return nil
	}

	var in []byte
	if *cdrPath == "-" {
		in, err = io.ReadAll(stdin)
	} else {
		in, err = os.ReadFile(*cdrPath)
	}
	if err != nil {
		return evbill.Errorf(evbill.EINVALID, "price: %v", err)
	}
	c, err := cdr.Parse(in)
	if err != nil {
		return evbill.Errorf(evbill.EINVALID, "price: %s: %w", *cdrPath, err)
	}
	var r tariff.Result
	if err := p.price(c, &r); err != nil {
		return evbill.Errorf(evbill.EINVALID, "price: %s: %w", *cdrPath, err)
	}
	var out []byte
	if *explain {
		t, _ := tariff.Select(tariffs, c.Session.Start) // p.price succeeded, so one applies
		out = tariff.AppendExplanation(nil, t, &c.Session, &r)
	} else {
		if out, err = cdr.AppendPriced(nil, c, &r); err != nil {
			return evbill.Errorf(evbill.EINVALID, "price: %s: %w", *cdrPath, err)
		}
		out = append(out, '\n')
	}
	_, err = stdout.Write(out)
	return err
}

// pricer prices CDRs under a list of tariffs at one location.
type pricer struct {
	tariffs []*tariff.Tariff
	loc     *time.Location
}

// price selects the tariff in force at the CDR's start and prices the CDR
// into r. A CDR in another currency than its tariff is refused: evbill
// never converts currencies.
func (p *pricer) price(c *cdr.CDR, r *tariff.Result) error {
	t, err := tariff.Select(p.tariffs, c.Session.Start)
	if err != nil {
		return err
	}
	if c.Currency != t.Currency {
		return fmt.Errorf("the CDR is in %s but tariff %s is in %s; evbill does not convert currencies", c.Currency, t.ID, t.Currency)
	}
	c.Session.Location = p.loc
	return t.PriceInto(&c.Session, r)
}

func envOr(getenv func(string) string, key, fallback string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return fallback
}
