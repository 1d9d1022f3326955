package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/dashboard"
	"github.com/evbill/evbill/examples"
	"github.com/evbill/evbill/sim"
	"github.com/evbill/evbill/sqlite"
	"github.com/evbill/evbill/webhook"
)

// Demo records: found by these names on a later start, so a demo database
// can be stopped and started again.
const (
	demoTenant = "demo"
	demoSite   = "Demo Centraal"
)

// runDemo is the "demo" command: evbill serve on its own SQLite database,
// with a demo tenant, a site under a time-of-use tariff, and a simulated
// fleet of chargers in the same process charging and being billed, so
// that a newcomer sees sessions priced within a minute.
func runDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("evbill demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr(getenv, "EVBILL_ADDR", "127.0.0.1:8080"), "`address` to listen on (env EVBILL_ADDR)")
	data := fs.String("data", "./evbill-demo", "`directory` of the demo's own SQLite database")
	chargers := fs.Int("chargers", 8, "`number` of simulated chargers")
	seed := fs.Int64("seed", 1, "random `seed` of the simulated fleet")
	duration := fs.Duration("duration", 0, "stop after this long (0: until interrupted)")
	length := fs.Duration("session-length", time.Minute, "mean `time` a simulated driver stays plugged in; idle gaps and parking are a quarter of it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return evbill.Errorf(evbill.EINVALID, "demo: %v", err)
	}
	if *chargers < 1 || *chargers > 1000 {
		return evbill.Errorf(evbill.EINVALID, "demo: --chargers must be between 1 and 1000")
	}
	if *length < time.Second {
		return evbill.Errorf(evbill.EINVALID, "demo: --session-length must be at least 1s")
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	log := newLogger(stderr)
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return evbill.Errorf(evbill.EINVALID, "demo: data directory: %v", err)
	}
	path := filepath.Join(*data, "evbill.db")
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer store.Close()
	world, err := provisionDemo(ctx, store)
	if err != nil {
		return fmt.Errorf("demo: setting up: %w", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return evbill.Errorf(evbill.EINVALID, "demo: %v", err)
	}
	base := "http://" + ln.Addr().String()
	password, err := demoLogin(ctx, store, world.tenantID)
	if err != nil {
		ln.Close()
		return fmt.Errorf("demo: dashboard login: %w", err)
	}
	fmt.Fprintf(stdout, `evbill demo
  dashboard  %s/   (log in as %s, password %s, new each run)
  API        %s/api/v1   (OpenAPI: %s/api/v1/openapi.json)
  admin key  %s   (tenant %q, shown once)
  try        curl -s -H "Authorization: Bearer %s" %s/api/v1/cdrs
  chargers   %d simulated, connecting to ws://%s/ocpp/
  pay page   %s/pay/DEMO-00001/1   (scan and charge as a guest; test cards while the sandbox is on)
Sessions are priced as they end; each CDR is printed below. Ctrl-C stops.
`, base, demoEmail, password, base, base, world.key, demoTenant, world.key, base, *chargers, ln.Addr(), base)
	ready := func() {
		go followCDRs(ctx, store, world.tenantID, stdout, log)
		go runDemoFleet(ctx, world, ln.Addr().String(), *chargers, *seed, *length, stderr, log)
	}
	gws, err := gateways(getenv)
	if err != nil {
		ln.Close()
		return err
	}
	// The demo runs on the user's own machine: its webhooks may go to a
	// receiver there.
	return serve(ctx, store, "sqlite "+path, ln, log, gws, serveOptions{ready: ready, webhookClient: webhook.NewClient()})
}

// demoWorld is what the demo made, or found from an earlier start.
type demoWorld struct {
	tenantID, siteID, key string
}

// provisionDemo makes the demo tenant, its site under the example
// time-of-use tariff, and a fresh admin key (keys are shown once, so an
// earlier start's cannot be shown again). Stations and tokens are made by
// the simulator through the API, as any integration would.
func provisionDemo(ctx context.Context, store migrator) (demoWorld, error) {
	var w demoWorld
	t, err := store.TenantByName(ctx, demoTenant)
	if evbill.ErrorCode(err) == evbill.ENOTFOUND {
		t = evbill.Tenant{Name: demoTenant}
		err = store.CreateTenant(ctx, &t)
	}
	if err != nil {
		return w, err
	}
	w.tenantID = t.ID
	sites, err := store.ListSites(ctx, t.ID, evbill.Page{Limit: evbill.MaxPageLimit})
	if err != nil {
		return w, err
	}
	for _, s := range sites {
		if s.Name == demoSite {
			w.siteID = s.ID
		}
	}
	if w.siteID == "" {
		site := evbill.Site{TenantID: t.ID, Name: demoSite, Address: "Stationsplein 1", City: "Amsterdam", PostalCode: "1012 AB",
			Country: "NL", TimeZone: "Europe/Amsterdam"}
		if err := store.CreateSite(ctx, &site); err != nil {
			return w, err
		}
		tv := evbill.TariffVersion{TenantID: t.ID, Currency: "EUR", Document: examples.Tariff}
		if err := store.CreateTariff(ctx, &tv); err != nil {
			return w, err
		}
		if err := store.CreateAssignment(ctx, &evbill.TariffAssignment{TenantID: t.ID, TariffID: tv.TariffID, SiteID: site.ID}); err != nil {
			return w, err
		}
		w.siteID = site.ID
	}
	w.key, err = createKey(ctx, store, t.ID, "demo "+time.Now().UTC().Format(time.RFC3339), evbill.RoleAdmin)
	return w, err
}

// followCDRs prints each CDR of the tenant as its cdr.created event
// reaches the outbox, the way the notification workers (to come) will
// read it.
func followCDRs(ctx context.Context, store migrator, tenantID string, stdout io.Writer, log *slog.Logger) {
	after := ""
	// Start at the end: CDRs of an earlier start are not news.
	for {
		events, err := store.PendingEvents(ctx, after, evbill.MaxPageLimit)
		if err != nil {
			log.Warn("demo: reading the outbox", "err", err)
			return
		}
		if len(events) == 0 {
			break
		}
		after = events[len(events)-1].ID
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		events, err := store.PendingEvents(ctx, after, evbill.MaxPageLimit)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("demo: reading the outbox", "err", err)
			}
			continue
		}
		for _, e := range events {
			after = e.ID
			if e.TenantID == tenantID && e.Type == "cdr.created" {
				printCDR(ctx, store, e, stdout)
			}
		}
	}
}

// printCDR writes one line for a priced session: its charger, energy,
// duration and amounts, from the stored OCPI CDR.
func printCDR(ctx context.Context, store migrator, e evbill.Event, stdout io.Writer) {
	var ev struct {
		CDRID string `json:"cdr_id"`
	}
	if json.Unmarshal(e.Payload, &ev) != nil {
		return
	}
	c, err := store.CDR(ctx, e.TenantID, ev.CDRID)
	if err != nil {
		return
	}
	var doc struct {
		CdrLocation struct {
			EvseID string `json:"evse_id"`
		} `json:"cdr_location"`
		TotalEnergy      json.Number `json:"total_energy"`
		TotalTime        json.Number `json:"total_time"`
		TotalParkingTime json.Number `json:"total_parking_time"`
	}
	_ = json.Unmarshal(c.Document, &doc)
	fmt.Fprintf(stdout, "CDR %s  %-11s %7s kWh  %8s charging  %8s idle  %s %s excl. VAT, %s incl.\n",
		c.ID, doc.CdrLocation.EvseID, doc.TotalEnergy, hours(doc.TotalTime), hours(doc.TotalParkingTime), c.TotalExclVAT, c.Currency, c.TotalInclVAT)
}

// hours writes an OCPI duration in hours (a decimal) as a time.Duration
// does, to the second: 0.004179 h is 15s.
func hours(n json.Number) string {
	if n == "" {
		return "0s"
	}
	h, err := decimal.Parse(string(n))
	if err != nil {
		return string(n) + " h"
	}
	s, err := h.Mul(decimal.MustNew(3600, 0))
	if err != nil {
		return string(n) + " h"
	}
	secs, _, ok := s.Round(0).Int64(0)
	if !ok {
		return string(n) + " h"
	}
	return (time.Duration(secs) * time.Second).String()
}

// demoPassword is the demo stations' OCPP password.
const demoPassword = "demo-charger-password"

// runDemoFleet provisions the demo's stations and tokens through the API,
// as any integration would, then runs the simulated fleet with short
// sessions (about length, sampled every 5 s or faster) until ctx ends.
func runDemoFleet(ctx context.Context, w demoWorld, addr string, chargers int, seed int64, length time.Duration, stderr io.Writer, log *slog.Logger) {
	cfg := sim.Config{
		URL: "ws://" + addr + "/ocpp", Chargers: chargers, Prefix: "DEMO-", Password: demoPassword, Seed: uint64(seed),
		MeterInterval: min(5*time.Second, length/4), MeterIntervalFixed: true, DCShare: 0.25, Chaos: true,
		OfflineMin: 5 * time.Second, OfflineMax: 20 * time.Second,
		SessionGap: length / 4, SessionLength: length, Parking: length / 4,
		ConnectRate: 50, Progress: stderr, ProgressEvery: 30 * time.Second,
	}
	// The simulated chargers have displays: the demo shows evbill's
	// price and cost messages reaching them ("display N" in the progress
	// line).
	p := sim.Provision{APIURL: "http://" + addr, APIKey: w.key, SiteID: w.siteID, CostDisplay: true}
	if err := p.Run(ctx, cfg); err != nil {
		if ctx.Err() == nil {
			log.Error("demo: provisioning the simulated stations", "err", err)
		}
		return
	}
	if _, err := sim.Run(ctx, cfg); err != nil && ctx.Err() == nil {
		log.Error("demo: simulated fleet", "err", err)
	}
}

// demoEmail is the demo's dashboard login, an admin of the demo tenant.
const demoEmail = "admin@demo.evbill.invalid"

// demoLogin makes the demo's dashboard user, or gives it a new password,
// and returns the password: random each run, shown once, as the API key.
func demoLogin(ctx context.Context, store migrator, tenantID string) (string, error) {
	var raw [12]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	password := base64.RawURLEncoding.EncodeToString(raw[:])
	hash, err := dashboard.HashPassword(password)
	if err != nil {
		return "", err
	}
	u, _, err := store.UserByEmail(ctx, demoEmail)
	switch {
	case evbill.ErrorCode(err) == evbill.ENOTFOUND:
		return password, store.CreateUser(ctx, &evbill.User{TenantID: tenantID, Email: demoEmail, Role: evbill.RoleAdmin}, hash)
	case err != nil:
		return "", err
	}
	return password, store.SetUserPassword(ctx, u.TenantID, u.ID, hash)
}
