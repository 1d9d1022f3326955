package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
)

// cookieName is the login cookie. It holds a random token, never anything
// readable: the session it stands for is in the database.
const cookieName = "evbill_session"

// tokenLen is the login token's length in characters: 32 random bytes in
// unpadded base64url, 256 bits, as many as an API key's.
const tokenLen = 43

// maxLoginBody bounds a login form; an email and a password fit many
// times over.
const maxLoginBody = 16 << 10

// viewer is who is looking: a logged-in user, the tenant, and the token
// that the user's forms carry against cross-site requests.
type viewer struct {
	User    evbill.User
	Session evbill.UserSession
	Tenant  evbill.Tenant
	// CSRF is the synchronizer token of the login: every form a page
	// shows carries it, and a POST without it is refused.
	CSRF string
}

// hashToken returns the SHA-256 of a login token, the form in which the
// store keeps and finds it: a fast hash is right for 256 random bits,
// as it is for API keys (see auth.HashAPIKey).
func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// csrfToken derives the login's synchronizer token from its secret token:
// nothing to store, the same on every instance, and unknowable to
// another site, which cannot read the HttpOnly cookie it is made from.
func csrfToken(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("evbill dashboard csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// viewerOf returns the request's logged-in user; ENOTFOUND when it has no
// valid login (no cookie, a malformed one, an ended or expired session).
func (h *Handler) viewerOf(r *http.Request) (*viewer, string, error) {
	c, err := r.Cookie(cookieName)
	if err != nil || len(c.Value) != tokenLen {
		return nil, "", evbill.Errorf(evbill.ENOTFOUND, "not logged in")
	}
	ctx := r.Context()
	us, u, err := h.cfg.Store.UserSessionByHash(ctx, hashToken(c.Value), h.cfg.Now())
	if err != nil {
		return nil, c.Value, err
	}
	t, err := h.cfg.Store.Tenant(ctx, us.TenantID)
	if err != nil {
		return nil, c.Value, err
	}
	return &viewer{User: u, Session: us, Tenant: t, CSRF: csrfToken(c.Value)}, c.Value, nil
}

// authorized runs f for a logged-in user whose role allows the action;
// a POST must also carry the login's synchronizer token. Without a login,
// a browser is sent to the login page (htmx's polling too, by
// HX-Redirect); a role that may not is answered 403.
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request, a auth.Action, f func(http.ResponseWriter, *http.Request, *viewer)) {
	v, _, err := h.viewerOf(r)
	switch evbill.ErrorCode(err) {
	case "":
	case evbill.ENOTFOUND:
		h.toLogin(w, r)
		return
	default:
		h.internal(w, r, nil, err)
		return
	}
	if !auth.Allowed(v.User.Role, a) {
		h.fail(w, r, v, http.StatusForbidden, "Not allowed",
			fmt.Sprintf("Your role, %s, may not %s. An admin of %s can change it.", v.User.Role, a, v.Tenant.Name), nil)
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
		if got := r.PostFormValue("csrf"); subtle.ConstantTimeCompare([]byte(got), []byte(v.CSRF)) != 1 {
			h.fail(w, r, v, http.StatusForbidden, "Form expired",
				"This form was not sent from a page of this dashboard, or it was opened before you last logged in. Go back, reload and try again.", nil)
			return
		}
	}
	f(w, r, v)
}

// toLogin sends a request without a login to the login page, to come back
// to where it was going once logged in; a cookie that named no login is
// cleared on the way.
func (h *Handler) toLogin(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(cookieName); err == nil {
		h.clearCookie(w, r)
	}
	to := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		to += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	if r.Header.Get("HX-Request") == "true" {
		// htmx follows a redirect inside the request and would swap the
		// login form into the page; HX-Redirect makes it a navigation.
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// secure reports whether the browser reached evbill over TLS, directly or
// through a proxy that says so: the cookie is then Secure. A client that
// claims TLS falsely only makes its own cookie one it will not send back
// over plain HTTP.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/", Expires: expires,
		MaxAge: int(math.Ceil(h.cfg.SessionLifetime.Seconds())), HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

func (h *Handler) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

// loginPage is the login form, with what went wrong last time.
type loginPage struct {
	chrome
	Email string
	Next  string
	Error string
}

// loginForm serves GET /login; a user logged in already goes on.
func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, _, err := h.viewerOf(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", loginPage{chrome: chrome{Title: "Log in"}, Next: next})
}

// login serves POST /login: the email and password checked, a login
// session stored and its token set in the cookie. A wrong password and an
// unknown address are answered alike, after the same work; repeated
// failures of an address or a client are refused for a while.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	ctx := r.Context()
	now := h.cfg.Now()
	email, pw := r.PostFormValue("email"), r.PostFormValue("password")
	page := loginPage{chrome: chrome{Title: "Log in"}, Email: email, Next: safeNext(r.PostFormValue("next"))}
	key, err := evbill.NormalizeEmail(email)
	if err != nil {
		key = strings.ToLower(strings.TrimSpace(email))
	}
	client := clientAddr(r)
	for _, b := range []struct {
		f   *failures
		key string
	}{{h.byEmail, "email:" + key}, {h.byClient, "client:" + client}} {
		if blocked, until := b.f.blocked(b.key, now); blocked {
			wait := max(until.Sub(now).Round(time.Minute), time.Minute)
			w.Header().Set("Retry-After", strconv.Itoa(int(until.Sub(now).Seconds())+1))
			page.Error = fmt.Sprintf("Too many failed logins. Try again in %d minutes.", int(wait.Minutes()))
			h.render(w, r, http.StatusTooManyRequests, "login", page)
			return
		}
	}
	u, hash, err := h.cfg.Store.UserByEmail(ctx, key)
	found := err == nil
	switch evbill.ErrorCode(err) {
	case "":
	case evbill.ENOTFOUND:
		// The same work as a wrong password: timing does not tell which
		// addresses have users.
		hash = h.dummy
	default:
		h.internal(w, r, nil, err)
		return
	}
	if ok := h.verify(ctx, hash, pw); !ok || !found {
		h.byEmail.fail("email:"+key, now)
		h.byClient.fail("client:"+client, now)
		page.Error = "Wrong email or password."
		h.render(w, r, http.StatusUnauthorized, "login", page)
		return
	}
	h.byEmail.forget("email:" + key)
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	token := base64.RawURLEncoding.EncodeToString(b[:])
	us := evbill.UserSession{TenantID: u.TenantID, UserID: u.ID, ExpiresAt: now.Add(h.cfg.SessionLifetime)}
	if err := h.cfg.Store.CreateUserSession(ctx, &us, hashToken(token)); err != nil {
		h.internal(w, r, nil, err)
		return
	}
	// Logins are rare: a good moment to drop the sessions that expired.
	if _, err := h.cfg.Store.DeleteExpiredUserSessions(ctx, now); err != nil {
		h.cfg.Logger.Warn("dashboard: deleting expired login sessions", "err", err)
	}
	h.setCookie(w, r, token, us.ExpiresAt)
	http.Redirect(w, r, page.Next, http.StatusSeeOther)
}

// verify checks a password against a hash, waiting for a turn among the
// hashes computed at once.
func (h *Handler) verify(ctx context.Context, hash []byte, pw string) bool {
	select {
	case h.hashing <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	defer func() { <-h.hashing }()
	return VerifyPassword(hash, pw)
}

// logout serves POST /logout: the login session ends, on every instance.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, v *viewer) {
	c, err := r.Cookie(cookieName)
	if err == nil {
		if err := h.cfg.Store.DeleteUserSession(r.Context(), hashToken(c.Value)); err != nil {
			h.internal(w, r, v, err)
			return
		}
	}
	h.clearCookie(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext returns where to go after the login: a path of this site, never
// another site ("//evil.example", "https://…"), and "/" for anything else.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Path == "/login" || u.Path == "/logout" {
		return "/"
	}
	return next
}

// clientAddr is the address the request came from, for counting failed
// logins: the TCP peer, since a header naming the client could be
// anything the guesser likes.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
