// Package dashboard serves the operators' dashboard: server-rendered pages
// (html/template, embedded with their CSS and scripts) at the root of
// evbill's address, for an operator's staff on a laptop or a phone.
//
// Staff log in with an email address and a password (users made by
// `evbill user create`); a user has the role an API key would have and is
// checked the same way (auth.Allowed). A login is a random token in an
// HttpOnly, SameSite=Lax cookie whose SHA-256 finds the login session in
// the database, so any instance serves it and a logout ends it at once.
// Every POST is checked by http.CrossOriginProtection (the browser's
// Sec-Fetch-Site or Origin) and, once logged in, by a synchronizer token
// derived from the session's token.
//
// The overview (today's revenue and energy, the sessions running) updates
// itself: htmx asks for its figures every few seconds. Polling rather than
// the live stream, since the stream is per session and per process while
// the overview is the whole tenant's, on whichever instance answers. The
// scripts (htmx, uPlot) are vendored under assets/vendor with their
// licences; nothing is loaded from elsewhere (Content-Security-Policy
// 'self').
//
// Revenue, utilization, what-if and forecast pages are drawn from Reports,
// which other packages provide; without them the pages say so.
package dashboard

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"runtime"
	"strconv"
	"sync"
	"time"
	_ "time/tzdata" // sites' time zones must load on hosts without a zoneinfo database

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/pricing"
)

// Stores is what the dashboard reads: the records, the sessions and the
// dashboard's own users and figures.
type Stores interface {
	evbill.Store
	evbill.SessionStore
	evbill.DashboardStore
}

// Chargers tells which chargers have a connection open to this process's
// central system; *ocpp.Server implements it.
type Chargers interface {
	Connected(key ocpp.StationKey) bool
}

// Config configures the dashboard.
type Config struct {
	// Store keeps the records and the users. Required.
	Store Stores
	// Charging gives running sessions' figures (energy, power, cost so
	// far) from the engine that bills them; nil lists them without.
	Charging *charging.Service
	// Chargers says which stations are connected; nil shows their
	// status as unknown.
	Chargers Chargers
	// Resolver gives a station's site, time zone and connectors from its
	// cache, shared with the API (which drops it on writes); nil: a
	// resolver of its own over Store.
	Resolver *pricing.Resolver
	// LivePath and ReceiptPath return a session's public live page and
	// itemized receipt (the web package's /s/{token} and /r/{token}),
	// which a session's page links to; nil leaves the links out.
	LivePath    func(tenantID, sessionID string) string
	ReceiptPath func(tenantID, sessionID string) string
	// Reports draws the report pages; nil, or a method answering
	// ErrNotAvailable, shows a page saying the report is not available
	// yet.
	Reports Reports
	// SessionLifetime bounds a login; 12 hours when zero: a working day,
	// after which the user logs in again.
	SessionLifetime time.Duration
	// Refresh is how often the overview and the stations' status ask
	// for fresh figures; 5 s when zero.
	Refresh time.Duration
	// Logger receives internal errors; nil: slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Handler serves the dashboard's pages. Mount registers them on a mux.
type Handler struct {
	cfg    Config
	pages  map[string]*template.Template
	static fs.FS
	// versions are the assets' content hashes, in their URLs, so that a
	// browser may cache them for good and a new build's are fetched anew.
	versions map[string]string
	// dummy is a hash verified when a login names no user, so that an
	// unknown address takes as long as a wrong password.
	dummy []byte
	// hashing bounds the password hashes computed at once: each takes
	// 19 MiB, and a burst of logins must not exhaust memory.
	hashing chan struct{}
	// byEmail and byClient count failed logins.
	byEmail, byClient *failures
	zones             sync.Map // time zone name → *time.Location
	next              http.Handler
}

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assets embed.FS

// The login rate limits: 5 failures per address and 50 per client
// address per 15 minutes. Behind a proxy every client has the proxy's
// address, so that limit is loose enough for a whole office.
const (
	failPeriod       = 15 * time.Minute
	maxEmailFailures = 5
	maxClientFails   = 50
)

// New returns the dashboard's handler. It fails only on a configuration
// error.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("dashboard: Config.Store is required")
	}
	if cfg.Resolver == nil {
		cfg.Resolver = pricing.NewResolver(cfg.Store)
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 12 * time.Hour
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, pages: map[string]*template.Template{}, static: static, versions: map[string]string{},
		hashing: make(chan struct{}, max(2, runtime.NumCPU())),
		byEmail: newFailures(maxEmailFailures, failPeriod), byClient: newFailures(maxClientFails, failPeriod)}
	err = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h.versions[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{"asset": h.asset}
	for _, name := range []string{"login", "message", "overview", "stations", "sessions", "session", "tariffs", "tariff", "report", "users"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		h.pages[name] = t
	}
	// A dummy hash of a random password, to verify when no user has the
	// address given.
	h.dummy = hashArgon(evbill.NewID("dummy"), argonTime, argonMemory, argonThreads)

	mux := http.NewServeMux()
	for _, r := range h.routes() {
		mux.Handle(r.pattern, r.handler)
	}
	// A form posted from another site is refused before it is read (the
	// browser's Sec-Fetch-Site or Origin says so); the synchronizer token
	// covers a logged-in user's browser that sends neither.
	h.next = http.NewCrossOriginProtection().Handler(mux)
	return h, nil
}

// route is one of the dashboard's ServeMux patterns and its handler.
type route struct {
	pattern string
	handler http.Handler
}

// routes lists the dashboard's patterns. Each names its paths exactly
// (the root is "/{$}", not "/"), so that the dashboard takes nothing from
// the API, the OCPP server or the public pages mounted beside it, and a
// pattern that another mount also registers panics when mounted instead
// of hiding it.
func (h *Handler) routes() []route {
	page := func(a auth.Action, f func(http.ResponseWriter, *http.Request, *viewer)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.authorized(w, r, a, f) })
	}
	return []route{
		{"GET /assets/{file...}", http.HandlerFunc(h.serveAsset)},
		{"GET /login", http.HandlerFunc(h.loginForm)},
		{"POST /login", http.HandlerFunc(h.login)},
		{"POST /logout", page(auth.Read, h.logout)},
		{"GET /{$}", page(auth.Read, h.overview)},
		{"GET /stations", page(auth.Read, h.stations)},
		{"GET /sessions", page(auth.Read, h.sessions)},
		{"GET /sessions/{id}", page(auth.Read, h.session)},
		{"GET /tariffs", page(auth.Read, h.tariffs)},
		{"GET /tariffs/{id}", page(auth.Read, h.tariff)},
		{"GET /revenue", page(auth.Read, h.report(reportRevenue))},
		{"GET /utilization", page(auth.Read, h.report(reportUtilization))},
		{"GET /what-if", page(auth.Read, h.report(reportWhatIf))},
		{"GET /forecast", page(auth.Read, h.report(reportForecast))},
		// Users are credentials, like API keys: admins only.
		{"GET /users", page(auth.ManageKeys, h.users)},
	}
}

// Patterns returns the ServeMux patterns Mount registers, for a caller
// that checks what the dashboard takes.
func (h *Handler) Patterns() []string {
	rs := h.routes()
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.pattern
	}
	return out
}

// Mount registers the dashboard's pages on mux, each by its own pattern,
// all served through h (security headers, cross-origin protection).
func (h *Handler) Mount(mux *http.ServeMux) {
	for _, p := range h.Patterns() {
		mux.Handle(p, h)
	}
}

// ServeHTTP serves a page with the headers every page needs: scripts,
// styles and requests only from this origin, no framing, no Referer
// (the receipt and live pages it links to are capabilities).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	h.next.ServeHTTP(w, r)
}

// asset returns the URL of an embedded asset, versioned by its content.
func (h *Handler) asset(name string) string {
	return "/assets/" + name + "?v=" + h.versions[name]
}

// serveAsset serves an embedded asset; one asked for with its current
// version may be cached for a year.
func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	v, ok := h.versions[path.Clean(name)]
	if !ok || path.Clean(name) != name {
		http.NotFound(w, r)
		return
	}
	if r.URL.Query().Get("v") == v {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeFileFS(w, r, h.static, name)
}

// chrome is what every page's layout shows: the title, the navigation with
// the current entry, and who is logged in.
type chrome struct {
	Title  string
	Active string // the navigation entry of the page
	Viewer *viewer
	// Refresh, when set, is the seconds after which a browser without
	// scripts reloads the page; with scripts, htmx refreshes its figures.
	Refresh int
	// Every is htmx's polling interval ("5s") for the page's live part.
	Every string
}

// navEntry is an entry of the navigation: its path, its label and the
// action a role must be allowed to see it.
type navEntry struct {
	Path, Label string
	Action      auth.Action
}

// navigation is the navigation, in order; a page's Active names one entry.
var navigation = []navEntry{
	{"/", "Overview", auth.Read},
	{"/stations", "Stations", auth.Read},
	{"/sessions", "Sessions", auth.Read},
	{"/tariffs", "Tariffs", auth.Read},
	{"/revenue", "Revenue", auth.Read},
	{"/utilization", "Utilization", auth.Read},
	{"/what-if", "What-if", auth.Read},
	{"/forecast", "Forecast", auth.Read},
	{"/users", "Users", auth.ManageKeys},
}

// Nav returns the navigation entries the viewer may open.
func (v *viewer) Nav() []navEntry {
	out := make([]navEntry, 0, len(navigation))
	for _, e := range navigation {
		if auth.Allowed(v.User.Role, e.Action) {
			out = append(out, e)
		}
	}
	return out
}

// render writes a page. A request from htmx (HX-Request) for a page that
// has a live part gets that part alone: the figures it replaces. A
// template that fails is logged; the status is sent already.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Pages show live figures and a tenant's data: never from a cache.
	w.Header().Set("Cache-Control", "no-store")
	name := "layout"
	if r.Header.Get("HX-Request") == "true" && h.pages[page].Lookup("live") != nil {
		name = "live"
	}
	w.WriteHeader(status)
	if err := h.pages[page].ExecuteTemplate(w, name, data); err != nil && !errors.Is(err, context.Canceled) {
		h.cfg.Logger.Error("dashboard: rendering a page", "page", page, "path", r.URL.Path, "err", err)
	}
}

// message is the data of a page that only says something.
type message struct {
	chrome
	Text string
}

// fail answers with a page that says what went wrong; err, when not nil,
// is logged (the user sees the text only).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, v *viewer, status int, title, text string, err error) {
	if err != nil {
		h.cfg.Logger.Error("dashboard", "path", r.URL.Path, "err", err)
	}
	h.render(w, r, status, "message", message{chrome: chrome{Title: title, Viewer: v}, Text: text})
}

// internal answers 500 for an error of the store or the engine.
func (h *Handler) internal(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	h.fail(w, r, v, http.StatusInternalServerError, "Something went wrong", "Please reload this page in a moment.", err)
}

// location returns the time zone of a site, UTC for "" or a name that
// does not load (the API refuses those; this only guards old rows).
func (h *Handler) location(name string) *time.Location {
	if l, ok := h.zones.Load(name); ok {
		return l.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = time.UTC
	}
	h.zones.Store(name, loc)
	return loc
}

// every formats the refresh interval for htmx's hx-trigger.
func (h *Handler) every() string {
	return strconv.FormatInt(max(h.cfg.Refresh.Milliseconds(), 100), 10) + "ms"
}
