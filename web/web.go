// Package web serves evbill's public pages. The ad-hoc "scan and charge"
// pay page: a QR code on a charger leads to
// /pay/{chargePointID}/{connector}, where a guest sees the tariff in force
// and the hold, gives a card, and the charger is started for them; the
// page then follows the session to its final price. And every session's
// live page, /s/{token}, which a driver follows on a phone and which
// becomes the session's receipt when it ends.
//
// The pages are server-rendered HTML (html/template, embedded) with plain
// CSS, so they work on any phone and load nothing from elsewhere. Only
// the live page has a script, a few embedded lines that put the figures
// of its event stream in place; without it the page reloads itself.
// There is no login: the capability is in the URL, the unguessable ID
// of the guest's payment or the live page's signed token.
package web

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/pricing"
)

// Stores is what the pages need of the database.
type Stores interface {
	evbill.Store
	evbill.SessionStore
	evbill.PaymentStore
}

// Chargers sends the central system's commands to connected chargers;
// *ocpp.Server implements it.
type Chargers interface {
	Call(ctx context.Context, key ocpp.StationKey, action string, req, conf any) error
	// Connected reports whether the charger has a connection open, so
	// that nobody pays for a charger that cannot be started.
	Connected(key ocpp.StationKey) bool
}

// Gateway names the pay page knows how to take a card for.
const (
	GatewaySandbox = "sandbox" // test cards typed in: TEST MODE, no real money
	GatewayStripe  = "stripe"  // a PaymentMethod made by Stripe.js; card numbers never reach evbill
)

// Config configures the pages.
type Config struct {
	Store    Stores            // the records, payments included
	Charging *charging.Service // the live view of a session, as the API's
	Chargers Chargers          // the central system, which starts chargers
	Resolver *pricing.Resolver // the tariff in force; nil: a resolver of its own
	// Gateway is the gateway that takes guests' cards: GatewaySandbox or
	// GatewayStripe. The payment worker must run with it. "" turns the
	// pay page off; the live pages are served without it.
	Gateway string
	// CardHold is the hold placed on a guest's card, in minor units of the
	// tariff's currency, for a tenant without a card hold of its own
	// (evbill.TenantPayments); charging.DefaultCardHold when zero. It is
	// the charging service's CardHold, so a guest is held as a driver is.
	CardHold int64
	// Secret signs the pay form and the live pages' links, and derives
	// guests' idTags. Instances behind one address need the same one;
	// nil makes a random one, and a form shown or a live link given
	// before a restart then no longer works.
	Secret []byte
	// HoldWait bounds how long a payment waits for the worker to place
	// the hold; 10 s when zero.
	HoldWait time.Duration
	// StartTimeout bounds the wait for the charger's answer to
	// RemoteStartTransaction; 30 s when zero.
	StartTimeout time.Duration
	Logger       *slog.Logger // nil: slog.Default()
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Handler serves the pages under /pay/, /s/ and /r/.
type Handler struct {
	cfg   Config
	next  http.Handler
	pages map[string]*template.Template
}

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assets embed.FS

// New returns the pages' handler. It answers /pay/…, /s/… and /r/… only; mount
// it at each.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Charging == nil || cfg.Chargers == nil {
		return nil, evbill.Errorf(evbill.EINVALID, "web: the store, the charging service and the chargers are required")
	}
	if cfg.Gateway != "" && cfg.Gateway != GatewaySandbox && cfg.Gateway != GatewayStripe {
		return nil, evbill.Errorf(evbill.EINVALID, "web: the pay page takes cards through %q or %q, not %q", GatewaySandbox, GatewayStripe, cfg.Gateway)
	}
	if cfg.Resolver == nil {
		cfg.Resolver = pricing.NewResolver(cfg.Store)
	}
	if cfg.CardHold <= 0 {
		cfg.CardHold = charging.DefaultCardHold
	}
	if len(cfg.Secret) == 0 {
		cfg.Secret = make([]byte, 32)
		if _, err := rand.Read(cfg.Secret); err != nil {
			return nil, err
		}
	}
	if cfg.HoldWait <= 0 {
		cfg.HoldWait = 10 * time.Second
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, pages: map[string]*template.Template{}}
	for _, name := range []string{"pay", "session", "message", "live"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		h.pages[name] = t
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	// These two take one name each, so that they are more specific than a
	// charger's pay page: a charger called "assets" or "sessions" is not
	// reachable here.
	mux.Handle("GET /pay/assets/{file}", http.StripPrefix("/pay/assets/", http.FileServerFS(static)))
	if cfg.Gateway != "" {
		mux.HandleFunc("GET /pay/sessions/{payment}", h.session)
		mux.HandleFunc("GET /pay/{station}/{connector}", h.form)
		mux.HandleFunc("POST /pay/{station}/{connector}", h.pay)
	}
	mux.HandleFunc("GET /s/{token}", h.live)
	mux.HandleFunc("GET /s/{token}/events", h.liveEvents)
	mux.HandleFunc("GET /r/{token}", h.receiptHTML)
	mux.HandleFunc("GET /r/{token}/receipt.pdf", h.receiptPDF)
	// A form posted from another site is refused before it is read (the
	// browser's Sec-Fetch-Site or Origin says so); the signed form token
	// covers browsers that send neither.
	h.next = http.NewCrossOriginProtection().Handler(mux)
	return h, nil
}

// ServeHTTP serves a page with the headers every page needs: nothing is
// loaded from elsewhere, no page is framed, and the URL of a session page
// (a capability) never leaves in a Referer. Nothing runs but the live
// page's own script, which may only open its event stream.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// With Stripe Elements in production, script-src, frame-src and
	// connect-src would name js.stripe.com and api.stripe.com.
	csp := "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	if strings.HasPrefix(r.URL.Path, "/s/") {
		csp = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
	}
	if strings.HasPrefix(r.URL.Path, "/r/") {
		// The receipt is the emailed document, styled inline for mail
		// clients; it runs nothing.
		csp = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
	}
	hd.Set("Content-Security-Policy", csp)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	h.next.ServeHTTP(w, r)
}

// render writes a page; a template that fails is logged and answered 500,
// as far as the response has not begun.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Pages show live states and a capability: never from a cache.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := h.pages[page].ExecuteTemplate(w, "layout", data); err != nil && !errors.Is(err, context.Canceled) {
		h.cfg.Logger.Error("rendering a page", "page", page, "path", r.URL.Path, "err", err)
	}
}

// message is the data of a page that only says something.
type message struct {
	chrome
	Text string
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	// powerType words an OCPI PowerType.
	"powerType": func(s string) string {
		switch s {
		case "AC_1_PHASE":
			return "AC, 1 phase"
		case "AC_2_PHASE":
			return "AC, 2 phases"
		case "AC_3_PHASE":
			return "AC, 3 phases"
		}
		return s
	},
}

// fail answers with a page that says what went wrong; err, when not nil,
// is logged (the guest sees the text only).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, title, text string, err error) {
	if err != nil {
		h.cfg.Logger.Error("pay page", "path", r.URL.Path, "err", err)
	}
	h.render(w, r, status, "message", message{chrome: chrome{Title: title, TestMode: h.testMode()}, Text: text})
}

// testMode reports whether cards go to the sandbox: no real money moves,
// and every page says so.
func (h *Handler) testMode() bool { return h.cfg.Gateway == GatewaySandbox }
