package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/sim"
)

const simulateUsage = `Usage:
  evbill simulate --url ws://127.0.0.1:8080/ocpp --chargers N [flags]

Simulates a fleet of OCPP 1.6J charge points against a central system: the
demo's traffic and the benchmarks' load. Charge point ids are --prefix and a
number (SIM-00001…), appended to --url as its last path segment; every
station authenticates with --password (HTTP Basic).

With --api-key, the stations (connector 1 of the simulated power), their
password and the tokens are first created through the operator API, in a
site "Simulator" unless --site-id is given; what exists is kept. Run again
with the same --seed, --prefix and --dc-share and the stations agree. The
sessions are billed by whatever tariff is assigned to the site.

A progress line goes to standard error every few seconds; the summary
(--json for benchmark scripts) to standard output.

Flags:
`

// runSimulate is the "simulate" command.
func runSimulate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("evbill simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, simulateUsage)
		fs.PrintDefaults()
	}
	var cfg sim.Config
	fs.StringVar(&cfg.URL, "url", envOr(getenv, "EVBILL_OCPP_URL", "ws://127.0.0.1:8080/ocpp"), "central system OCPP `URL`, ws:// or wss:// (env EVBILL_OCPP_URL)")
	fs.IntVar(&cfg.Chargers, "chargers", 10, "`number` of charge points")
	fs.StringVar(&cfg.Prefix, "prefix", sim.DefaultPrefix, "charge point id `prefix`")
	fs.StringVar(&cfg.Password, "password", envOr(getenv, "EVBILL_SIM_PASSWORD", sim.DefaultPassword), "OCPP Basic auth `password` of every station, 16 to 40 characters (env EVBILL_SIM_PASSWORD)")
	tokens := fs.String("tokens", strings.Join(sim.DefaultTokens(), ","), "comma-separated `idTags` the drivers use")
	fs.DurationVar(&cfg.Duration, "duration", 0, "how long to run; 0 runs until interrupted")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random `seed`: the same seed gives the same stations and behaviour")
	fs.DurationVar(&cfg.MeterInterval, "meter-interval", sim.DefaultMeterInterval, "time between meter samples; when set, the central system's MeterValueSampleInterval is ignored")
	fs.Float64Var(&cfg.DCShare, "dc-share", 0.2, "`fraction` of DC stations (50–350 kW; the rest are AC 7.4–22 kW)")
	fs.BoolVar(&cfg.Chaos, "chaos", true, "offline stretches with replayed queues, retransmissions and reboots; --chaos=false for clean benchmark runs")
	offline := fs.String("offline", "5s-60s", "`range` of an offline stretch's length, MIN-MAX")
	fs.Float64Var(&cfg.ConnectRate, "connect-rate", sim.DefaultConnectRate, "most connection attempts per `second` (each costs the server a password hash)")
	sourceIPs := fs.String("source-ips", "", "local source `addresses` to spread connections over, round robin: a list (127.0.0.1,127.0.0.2) or a range (127.0.0.1-127.0.0.8); for loopback targets beyond one address's ports")
	fs.DurationVar(&cfg.SessionGap, "session-gap", sim.DefaultSessionGap, "mean idle time between sessions on a connector (exponential)")
	fs.DurationVar(&cfg.SessionLength, "session-length", sim.DefaultSessionLength, "mean time until the driver unplugs (exponential); a full car parks first")
	fs.DurationVar(&cfg.Parking, "parking", sim.DefaultParking, "mean idle parking time after the car is full")
	fs.IntVar(&cfg.SamplesPerSession, "samples-per-session", 0, "benchmark mode when above 0: every session is Start, this many MeterValues and Stop, back to back")
	fs.DurationVar(&cfg.CallTimeout, "call-timeout", sim.DefaultCallTimeout, "how long a CALL waits for its answer before the charger reconnects")
	jsonOut := fs.Bool("json", false, "print the summary as JSON")
	quiet := fs.Bool("quiet", false, "no progress lines")
	var prov sim.Provision
	fs.StringVar(&prov.APIKey, "api-key", getenv("EVBILL_API_KEY"), "operator API `key` (evb_…): create the stations and tokens first (env EVBILL_API_KEY)")
	fs.StringVar(&prov.APIURL, "api-url", "", "operator API base `URL`; default: --url's host with http(s)")
	fs.StringVar(&prov.SiteID, "site-id", "", "`site` for the stations; default: the site named Simulator, created if missing")
	fs.BoolVar(&prov.CostDisplay, "cost-display", false, "with --api-key, flag the stations for the charger display: evbill sends them the price and costs (OCPP 1.6 California Pricing DataTransfers), which the simulated chargers take and count")
	fs.StringVar(&prov.PayBy, "pay-by", "", "with --api-key, make each token a driver's who `pays` by card (sandbox test card), wallet (topped up by that card), account, or mixed (the three in turn)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return evbill.Errorf(evbill.EINVALID, "simulate: %v", err)
	}
	fs.Visit(func(f *flag.Flag) { cfg.MeterIntervalFixed = cfg.MeterIntervalFixed || f.Name == "meter-interval" })
	invalid := func(format string, args ...any) error {
		return evbill.Errorf(evbill.EINVALID, "simulate: "+format, args...)
	}
	switch {
	case fs.NArg() > 0:
		return invalid("unexpected argument %q", fs.Arg(0))
	case cfg.Chargers < 1:
		return invalid("--chargers must be at least 1")
	case len(cfg.Password) < 16 || len(cfg.Password) > 40:
		return invalid("--password must be 16 to 40 characters")
	case cfg.DCShare < 0 || cfg.DCShare > 1:
		return invalid("--dc-share must be between 0 and 1")
	case cfg.ConnectRate <= 0:
		return invalid("--connect-rate must be above 0")
	case !slices.Contains(sim.PayByModes, prov.PayBy):
		return invalid("--pay-by must be card, wallet, account or mixed")
	case prov.PayBy != "" && prov.APIKey == "":
		return invalid("--pay-by needs --api-key: the drivers are made through the API")
	case cfg.SamplesPerSession < 0:
		return invalid("--samples-per-session cannot be negative")
	case cfg.Duration < 0 || cfg.MeterInterval <= 0 || cfg.SessionGap <= 0 || cfg.SessionLength <= 0 || cfg.Parking <= 0 || cfg.CallTimeout <= 0:
		return invalid("durations must be positive (--duration may be 0)")
	}
	for _, t := range strings.Split(*tokens, ",") {
		if t = strings.TrimSpace(t); t != "" {
			if len(t) > 20 {
				return invalid("token %q is longer than OCPP's 20 characters", t)
			}
			cfg.Tokens = append(cfg.Tokens, t)
		}
	}
	if len(cfg.Tokens) == 0 {
		return invalid("--tokens names no token")
	}
	lo, hi, ok := strings.Cut(*offline, "-")
	var err1, err2 error
	if ok {
		cfg.OfflineMin, err1 = time.ParseDuration(lo)
		cfg.OfflineMax, err2 = time.ParseDuration(hi)
	}
	if !ok || err1 != nil || err2 != nil || cfg.OfflineMin <= 0 || cfg.OfflineMax < cfg.OfflineMin {
		return invalid("--offline must be a range MIN-MAX of durations, e.g. 5s-60s")
	}
	ips, err := parseAddrs(*sourceIPs)
	if err != nil {
		return invalid("--source-ips: %v", err)
	}
	cfg.SourceIPs = ips
	if a := getenv("EVBILL_PPROF_ADDR"); a != "" {
		// The simulator is half of every OCPP benchmark: its own CPU
		// profile shows what the load generator costs the machine.
		if err := servePprof(ctx, a, slog.New(slog.NewTextHandler(stderr, nil))); err != nil {
			return err
		}
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	if prov.APIKey != "" {
		if prov.APIURL == "" {
			if prov.APIURL, err = sim.APIURLFor(cfg.URL); err != nil {
				return invalid("%v; give --api-url", err)
			}
		}
		prov.Progress = cfg.Progress
		if err := prov.Run(ctx, cfg); err != nil {
			return fmt.Errorf("simulate: provisioning: %w", err)
		}
	}
	sum, err := sim.Run(ctx, cfg)
	if err != nil {
		return invalid("%v", err)
	}
	if *jsonOut {
		return sum.WriteJSON(stdout)
	}
	return sum.WriteText(stdout)
}

// parseAddrs reads "a,b,c" or "first-last" (a range within one /24 or
// wider, in address order) into addresses.
func parseAddrs(s string) ([]netip.Addr, error) {
	if s == "" {
		return nil, nil
	}
	var out []netip.Addr
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		first, last, isRange := strings.Cut(part, "-")
		a, err := netip.ParseAddr(first)
		if err != nil {
			return nil, err
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, err := netip.ParseAddr(last)
		if err != nil {
			return nil, err
		}
		if b.Less(a) || a.Is4() != b.Is4() {
			return nil, fmt.Errorf("%s is not a range", part)
		}
		for ; !b.Less(a); a = a.Next() {
			if out = append(out, a); len(out) > 1024 {
				return nil, fmt.Errorf("more than 1024 addresses")
			}
		}
	}
	return out, nil
}
