// Package api is evbill's operator API: JSON over HTTP under /api/v1, built
// with huma on the standard library's ServeMux, described by the OpenAPI
// 3.1 document it serves at /api/v1/openapi.json. It also serves the
// process's health checks and Prometheus metrics.
//
// Every request to /api/v1 (except the OpenAPI document) carries an API key
// as a bearer token. The key decides the tenant: every store call is made
// with the key's tenant ID, so another tenant's record is answered exactly
// as a missing one, 404. The key's role decides what the request may do.
//
// Errors are RFC 9457 problem documents (application/problem+json) whose
// type is a stable URI per kind of error; evbill's error codes map to HTTP
// statuses in one place, statusOf.
package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	_ "time/tzdata" // sites' time zones must load on hosts without a zoneinfo database
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/pricing"
)

// MaxBodyBytes is the largest request body accepted; a larger one is
// answered 413 before any of it reaches a handler. 1 MiB holds any
// realistic tariff many times over.
const MaxBodyBytes = 1 << 20

// Prefix is the path under which the operator API lives.
const Prefix = "/api/v1"

// Config is what the API needs from the rest of the program.
type Config struct {
	// Store keeps the records. Required.
	Store evbill.Store
	// Charging serves the session and CDR routes (their live cost comes
	// from it); nil leaves those routes out. The Store must then also be
	// an evbill.SessionStore.
	Charging *charging.Service
	// Chargers sends commands to connected chargers
	// (POST /api/v1/stations/{id}/commands/{name}); nil leaves that route out.
	Chargers Chargers
	// CardSetup saves drivers' cards, by gateway name (stripe); nil
	// leaves POST …/payment-method/setup out.
	CardSetup map[string]CardSetup
	// LivePath returns the path of a session's live page for its
	// driver (web's /s/{token}), shown as a session's live_path; nil
	// leaves live_path out. It is a function so that the API neither
	// knows the pages' secret nor imports them.
	LivePath func(tenantID, sessionID string) string
	// Resolver answers which tariff applies, with a cache that the API
	// invalidates after every write that can change the answer. Nil means
	// a resolver of its own over Store, which is right unless something
	// else in the process (the OCPP side) shares the cache.
	Resolver *pricing.Resolver
	// Logger receives request logs (debug) and internal errors (error).
	// Nil discards them.
	Logger *slog.Logger
	// Registry receives the API's metrics and is what /metrics serves. Nil
	// means a new registry with the Go runtime and process collectors; a
	// given registry lets the caller add metrics of its own.
	Registry *prometheus.Registry
	// Version is the program version shown in the OpenAPI document.
	Version string
}

// server holds the handler's dependencies; its methods are the handlers.
type server struct {
	store     evbill.Store
	sessions  evbill.SessionStore
	ledger    evbill.LedgerStore
	payments  evbill.PaymentStore
	webhooks  evbill.WebhookStore
	charging  *charging.Service
	chargers  Chargers
	cardSetup map[string]CardSetup
	livePath  func(tenantID, sessionID string) string
	resolver  *pricing.Resolver
	log       *slog.Logger
	mux       *http.ServeMux
	api       huma.API
	metrics   *metrics
	locks     keyedMutex
	// records serialises read-modify-write PATCHes of one record, so two
	// PATCHes of different fields cannot undo each other (within this
	// instance; across instances the store must compare and swap).
	records keyedMutex
	// actions records what each API route does, keyed by its ServeMux
	// pattern ("POST /api/v1/sites"), for the permission check that runs
	// before huma sees the request.
	actions map[string]auth.Action
	// noReplay lists the POST routes whose responses must not be stored
	// for Idempotency-Key: creating an API key answers with its secret.
	noReplay map[string]bool
}

// New returns the HTTP handler of the operator API, the health checks and
// the metrics. It fails only on a configuration error: a missing store or
// metrics that cannot be registered (say, twice in one registry).
func New(cfg Config) (http.Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: Config.Store is required")
	}
	s := &server{
		store:    cfg.Store,
		charging: cfg.Charging,
		chargers: cfg.Chargers, cardSetup: cfg.CardSetup, livePath: cfg.LivePath,
		resolver: cfg.Resolver,
		log:      cfg.Logger,
		mux:      http.NewServeMux(),
		actions:  map[string]auth.Action{},
		noReplay: map[string]bool{},
	}
	if s.resolver == nil {
		s.resolver = pricing.NewResolver(cfg.Store)
	}
	s.sessions, _ = cfg.Store.(evbill.SessionStore)
	s.ledger, _ = cfg.Store.(evbill.LedgerStore)
	s.payments, _ = cfg.Store.(evbill.PaymentStore)
	s.webhooks, _ = cfg.Store.(evbill.WebhookStore)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	reg := cfg.Registry
	if reg == nil {
		reg = NewRegistry()
	}
	m, err := newMetrics(reg, cfg.Store)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	if cfg.Version == "" {
		cfg.Version = "dev"
	}

	mux := routeMux{s}
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /metrics", metricsHandler(reg).ServeHTTP)

	s.api = humago.New(mux, humaConfig(cfg.Version))
	s.registerSites()
	s.registerStations()
	s.registerConnectors()
	s.registerTariffs()
	s.registerAssignments()
	s.registerDrivers()
	s.registerQuotes()
	s.registerAPIKeys()
	s.registerTenant()
	s.registerSessions()
	s.registerReceipts()
	s.registerCommands()
	s.registerLedger()
	s.registerPayments()
	s.registerPaymentMethods()
	s.registerCardSetup()
	s.registerRefunds()
	s.registerWallets()
	s.registerWebhooks()
	s.registerReports()
	s.registerWhatIf()
	return s, nil
}

// humaConfig is huma's default configuration less what evbill does not
// want: no docs UI (it loads scripts from a CDN), no /schemas route and no
// "$schema" property added to responses, which would only confuse clients
// that compare bodies; the OpenAPI document at /api/v1/openapi.json.
func humaConfig(version string) huma.Config {
	c := huma.DefaultConfig("evbill operator API", version)
	c.CreateHooks = nil
	c.DocsPath = ""
	c.SchemasPath = ""
	c.OpenAPIPath = Prefix + "/openapi"
	c.Info.Description = "Sites, stations, connectors, versioned OCPI 2.2.1 tariffs and their assignments, drivers, tokens, and price quotes for an EV charging operator. " +
		"Authenticate with `Authorization: Bearer <API key>`. Errors are RFC 9457 problem documents."
	c.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "An API key made by `evbill apikey create` or POST /api/v1/api-keys."},
	}
	// A misspelt query parameter (?limt=10) silently ignored is a bug
	// report waiting to happen; refusing it names the parameter.
	c.RejectUnknownQueryParameters = true
	return c
}

// ServeHTTP is the outermost layer: it makes the per-request record that
// the inner layers fill in, routes, and counts the request in the metrics
// under its route pattern, never its raw path, so that IDs do not explode
// the number of time series.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := &reqInfo{}
	rw := &responseWriter{ResponseWriter: w, info: info}
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
	s.mux.ServeHTTP(rw, r)
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	route, method := info.route, info.method
	if route == "" {
		route, method = "unmatched", knownMethod(r.Method)
	}
	d := time.Since(start)
	s.metrics.observe(route, method, rw.status, d)
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.DebugContext(r.Context(), "request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rw.status), slog.Duration("duration", d), slog.String("tenant", info.key.TenantID))
	}
}

// knownMethod bounds the method label of unmatched requests: anybody can
// send any method name.
func knownMethod(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "other"
}

// reqInfo is what the layers learn about a request: the route it matched,
// the key that authenticated it, and its body as received.
type reqInfo struct {
	route, method string
	key           evbill.APIKey
	authenticated bool
	body          []byte
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	info, _ := ctx.Value(infoKey{}).(*reqInfo)
	if info == nil {
		return &reqInfo{}
	}
	return info
}

// apiKey returns the key that authenticated the request.
func apiKey(ctx context.Context) (evbill.APIKey, bool) {
	info := infoFrom(ctx)
	return info.key, info.authenticated
}

// tenantOf returns the tenant of the request's key. Handlers run only after
// authentication, which the handler wrapper re-checks.
func tenantOf(ctx context.Context) string {
	k, _ := apiKey(ctx)
	return k.TenantID
}

// rawBody returns the request body exactly as received.
func rawBody(ctx context.Context) []byte { return infoFrom(ctx).body }

// responseWriter records the status for metrics and turns the ServeMux's
// plain-text 404 and 405 answers for unknown routes into problems.
type responseWriter struct {
	http.ResponseWriter
	info    *reqInfo
	status  int
	swallow bool // the mux's own text body is dropped: a problem was sent
}

// WriteHeader records the status and, for the mux's own 404 and 405,
// sends a problem instead of its text.
func (w *responseWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	if w.info.route == "" && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		w.swallow = true
		detail := "no such route"
		if code == http.StatusMethodNotAllowed {
			detail = "the route does not accept this method; see the Allow header"
		}
		writeProblem(w.ResponseWriter, newProblem(code, detail))
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write passes the body on, or drops it when a problem replaced it.
func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// flushing).
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// routeMux is the ServeMux as huma's adapter sees it: every route that huma
// (or New) registers is wrapped in the per-route layers, which know the
// route's pattern.
type routeMux struct{ s *server }

// HandleFunc registers the handler wrapped in the per-route layers.
func (m routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.s.mux.Handle(pattern, m.s.route(pattern, http.HandlerFunc(h)))
}

// ServeHTTP routes through the underlying ServeMux.
func (m routeMux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.s.mux.ServeHTTP(w, r) }

// route wraps one route's handler: it records the route for the metrics,
// reads the body under the size limit, and for API routes authenticates,
// checks the role and applies Idempotency-Key.
func (s *server) route(pattern string, h http.Handler) http.Handler {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	protected := strings.HasPrefix(path, Prefix+"/") && !strings.HasPrefix(path, Prefix+"/openapi")
	action, known := s.actions[pattern]
	noReplay := s.noReplay[pattern]
	if !known {
		// Every API operation records its action when registered; one
		// that did not is denied to all but admins rather than opened.
		action = auth.ManageKeys
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := infoFrom(r.Context())
		info.route, info.method = path, method
		if !protected {
			if p := readBody(r, info); p != nil {
				writeProblem(w, p)
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		// Authentication comes before the body is read, so that nobody
		// without a key can make the server buffer a megabyte.
		key, p := s.authenticate(r)
		if p != nil {
			if p.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="evbill"`)
			}
			writeProblem(w, p)
			return
		}
		if !auth.Allowed(key.Role, action) {
			writeProblem(w, newProblem(http.StatusForbidden, "an API key with role "+string(key.Role)+" may not "+action.String()))
			return
		}
		info.key, info.authenticated = key, true
		if p := readBody(r, info); p != nil {
			writeProblem(w, p)
			return
		}
		if p := checkText(r, info.body); p != nil {
			writeProblem(w, p)
			return
		}
		if method == http.MethodPost && r.Header.Get("Idempotency-Key") != "" {
			if noReplay {
				writeProblem(w, newProblem(http.StatusUnprocessableEntity, "Idempotency-Key is not supported here: the response holds a secret, which is never stored",
					&huma.ErrorDetail{Location: "header.Idempotency-Key", Message: "not supported on this route"}))
				return
			}
			s.idempotent(w, r, h, info)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// checkText refuses text that one database stores and the other rejects:
// PostgreSQL's text type cannot hold NUL or invalid UTF-8, which SQLite
// takes. Refusing it here, for every path, query and body, keeps the two
// engines answering alike (an ID that cannot exist is 404; a body is 422).
func checkText(r *http.Request, body []byte) *Problem {
	bad := func(s string) bool { return !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 }
	if bad(r.URL.Path) {
		return newProblem(http.StatusNotFound, "no record has an ID with NUL or invalid UTF-8")
	}
	for name, values := range r.URL.Query() {
		for _, v := range values {
			if bad(name) || bad(v) {
				return newProblem(http.StatusUnprocessableEntity, "query parameters must be valid UTF-8 without NUL",
					&huma.ErrorDetail{Location: "query." + name, Message: "contains NUL or invalid UTF-8"})
			}
		}
	}
	if !utf8.Valid(body) || bytes.IndexByte(body, 0) >= 0 || containsNULEscape(body) {
		return newProblem(http.StatusUnprocessableEntity, "the body must be valid UTF-8 JSON whose strings hold no NUL (\\u0000)",
			&huma.ErrorDetail{Location: "body", Message: "contains NUL or invalid UTF-8"})
	}
	return nil
}

// containsNULEscape reports a JSON \u0000 escape; a backslash-escaped
// backslash before "u0000" is text, not an escape.
func containsNULEscape(b []byte) bool {
	for i := 0; i+5 < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] == 'u' && b[i+2] == '0' && b[i+3] == '0' && b[i+4] == '0' && b[i+5] == '0' {
			return true
		}
		i++ // skip the escaped character
	}
	return false
}

// readBody reads the whole body, refusing more than MaxBodyBytes, and puts
// it back for huma: the idempotency check hashes it and tariffs are stored
// byte for byte, so it is read once here for everyone.
func readBody(r *http.Request, info *reqInfo) *Problem {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	tooLarge := func() *Problem {
		return newProblem(http.StatusRequestEntityTooLarge, "the request body is larger than 1 MiB (1048576 bytes)")
	}
	if r.ContentLength > MaxBodyBytes {
		return tooLarge()
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	_ = r.Body.Close()
	if err != nil {
		return newProblem(http.StatusBadRequest, "cannot read the request body")
	}
	if len(b) > MaxBodyBytes {
		return tooLarge()
	}
	info.body = b
	r.Body = io.NopCloser(bytes.NewReader(b))
	return nil
}

// authenticate finds the API key of the request's bearer token.
func (s *server) authenticate(r *http.Request) (evbill.APIKey, *Problem) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return evbill.APIKey{}, newProblem(http.StatusUnauthorized, "missing Authorization header: send Authorization: Bearer <API key>")
	}
	scheme, secret, ok := strings.Cut(h, " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" || len(secret) > 256 {
		return evbill.APIKey{}, newProblem(http.StatusUnauthorized, "malformed Authorization header: send Authorization: Bearer <API key>")
	}
	if !auth.LooksLikeAPIKey(secret) {
		// Not even the shape of a key: no need to ask the database.
		return evbill.APIKey{}, newProblem(http.StatusUnauthorized, "unknown API key")
	}
	key, err := s.store.APIKeyByHash(r.Context(), auth.HashAPIKey(secret))
	switch evbill.ErrorCode(err) {
	case "":
		return key, nil
	case evbill.ENOTFOUND:
		return evbill.APIKey{}, newProblem(http.StatusUnauthorized, "unknown API key")
	}
	return evbill.APIKey{}, s.problemFor(r.Context(), err)
}

// healthz answers 200 while the process runs: it is the liveness check,
// and a database outage must not get the process restarted.
func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
}

// readyz answers 200 only when the store answers and is migrated, so a
// load balancer sends no traffic to an instance that cannot serve it.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(r.Context(), "not ready", slog.Any("err", err))
		writeProblem(w, newProblem(http.StatusServiceUnavailable, "the database is not reachable or not migrated"))
		return
	}
	s.healthz(w, r)
}

// requestHash identifies a request for Idempotency-Key: method, path and
// body, separated so that no two different requests run together.
func requestHash(r *http.Request, body []byte) []byte {
	h := sha256.New()
	_, _ = io.WriteString(h, r.Method+"\x00"+r.URL.Path+"\x00")
	_, _ = h.Write(body)
	return h.Sum(nil)
}
