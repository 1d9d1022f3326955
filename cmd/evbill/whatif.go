package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/api"
	"github.com/evbill/evbill/tariff"
	"github.com/evbill/evbill/whatif"
)

const whatIfUsage = `Usage:
  evbill whatif --tenant NAME --tariff CANDIDATE.json --from WHEN --to WHEN [--site ID] [--station ID] [--priced-under TARIFF_ID] [--json]
  evbill whatif --tenant NAME --tariff-id ID [--version N] --from WHEN --to WHEN …

Re-prices the stored CDRs of the tenant's sessions that started in
[--from, --to) under a candidate tariff, with the billing engine on each
CDR's own charging periods in its site's time zone, and compares the result
with what the CDRs charged: per site, per local day, in total and as the
distribution of the change per session. It assumes the same demand (the
same sessions, energy and times). CDRs in another currency than the
candidate are skipped and counted, never converted. WHEN is an RFC 3339
instant or a date (YYYY-MM-DD, midnight UTC). Progress goes to standard
error; the answer, a table or the API's JSON, to standard output.

Flags:
`

// runWhatIf is the "whatif" command.
func runWhatIf(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("evbill whatif", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, whatIfUsage)
		fs.PrintDefaults()
	}
	tenantName := fs.String("tenant", "", "tenant `name`")
	tariffPath := fs.String("tariff", "", "candidate OCPI tariff JSON file (`path`); - reads standard input")
	tariffID := fs.String("tariff-id", "", "a stored tariff (`ID`) as the candidate, instead of --tariff")
	version := fs.Int("version", 0, "the stored tariff's `version`; the latest when 0")
	from := fs.String("from", "", "re-price sessions that started at or after `WHEN`")
	to := fs.String("to", "", "… and before `WHEN`")
	site := fs.String("site", "", "only the sessions of this site (`ID`)")
	station := fs.String("station", "", "only the sessions of this station (`ID`)")
	pricedUnder := fs.String("priced-under", "", "only the sessions that were priced under this stored tariff (`ID`)")
	asJSON := fs.Bool("json", false, "write the API's JSON instead of a table")
	var sf storeFlags
	sf.register(fs, getenv)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return evbill.Errorf(evbill.EINVALID, "whatif: %v", err)
	}
	invalid := func(format string, a ...any) error {
		return evbill.Errorf(evbill.EINVALID, "whatif: "+format, a...)
	}
	switch {
	case fs.NArg() > 0:
		return invalid("unexpected argument %q", fs.Arg(0))
	case *tenantName == "":
		return invalid("--tenant is required")
	case (*tariffPath == "") == (*tariffID == ""):
		return invalid("give the candidate as --tariff FILE or --tariff-id ID")
	case *version != 0 && *tariffID == "":
		return invalid("--version goes with --tariff-id")
	case *version < 0:
		return invalid("--version must be at least 1")
	}
	fromT, err := parseWhen("--from", *from)
	if err != nil {
		return err
	}
	toT, err := parseWhen("--to", *to)
	if err != nil {
		return err
	}
	if !toT.After(fromT) {
		return invalid("--to must be after --from")
	}
	var candidate *tariff.Tariff
	if *tariffPath != "" {
		var data []byte
		if *tariffPath == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(*tariffPath)
		}
		if err != nil {
			return invalid("%v", err)
		}
		if candidate, err = tariff.Parse(data); err != nil {
			return invalid("%s: %w", *tariffPath, err)
		}
	}

	store, _, err := sf.open(ctx, getenv)
	if err != nil {
		return err
	}
	defer store.Close()
	ws, ok := any(store).(evbill.WhatIfStore)
	if !ok {
		return errors.New("whatif: the store does not keep CDR periods")
	}
	tn, err := store.TenantByName(ctx, *tenantName)
	if evbill.ErrorCode(err) == evbill.ENOTFOUND {
		return invalid("--tenant %q: no such tenant", *tenantName)
	}
	if err != nil {
		return err
	}
	req := api.WhatIfRequest{Candidate: candidate, Filter: evbill.WhatIfFilter{TenantID: tn.ID, From: fromT, To: toT,
		SiteID: *site, StationID: *station, TariffID: *pricedUnder}}
	if *tariffID != "" {
		v, err := store.TariffVersion(ctx, tn.ID, *tariffID, *version)
		if evbill.ErrorCode(err) == evbill.ENOTFOUND {
			return invalid("--tariff-id %q: %v", *tariffID, err)
		}
		if err != nil {
			return err
		}
		if req.Candidate, err = tariff.Parse(v.Document); err != nil {
			return fmt.Errorf("whatif: stored tariff %s version %d: %w", v.TariffID, v.Version, err)
		}
		req.Ref = v
	}
	total, err := ws.CountWhatIfCDRs(ctx, req.Filter)
	if err != nil {
		return err
	}
	bar := &progressBar{w: stderr, total: total}
	req.Progress = bar.follow
	o, err := api.RunWhatIf(ctx, store, ws, req)
	bar.stop()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(o)
	}
	return writeWhatIfTable(stdout, o)
}

// parseWhen reads an RFC 3339 instant or a date, midnight UTC.
func parseWhen(flagName, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, evbill.Errorf(evbill.EINVALID, "whatif: %s is required", flagName)
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, evbill.Errorf(evbill.EINVALID, "whatif: %s %q is neither an RFC 3339 instant nor a date (YYYY-MM-DD)", flagName, s)
}

// progressBar redraws "\r[=====     ] 512,000/1,000,000 CDRs" on its
// writer five times a second while a what-if runs: plain text, so that a
// log file shows the same as a terminal, only with more lines' worth.
type progressBar struct {
	w     io.Writer
	total int64
	r     *whatif.Runner
	done  chan struct{}
	wg    sync.WaitGroup
}

const barWidth = 30

// follow starts drawing the runner's progress.
func (b *progressBar) follow(r *whatif.Runner) {
	b.r, b.done = r, make(chan struct{})
	b.wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-b.done:
				return
			case <-tick.C:
				b.draw(r.Seen())
			}
		}
	})
}

// stop draws the final state and ends the line.
func (b *progressBar) stop() {
	if b.r == nil {
		return
	}
	close(b.done)
	b.wg.Wait()
	b.draw(b.r.Seen())
	fmt.Fprintln(b.w)
}

func (b *progressBar) draw(seen int64) {
	filled := barWidth
	if b.total > 0 {
		filled = int(min(seen, b.total) * barWidth / b.total)
	}
	fmt.Fprintf(b.w, "\r[%s%s] %s/%s CDRs", strings.Repeat("=", filled), strings.Repeat(" ", barWidth-filled),
		thousands(seen), thousands(b.total))
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// writeWhatIfTable writes the answer for a person: the totals per site
// and per local date, the distribution of the change per session, what
// was skipped and the assumption.
func writeWhatIfTable(w io.Writer, o api.WhatIf) error {
	name := o.Tariff.OCPIID
	if o.Tariff.TariffID != "" {
		name = fmt.Sprintf("%s version %d", o.Tariff.TariffID, o.Tariff.Version)
	}
	scope := "tenant-wide"
	var parts []string
	for _, p := range [][2]string{{"site", o.Scope.SiteID}, {"station", o.Scope.StationID}, {"priced under", o.Scope.TariffID}} {
		if p[1] != "" {
			parts = append(parts, p[0]+" "+p[1])
		}
	}
	if len(parts) > 0 {
		scope = strings.Join(parts, ", ")
	}
	fmt.Fprintf(w, "What if: %s (%s), sessions started %s to %s, %s\n\n", name, o.Currency,
		o.From.Format(time.RFC3339), o.To.Format(time.RFC3339), scope)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tSESSIONS\tACTUAL\tCANDIDATE\tCHANGE\tCHANGE %%\t\n")
	row := func(label string, t api.WhatIfTotals) {
		pct := "–"
		if t.ChangePercent != nil {
			pct = t.ChangePercent.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", label, thousands(t.Sessions), t.Actual.Amount, t.Candidate.Amount, t.Change.Amount, pct)
	}
	for _, s := range o.Sites {
		row("site "+s.SiteID+" ("+s.TimeZone+")", s.WhatIfTotals)
	}
	fmt.Fprintf(tw, "\t\t\t\t\t\t\n")
	for _, d := range o.Days {
		row(d.Date, d.WhatIfTotals)
	}
	fmt.Fprintf(tw, "\t\t\t\t\t\t\n")
	row("total", o.WhatIfTotals)
	if err := tw.Flush(); err != nil {
		return err
	}
	if c := o.ChangePerSession; c != nil {
		fmt.Fprintf(w, "\nChange per session: p10 %s, p50 %s, p90 %s (min %s, max %s); %s lower, %s unchanged, %s higher\n",
			c.P10.Amount, c.P50.Amount, c.P90.Amount, c.Min.Amount, c.Max.Amount, thousands(c.Lower), thousands(c.Unchanged), thousands(c.Higher))
	}
	for _, k := range o.Skipped.OtherCurrency {
		fmt.Fprintf(w, "Skipped: %s sessions in %s (the candidate is in %s)\n", thousands(k.Sessions), k.Currency, o.Currency)
	}
	if o.ApproximateSessions > 0 {
		fmt.Fprintf(w, "Approximate: %s sessions have a charging period inside which the candidate's price would change; each such period is priced by its start\n",
			thousands(o.ApproximateSessions))
	}
	if o.Skipped.Unpriced > 0 {
		fmt.Fprintf(w, "Not re-priced: %s sessions, for example:\n", thousands(o.Skipped.Unpriced))
		for _, e := range o.Skipped.Examples {
			fmt.Fprintf(w, "  %s: %s\n", e.SessionID, e.Reason)
		}
	}
	_, err := fmt.Fprintf(w, "\nAssumption: %s\n", o.Assumption)
	return err
}
