package dashboard_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/dashboard"
)

// TestDashboardLogin: without a login every page sends the browser to
// the login form (and back afterwards); a wrong password and an unknown
// address are refused alike and set no cookie; the right one sets an
// HttpOnly, SameSite=Lax cookie whose token the store keeps only hashed,
// and opens the overview with the user's tenant.
func TestDashboardLogin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		b := w.browser()
		res, _ := b.get("/")
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
			t.Fatalf("the overview without a login: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		res, _ = b.get("/sessions?before=ses_X")
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/login?next="+url.QueryEscape("/sessions?before=ses_X") {
			t.Fatalf("a page without a login: %d to %q", res.StatusCode, loc)
		}
		res, body := b.get("/login?next=/sessions")
		contains(t, "the login form", body, `name="email"`, `type="password"`, `autocomplete="current-password"`, `name="next" value="/sessions"`)
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("the login form's CSP: %q", csp)
		}

		for name, creds := range map[string][2]string{
			"a wrong password":  {emails[evbill.RoleAdmin], "not the password at all"},
			"an unknown email":  {"nobody@acme.example", userPassword},
			"no password":       {emails[evbill.RoleAdmin], ""},
			"not an address":    {"admin", userPassword},
			"another's address": {otherEmail, "a long and winding roa"},
		} {
			res, body := b.login(creds[0], creds[1])
			if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong email or password.") || len(res.Cookies()) != 0 {
				t.Errorf("login with %s: %d, cookies %v\n%s", name, res.StatusCode, res.Cookies(), body)
			}
		}

		res, body = b.do(http.MethodPost, "/login", url.Values{"email": {"  ADMIN@acme.example "}, "password": {userPassword}, "next": {"/sessions"}}, nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/sessions" {
			t.Fatalf("login: %d to %q\n%s", res.StatusCode, res.Header.Get("Location"), body)
		}
		cs := res.Cookies()
		if len(cs) != 1 {
			t.Fatalf("login set cookies %v", cs)
		}
		c := cs[0]
		if c.Name != "evbill_session" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure ||
			c.MaxAge != int((12*time.Hour).Seconds()) || len(c.Value) != 43 {
			t.Errorf("the login cookie: %+v", c)
		}
		// The store has the token's hash, not the token.
		sum := sha256.Sum256([]byte(c.Value))
		us, u, err := w.store.UserSessionByHash(context.Background(), sum[:], time.Now())
		if err != nil || u.Email != emails[evbill.RoleAdmin] || us.TenantID != w.tenant.ID || us.ExpiresAt.Sub(time.Now()) > 12*time.Hour {
			t.Errorf("the stored login: %+v, %+v, %v", us, u, err)
		}
		res, body = b.get("/")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("the overview after the login: %d\n%s", res.StatusCode, body)
		}
		contains(t, "the overview", body, "<h1>Overview</h1>", "admin@acme.example · admin", `<span class="tenant">acme</span>`,
			`name="csrf"`, `<a href="/users">Users</a>`, `hx-trigger="every 200ms"`)
		if strings.Contains(body, "https://") || strings.Contains(body, "<script>") {
			t.Errorf("the overview loads from elsewhere or runs an inline script:\n%s", body)
		}
		// Logged in, the login form moves on.
		if res, _ := b.get("/login?next=/tariffs"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/tariffs" {
			t.Errorf("the login form when logged in: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		// Next is a path of this site, nothing else.
		for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "evil", "/logout"} {
			res, _ := w.browser().do(http.MethodPost, "/login", url.Values{"email": {emails[evbill.RoleReadonly]}, "password": {userPassword}, "next": {next}}, nil)
			if res.Header.Get("Location") != "/" {
				t.Errorf("login with next %q goes to %q", next, res.Header.Get("Location"))
			}
		}
	})
}

// TestDashboardLoginSecureCookie: over TLS, or behind a proxy that says
// the browser used it, the cookie is Secure.
func TestDashboardLoginSecureCookie(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		res, _ := w.browser().do(http.MethodPost, "/login", url.Values{"email": {emails[evbill.RoleAdmin]}, "password": {userPassword}},
			http.Header{"X-Forwarded-Proto": {"https"}})
		if cs := res.Cookies(); len(cs) != 1 || !cs[0].Secure {
			t.Errorf("behind a TLS proxy: cookies %v", cs)
		}
		hs := httptest.NewTLSServer(w.dash)
		defer hs.Close()
		c := hs.Client()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/login", strings.NewReader(url.Values{"email": {emails[evbill.RoleAdmin]}, "password": {userPassword}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if cs := res.Cookies(); res.StatusCode != http.StatusSeeOther || len(cs) != 1 || !cs[0].Secure {
			t.Errorf("over TLS: %d, cookies %v", res.StatusCode, cs)
		}
	})
}

// TestDashboardLoginRateLimit: after five failures an address is refused
// for a while, even with its right password, and says so; other addresses
// are not; a success clears an address's count.
func TestDashboardLoginRateLimit(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		b := w.browser()
		for range 4 {
			b.login(emails[evbill.RoleOperator], "wrong wrong wrong")
		}
		b.mustLogin(emails[evbill.RoleOperator]) // the fifth attempt succeeds and clears the count
		for range 5 {
			if res, _ := b.login(emails[evbill.RoleFinance], "wrong wrong wrong"); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("a failed login: %d", res.StatusCode)
			}
		}
		res, body := b.login(emails[evbill.RoleFinance], userPassword)
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || len(res.Cookies()) != 0 ||
			!strings.Contains(body, "Too many failed logins. Try again in 15 minutes.") {
			t.Errorf("the sixth attempt: %d, Retry-After %q\n%s", res.StatusCode, res.Header.Get("Retry-After"), body)
		}
		// Any spelling of the address counts as the address.
		if res, _ := b.login(" Finance@ACME.example", userPassword); res.StatusCode != http.StatusTooManyRequests {
			t.Errorf("the address in capitals: %d", res.StatusCode)
		}
		w.browser().mustLogin(emails[evbill.RoleReadonly])
		// The window passes.
		w.ahead.Store(int64(16 * time.Minute))
		b.mustLogin(emails[evbill.RoleFinance])
	})
}

// TestDashboardLogout: logging out ends the login in the store, so the
// same cookie replayed (a copy, another instance) opens nothing.
func TestDashboardLogout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		b := w.browser()
		b.mustLogin(emails[evbill.RoleReadonly])
		token, csrf := b.cookie(), b.csrf()
		res, _ := b.do(http.MethodPost, "/logout", url.Values{"csrf": {csrf}}, nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
			t.Fatalf("logout: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		if cs := res.Cookies(); len(cs) != 1 || cs[0].Name != "evbill_session" || cs[0].MaxAge >= 0 || cs[0].Value != "" {
			t.Errorf("logout's cookie: %v", cs)
		}
		sum := sha256.Sum256([]byte(token))
		if _, _, err := w.store.UserSessionByHash(context.Background(), sum[:], time.Now()); evbill.ErrorCode(err) != evbill.ENOTFOUND {
			t.Errorf("the login after logout: %v", err)
		}
		replay := w.browser()
		res, _ = replay.do(http.MethodGet, "/", nil, http.Header{"Cookie": {"evbill_session=" + token}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
			t.Errorf("the old cookie after logout: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
	})
}

// TestDashboardCSRF: a POST from another site is refused before it is
// read (Sec-Fetch-Site, or Origin without it), and a logged-in form
// without the login's synchronizer token is refused too; the login
// stays.
func TestDashboardCSRF(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		b := w.browser()
		b.mustLogin(emails[evbill.RoleAdmin])
		csrf := b.csrf()
		for name, tc := range map[string]struct {
			form   url.Values
			header http.Header
		}{
			"cross-site with the token":   {url.Values{"csrf": {csrf}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
			"another origin":              {url.Values{"csrf": {csrf}}, http.Header{"Sec-Fetch-Site": nil, "Origin": {"https://evil.example"}}},
			"without the token":           {url.Values{}, nil},
			"with another login's token":  {url.Values{"csrf": {"AAAAAAAAAAAAAAAAAAAAAA"}}, nil},
			"same-site from another port": {url.Values{"csrf": {csrf}}, http.Header{"Sec-Fetch-Site": {"same-site"}}},
		} {
			res, body := b.do(http.MethodPost, "/logout", tc.form, tc.header)
			if res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
				t.Errorf("logout %s: %d, cookies %v\n%s", name, res.StatusCode, res.Cookies(), body)
			}
		}
		if res, _ := b.get("/"); res.StatusCode != http.StatusOK {
			t.Errorf("the login after refused logouts: %d", res.StatusCode)
		}
		// Nor does another site log a browser in to an account of its
		// choosing.
		res, _ := w.browser().do(http.MethodPost, "/login", url.Values{"email": {otherEmail}, "password": {userPassword}},
			http.Header{"Sec-Fetch-Site": {"cross-site"}})
		if res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
			t.Errorf("a cross-site login: %d, cookies %v", res.StatusCode, res.Cookies())
		}
	})
}

// TestDashboardRoles: every role reads the pages; only admins see the
// users, who are credentials as API keys are (auth.ManageKeys); the
// others are refused 403 and not offered the entry.
func TestDashboardRoles(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		for role, email := range emails {
			b := w.browser()
			b.mustLogin(email)
			for _, path := range []string{"/", "/stations", "/sessions", "/tariffs", "/revenue", "/utilization", "/what-if", "/forecast"} {
				if res, body := b.get(path); res.StatusCode != http.StatusOK {
					t.Errorf("%s: GET %s: %d\n%s", role, path, res.StatusCode, body)
				}
			}
			res, body := b.get("/users")
			_, overview := b.get("/")
			if role == evbill.RoleAdmin {
				if res.StatusCode != http.StatusOK {
					t.Errorf("admin: GET /users: %d", res.StatusCode)
				}
				contains(t, "the users page", body, emails[evbill.RoleReadonly], "readonly", emails[evbill.RoleFinance])
				if strings.Contains(body, otherEmail) {
					t.Errorf("the users page lists another tenant's user:\n%s", body)
				}
				continue
			}
			if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Your role, "+string(role)+", may not manage API keys") {
				t.Errorf("%s: GET /users: %d\n%s", role, res.StatusCode, body)
			}
			if strings.Contains(overview, `href="/users"`) {
				t.Errorf("%s is offered the users page", role)
			}
		}
	})
}

// TestDashboardSessionExpiry: a login lasts its lifetime and not a moment
// longer, whatever the cookie says; htmx's polling is then sent to the
// login page as a navigation (HX-Redirect), not swapped into the page.
func TestDashboardSessionExpiry(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		b := w.browser()
		b.mustLogin(emails[evbill.RoleOperator])
		w.ahead.Store(int64(time.Hour - time.Second))
		if res, _ := b.get("/"); res.StatusCode != http.StatusOK {
			t.Fatalf("within the lifetime: %d", res.StatusCode)
		}
		w.ahead.Store(int64(time.Hour))
		res, body := b.do(http.MethodGet, "/", nil, http.Header{"HX-Request": {"true"}})
		if res.StatusCode != http.StatusUnauthorized || res.Header.Get("HX-Redirect") != "/login" {
			t.Errorf("htmx's poll after the lifetime: %d, HX-Redirect %q\n%s", res.StatusCode, res.Header.Get("HX-Redirect"), body)
		}
		// The browser dropped the cookie: it logs in again.
		if res, _ := b.get("/"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
			t.Errorf("after the lifetime: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		b.mustLogin(emails[evbill.RoleOperator])
		if res, _ := b.get("/"); res.StatusCode != http.StatusOK {
			t.Errorf("after logging in again: %d", res.StatusCode)
		}
	}, func(c *dashboard.Config) { c.SessionLifetime = time.Hour })
}

// TestDashboardRoutes: the dashboard takes only its own paths; the API,
// the OCPP server and the public pages keep theirs.
func TestDashboardRoutes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		b := w.browser()
		for _, path := range []string{"/api/v1/sites", "/healthz", "/metrics", "/readyz", "/webhooks/stripe", "/nope", "/sessions/x/y", "/assets/nope.js", "/login/x"} {
			res, body := b.get(path)
			if path == "/assets/nope.js" {
				if res.StatusCode != http.StatusNotFound {
					t.Errorf("GET %s: %d", path, res.StatusCode)
				}
				continue
			}
			if res.StatusCode != http.StatusNotFound || !strings.Contains(body, `"api"`) {
				t.Errorf("GET %s did not reach the API: %d\n%s", path, res.StatusCode, body)
			}
		}
		if res, _ := b.do(http.MethodPost, "/", url.Values{}, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("POST / did not reach the API: %d", res.StatusCode)
		}
		if res, body := b.get("/r/nope"); res.StatusCode != http.StatusNotFound || strings.Contains(body, `"api"`) {
			t.Errorf("GET /r/nope: %d\n%s", res.StatusCode, body)
		}
		for _, p := range w.dash.Patterns() {
			_, path, _ := strings.Cut(p, " ")
			for _, taken := range []string{"/api/", "/ocpp/", "/pay/", "/s/", "/r/", "/webhooks/", "/metrics", "/healthz", "/readyz"} {
				if strings.HasPrefix(path, taken) {
					t.Errorf("the dashboard's %q is under %s", p, taken)
				}
			}
		}
		// Assets: versioned URLs are cached for good.
		res, js := b.get("/assets/vendor/htmx/htmx.min.js")
		if res.StatusCode != http.StatusOK || !strings.Contains(js, "htmx") || res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("htmx: %d, %q", res.StatusCode, res.Header.Get("Cache-Control"))
		}
		b.mustLogin(emails[evbill.RoleAdmin])
		_, page := b.get("/")
		i := strings.Index(page, "/assets/vendor/htmx/htmx.min.js?v=")
		if i < 0 {
			t.Fatalf("the overview does not load htmx:\n%s", page)
		}
		src := page[i : strings.IndexByte(page[i:], '"')+i]
		if res, _ := b.get(src); res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: %d, %q", src, res.StatusCode, res.Header.Get("Cache-Control"))
		}
	})
}
