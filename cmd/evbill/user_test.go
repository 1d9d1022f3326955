package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/dashboard"
	"github.com/evbill/evbill/sqlite"
)

// userCLI runs the program in-process on the data directory.
func userCLI(t *testing.T, data, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == "EVBILL_DATA" {
			return data
		}
		return ""
	}
	err := run(context.Background(), append([]string{"evbill"}, args...), getenv, strings.NewReader(stdin), &out, &errb)
	return out.String() + errb.String(), err
}

const cliPassword = "a long and winding road"

// TestUserCommand: `evbill user create` makes a dashboard user of a
// tenant (made if it does not exist, as apikey does) with the password
// from standard input, stored hashed; refusals exit 2 (bad input) or 1
// (a taken address); `evbill user password` replaces the password.
func TestUserCommand(t *testing.T) {
	data := t.TempDir()
	out, err := userCLI(t, data, cliPassword+"\n", "user", "create", "--email", " Ada@Example.com", "--role", "admin", "--tenant", "acme")
	if err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	if !strings.Contains(out, `created tenant "acme"`) || !strings.Contains(out, "created admin user ada@example.com") || strings.Contains(out, cliPassword) {
		t.Errorf("user create said:\n%s", out)
	}
	// A second user of the same tenant; the password's line ending may be
	// a Windows one, and spaces are the password's own.
	if out, err := userCLI(t, data, " "+cliPassword+" \r\n", "user", "create", "--email", "bob@example.com", "--role", "readonly", "--tenant", "acme"); err != nil ||
		strings.Contains(out, "created tenant") {
		t.Fatalf("user create of a second user: %v\n%s", err, out)
	}

	for name, tc := range map[string]struct {
		stdin  string
		args   []string
		status int
		says   string
	}{
		"a taken address":          {cliPassword, []string{"--email", "ADA@example.com", "--role", "readonly", "--tenant", "acme"}, 1, "already used"},
		"an unknown role":          {cliPassword, []string{"--email", "c@example.com", "--role", "owner", "--tenant", "acme"}, 2, "--role"},
		"no address":               {cliPassword, []string{"--role", "admin", "--tenant", "acme"}, 2, "--email"},
		"not an address":           {cliPassword, []string{"--email", "carol", "--role", "admin", "--tenant", "acme"}, 2, "not an address"},
		"a short password":         {"short", []string{"--email", "c@example.com", "--role", "admin", "--tenant", "acme"}, 2, "at least 12 characters"},
		"no password":              {"", []string{"--email", "c@example.com", "--role", "admin", "--tenant", "acme"}, 2, "no password"},
		"no tenant and no default": {cliPassword, []string{"--email", "c@example.com", "--role", "admin"}, 2, `no tenant "default"`},
	} {
		out, err := userCLI(t, data, tc.stdin, append([]string{"user", "create"}, tc.args...)...)
		if exitStatus(err) != tc.status || err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("user create with %s: exit %d, %v, want %d saying %q\n%s", name, exitStatus(err), err, tc.status, tc.says, out)
		}
	}
	if _, err := userCLI(t, data, "", "user"); exitStatus(err) != 2 {
		t.Errorf("user without a subcommand: %v", err)
	}

	st, err := sqlite.Open(context.Background(), filepath.Join(data, "evbill.db"))
	if err != nil {
		t.Fatal(err)
	}
	u, hash, err := st.UserByEmail(context.Background(), "ada@example.com")
	if err != nil || u.Role != evbill.RoleAdmin || !dashboard.VerifyPassword(hash, cliPassword) || strings.Contains(string(hash), cliPassword) {
		t.Errorf("the stored user: %+v, %q, %v", u, hash, err)
	}
	_, hash, _ = st.UserByEmail(context.Background(), "bob@example.com")
	if !dashboard.VerifyPassword(hash, " "+cliPassword+" ") {
		t.Errorf("bob's password is not the line given, spaces included")
	}
	if users, _ := st.ListUsers(context.Background(), u.TenantID, evbill.Page{}); len(users) != 2 {
		t.Errorf("the tenant's users: %+v", users)
	}
	st.Close()

	if out, err := userCLI(t, data, "another long password\n", "user", "password", "--email", "ada@EXAMPLE.com"); err != nil ||
		!strings.Contains(out, "new password set for ada@example.com") {
		t.Fatalf("user password: %v\n%s", err, out)
	}
	if _, err := userCLI(t, data, "another long password\n", "user", "password", "--email", "nobody@example.com"); exitStatus(err) != 1 ||
		evbill.ErrorCode(err) != evbill.ENOTFOUND {
		t.Errorf("user password of nobody: %v", err)
	}
	st, err = sqlite.Open(context.Background(), filepath.Join(data, "evbill.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, hash, _ := st.UserByEmail(context.Background(), "ada@example.com"); !dashboard.VerifyPassword(hash, "another long password") ||
		dashboard.VerifyPassword(hash, cliPassword) {
		t.Errorf("the password after user password")
	}
}

// TestDashboardServe: `evbill serve` mounts the dashboard at the root
// beside the API: a user made by `evbill user create` in the tenant serve
// made logs in and sees the overview, while the API, its health checks
// and metrics and the public pages answer as before.
func TestDashboardServe(t *testing.T) {
	data := t.TempDir()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	st, err := sqlite.Open(ctx, filepath.Join(data, "evbill.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var boot bytes.Buffer
	if err := bootstrap(ctx, st, &boot, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(boot.String()), "\n")
	key := lines[len(lines)-1]
	// The tenant "default" serve made takes the user without --tenant.
	if out, err := userCLI(t, data, cliPassword, "user", "create", "--email", "ops@example.com", "--role", "operator"); err != nil ||
		!strings.Contains(out, `of tenant "default"`) {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- serve(ctx, st, "test", ln, slog.New(slog.DiscardHandler), map[string]evbill.Gateway{}, serveOptions{ready: func() { close(ready) }})
	}()
	<-ready
	defer func() {
		stop()
		<-done
	}()

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, header ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	if res, _ := get("/"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("GET /: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	res, err := c.PostForm(base+"/login", url.Values{"email": {"ops@example.com"}, "password": {cliPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("login: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, body := get("/"); res.StatusCode != http.StatusOK || !strings.Contains(body, "<h1>Overview</h1>") || !strings.Contains(body, "ops@example.com · operator") {
		t.Fatalf("the overview: %d\n%s", res.StatusCode, body)
	}
	if res, body := get("/stations"); res.StatusCode != http.StatusOK || !strings.Contains(body, "No stations yet") {
		t.Errorf("the stations page: %d\n%s", res.StatusCode, body)
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/api/v1/openapi.json": 200, "/api/v1/sites": 401, "/nope": 404} {
		res, body := get(path)
		if res.StatusCode != want || strings.Contains(body, "<html") {
			t.Errorf("GET %s: %d, want %d from the API\n%.300s", path, res.StatusCode, want, body)
		}
	}
	if res, body := get("/api/v1/sites", "Authorization", "Bearer "+key); res.StatusCode != http.StatusOK || !strings.Contains(body, `"items"`) {
		t.Errorf("GET /api/v1/sites with the bootstrap key: %d\n%s", res.StatusCode, body)
	}
	if res, _ := get("/s/nope"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /s/nope: %d", res.StatusCode)
	}
}
