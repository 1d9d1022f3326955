package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/api"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/dashboard"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/payment"
	"github.com/evbill/evbill/postgres"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/sqlite"
	"github.com/evbill/evbill/web"
	"github.com/evbill/evbill/webhook"
)

// storeFlags are the database settings every command that opens the
// store shares: --data for SQLite, EVBILL_DATABASE_URL for PostgreSQL.
type storeFlags struct {
	data string
}

func (f *storeFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&f.data, "data", envOr(getenv, "EVBILL_DATA", "./evbill-data"),
		"`directory` holding the SQLite database evbill.db (env EVBILL_DATA); ignored when EVBILL_DATABASE_URL is set")
}

// migrator is what both stores offer: records, sessions and migrations.
type migrator interface {
	evbill.Store
	evbill.SessionStore
	evbill.LedgerStore
	evbill.PaymentStore
	evbill.DashboardStore
	MigrationVersion(ctx context.Context) (int64, error)
}

// open opens the store: PostgreSQL when EVBILL_DATABASE_URL is set,
// otherwise SQLite in the data directory. Opening applies migrations.
func (f *storeFlags) open(ctx context.Context, getenv func(string) string) (migrator, string, error) {
	if dsn := getenv("EVBILL_DATABASE_URL"); dsn != "" {
		if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
			return nil, "", evbill.Errorf(evbill.EINVALID, "EVBILL_DATABASE_URL must be a postgres:// URL")
		}
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, "", fmt.Errorf("opening PostgreSQL: %w", err)
		}
		return s, "postgres", nil
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return nil, "", evbill.Errorf(evbill.EINVALID, "data directory: %v", err)
	}
	path := filepath.Join(f.data, "evbill.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, "", fmt.Errorf("opening %s: %w", path, err)
	}
	return s, "sqlite " + path, nil
}

// newLogger logs text to a terminal and JSON to anything else.
func newLogger(w io.Writer) *slog.Logger {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return slog.New(slog.NewTextHandler(w, nil))
		}
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// runServe is the "serve" command: the API server.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("evbill serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr(getenv, "EVBILL_ADDR", "127.0.0.1:8080"), "`address` to listen on (env EVBILL_ADDR)")
	var sf storeFlags
	sf.register(fs, getenv)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return evbill.Errorf(evbill.EINVALID, "serve: %v", err)
	}
	log := newLogger(stderr)
	store, where, err := sf.open(ctx, getenv)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := bootstrap(ctx, store, stdout, log); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return evbill.Errorf(evbill.EINVALID, "serve: %v", err)
	}
	if a := getenv("EVBILL_PPROF_ADDR"); a != "" {
		if err := servePprof(ctx, a, log); err != nil {
			ln.Close()
			return err
		}
	}
	gws, err := gateways(getenv)
	if err != nil {
		ln.Close()
		return err
	}
	paySecret := []byte(getenv("EVBILL_PAY_SECRET"))
	if len(paySecret) > 0 && len(paySecret) < 32 {
		ln.Close()
		return evbill.Errorf(evbill.EINVALID, "EVBILL_PAY_SECRET must be at least 32 bytes")
	}
	// Receipt emails, when EVBILL_SMTP_HOST is set (cmd/evbill/mail.go).
	mailCtx, stopMail := context.WithCancel(ctx)
	defer stopMail()
	if err := startMail(mailCtx, store, getenv, log); err != nil {
		ln.Close()
		return err
	}
	// Tenants name their own webhook endpoints: by default only the
	// internet is reachable, never this machine or its network.
	hooks := webhook.NewPublicClient()
	switch v := getenv("EVBILL_WEBHOOK_ALLOW_PRIVATE"); v {
	case "", "0", "false":
	case "1", "true":
		hooks = webhook.NewClient()
	default:
		ln.Close()
		return evbill.Errorf(evbill.EINVALID, "EVBILL_WEBHOOK_ALLOW_PRIVATE must be 1 or 0, not %q", v)
	}
	return serve(ctx, store, where, ln, log, gws, serveOptions{paySecret: paySecret, webhookClient: hooks})
}

// servePprof serves the Go profiler on its own listener, for measuring a
// running server (EVBILL_PPROF_ADDR, e.g. 127.0.0.1:6060): never on the
// API's address, and off unless asked for.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return evbill.Errorf(evbill.EINVALID, "EVBILL_PPROF_ADDR: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() { _ = srv.Serve(ln) }()
	log.Info("profiler listening", "addr", ln.Addr().String())
	return nil
}

// serveOptions are serve's settings that have defaults.
type serveOptions struct {
	// paySecret signs the pay page's forms and the live pages' links;
	// nil: a random one, for one instance.
	paySecret []byte
	// ready, when set, is called once the server accepts connections
	// (the demo starts its chargers then).
	ready func()
	// webhookClient posts the webhooks; nil: webhook.NewPublicClient.
	webhookClient *http.Client
}

// serve runs the API, the OCPP central system, the pay page and the
// live pages on ln until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, store migrator, where string, ln net.Listener, log *slog.Logger, gws map[string]evbill.Gateway, opts serveOptions) error {
	paySecret, ready := opts.paySecret, opts.ready
	// One resolver for the API, the chargers and the pay page, so an
	// operator's change to a tariff reaches the next StartTransaction and
	// the next guest at once.
	resolver := pricing.NewResolver(store)
	// One hold for drivers' cards and guests' cards.
	const cardHold = charging.DefaultCardHold
	charge := charging.NewService(charging.Config{Store: store, Resolver: resolver, Logger: log, Payments: store, CardHold: cardHold})
	defer charge.Close()
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go charge.RunSweeper(sweepCtx, time.Minute, charging.DefaultRebootGrace)
	// The payment worker: holds, captures and releases through the
	// gateways; the store is its queue, so any instance may run it.
	reg := api.NewRegistry()
	payMetrics, err := payment.NewMetrics(reg)
	if err != nil {
		ln.Close()
		return err
	}
	pay := &payment.Worker{Store: store, Gateways: gws, Log: log, Metrics: payMetrics, WalletMinimum: charging.DefaultWalletMinimum}
	go pay.Run(sweepCtx, time.Second)
	hooks := opts.webhookClient
	if hooks == nil {
		hooks = webhook.NewPublicClient()
	}
	if err := startWebhooks(sweepCtx, store, reg, log, hooks); err != nil { // cmd/evbill/webhooks.go
		ln.Close()
		return err
	}
	names := make([]string, 0, len(gws))
	for n := range gws {
		names = append(names, n)
	}
	slices.Sort(names)
	log.Info("payment gateways", "gateways", names)
	central := &ocpp.Server{Authenticate: charge.Authenticate, Handler: charge, Logger: log}
	// Gateways that save cards for later holds (Stripe's customers and
	// SetupIntents) serve POST …/payment-method/setup.
	cardSetup := map[string]api.CardSetup{}
	for name, g := range gws {
		if cs, ok := g.(api.CardSetup); ok {
			cardSetup[name] = cs
		}
	}
	// The public pages: the pay page ("scan and charge"), whose guests'
	// cards go through Stripe when it is configured, otherwise through the
	// sandbox (the page then says TEST MODE), and every session's live
	// page, which the API links to.
	gw := payGateway(gws)
	pages, err := web.New(web.Config{Store: store, Charging: charge, Chargers: central, Resolver: resolver,
		Gateway: gw, CardHold: cardHold, Secret: paySecret, Logger: log})
	if err != nil {
		ln.Close()
		return err
	}
	if gw != "" {
		log.Info("pay page", "path", "/pay/{chargePointID}/{connector}", "gateway", gw)
	} else {
		log.Warn("no payment gateway: the pay page is off")
	}
	handler, err := api.New(api.Config{Store: store, Charging: charge, Chargers: central, CardSetup: cardSetup,
		LivePath: pages.LivePath, Resolver: resolver, Logger: log, Version: version, Registry: reg})
	if err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/ocpp/", central)
	// Gateways' notifications: verified by each gateway's own signature,
	// not by an API key.
	mux.Handle("POST /webhooks/{gateway}", &payment.Webhooks{Store: store, Gateways: gws, Log: log})
	mux.Handle("/pay/", pages)
	mux.Handle("/s/", pages)
	mux.Handle("/r/", pages)
	// The operators' dashboard: its pages by their exact patterns ("/"
	// itself is GET /{$}), so everything else still reaches the API.
	dash, err := dashboard.New(dashboard.Config{Store: store, Charging: charge, Chargers: central, Resolver: resolver,
		LivePath: pages.LivePath,
		// The itemized receipt's path has the live page's token.
		ReceiptPath: func(tenantID, sessionID string) string {
			return "/r/" + strings.TrimPrefix(pages.LivePath(tenantID, sessionID), "/s/")
		},
		Logger: log})
	if err != nil {
		ln.Close()
		return err
	}
	dash.Mount(mux)
	mux.Handle("/", handler)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Event streams last as long as their sessions: a shutdown ends them
	// (browsers reconnect elsewhere) rather than waiting for them.
	srv.RegisterOnShutdown(charge.EndSubscriptions)
	log.Info("evbill listening", "addr", ln.Addr().String(), "store", where, "version", version)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// WebSocket connections are hijacked: http.Server.Shutdown does not
	// wait for them, the central system does.
	if err := central.Shutdown(shutdown); err != nil {
		log.Warn("closing charger connections", "err", err)
	}
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// payGateway is the gateway of the pay page among the configured ones:
// Stripe, a real processor, over the sandbox; "" when there is none.
func payGateway(gws map[string]evbill.Gateway) string {
	for _, name := range []string{web.GatewayStripe, web.GatewaySandbox} {
		if _, ok := gws[name]; ok {
			return name
		}
	}
	return ""
}

// bootstrap gives an empty database its first tenant and admin key, and
// prints the key once: without it nobody could use the API.
func bootstrap(ctx context.Context, store evbill.Store, stdout io.Writer, log *slog.Logger) error {
	n, err := store.CountTenants(ctx)
	if err != nil || n > 0 {
		return err
	}
	t := evbill.Tenant{Name: "default"}
	if err := store.CreateTenant(ctx, &t); err != nil {
		if evbill.ErrorCode(err) == evbill.ECONFLICT {
			// Another instance started on the same empty database at the
			// same moment and made the tenant and its key.
			return nil
		}
		return err
	}
	secret, err := createKey(ctx, store, t.ID, "bootstrap admin", evbill.RoleAdmin)
	if err != nil {
		return err
	}
	log.Info("created tenant default with an admin API key; it is printed once on standard output")
	fmt.Fprintf(stdout, "Admin API key for tenant \"default\" (shown once, keep it safe):\n%s\n", secret)
	return nil
}

func createKey(ctx context.Context, store evbill.Store, tenantID, name string, role evbill.Role) (string, error) {
	secret, prefix, hash := auth.NewAPIKey()
	k := evbill.APIKey{TenantID: tenantID, Name: name, Role: role, Prefix: prefix}
	if err := store.CreateAPIKey(ctx, &k, hash); err != nil {
		return "", err
	}
	return secret, nil
}

// runMigrate is the "migrate" command: apply migrations and report the version.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("evbill migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs, getenv)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return evbill.Errorf(evbill.EINVALID, "migrate: %v", err)
	}
	store, where, err := sf.open(ctx, getenv)
	if err != nil {
		return err
	}
	defer store.Close()
	v, err := store.MigrationVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s is at migration %d\n", where, v)
	return nil
}

// runAPIKey is the "apikey create" command.
func runAPIKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return evbill.Errorf(evbill.EINVALID, "apikey: usage: evbill apikey create --tenant NAME --role ROLE [--name NAME]")
	}
	fs := flag.NewFlagSet("evbill apikey create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tenantName := fs.String("tenant", "", "tenant `name`; created if it does not exist")
	role := fs.String("role", "", "`role`: admin, operator, finance or readonly")
	name := fs.String("name", "created by evbill apikey", "a `label` for the key")
	var sf storeFlags
	sf.register(fs, getenv)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return evbill.Errorf(evbill.EINVALID, "apikey: %v", err)
	}
	switch {
	case *tenantName == "":
		return evbill.Errorf(evbill.EINVALID, "apikey: --tenant is required")
	case !evbill.Role(*role).Valid():
		return evbill.Errorf(evbill.EINVALID, "apikey: --role must be admin, operator, finance or readonly, not %q", *role)
	}
	store, _, err := sf.open(ctx, getenv)
	if err != nil {
		return err
	}
	defer store.Close()
	t, err := store.TenantByName(ctx, *tenantName)
	if evbill.ErrorCode(err) == evbill.ENOTFOUND {
		t = evbill.Tenant{Name: *tenantName}
		err = store.CreateTenant(ctx, &t)
		if err == nil {
			fmt.Fprintf(stdout, "created tenant %q (%s)\n", t.Name, t.ID)
		}
	}
	if err != nil {
		return err
	}
	secret, err := createKey(ctx, store, t.ID, *name, evbill.Role(*role))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s API key for tenant %q (shown once):\n%s\n", *role, t.Name, secret)
	return nil
}
