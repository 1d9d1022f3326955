package dashboard_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/dashboard"
	"github.com/evbill/evbill/money"
)

// chromium finds a Chromium or Chrome binary: EVBILL_TEST_CHROMIUM when
// set, otherwise the first of the usual names on PATH (.ci/run installs
// Debian's chromium).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("EVBILL_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium binary found (chromium, chromium-browser, google-chrome, headless-shell on PATH, or EVBILL_TEST_CHROMIUM): " +
		"the browser test of the dashboard needs one; .ci/run installs Debian's chromium")
	return ""
}

// headless starts a headless Chromium with a phone's viewport and returns
// its context and what its pages write to the console.
func headless(t *testing.T) (context.Context, *consoleLog) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.WindowSize(390, 844),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	log := &consoleLog{}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			log.add(m.String() + " (" + m.URL + ")")
		}
	}()
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
		<-done
	})
	return ctx, log
}

// consoleLog keeps the console's messages.
type consoleLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *consoleLog) add(m string) {
	l.mu.Lock()
	l.msgs = append(l.msgs, m)
	l.mu.Unlock()
}

func (l *consoleLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

// waitText waits until the element's text is want, and fails the test
// with what it shows after 20 s.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	js := `(function(){var e=document.querySelector(` + jsString(sel) + `);return e?e.textContent.trim():"(none)";})()`
	var got string
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, err = chromedp.Run(ctx, chromedp.Evaluate[string](js)); err == nil && got == want {
			return
		}
	}
	t.Fatalf("%s shows %q, want %q (%v)", sel, got, want, err)
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// TestDashboardInBrowser logs in to the dashboard in headless Chromium on
// a phone's screen and watches the overview follow a session that a
// charger runs over OCPP, without reloading: running, its energy so far,
// and at the end today's revenue, the CDR's total. The scripts (htmx, and
// uPlot drawing a report's chart) run within the pages'
// Content-Security-Policy, and the menu opens on the phone.
func TestDashboardInBrowser(t *testing.T) {
	ctx, console := headless(t)
	forEachEngine(t, func(t *testing.T, w *world) {
		if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/")); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "h1", "evbill") // sent to the login page
		if err := chromedp.Do(ctx,
			chromedp.SendKeys("#email", emails[evbill.RoleOperator]),
			chromedp.SendKeys("#password", userPassword),
			chromedp.Click(`button[type="submit"]`),
		); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "h1", "Overview")
		waitText(t, ctx, `[data-figure="active"]`, "0")
		waitText(t, ctx, `[data-figure="revenue"]`, "—")
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof htmx === "object"`)); !ok || err != nil {
			t.Fatalf("htmx did not load: %v", err)
		}
		// On a phone the navigation hides behind the menu button.
		navShown := `getComputedStyle(document.querySelector(".top nav")).display !== "none"`
		if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](navShown)); shown || err != nil {
			t.Errorf("the navigation shows on a phone before the menu is opened (%v)", err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(".menu-button")); err != nil {
			t.Fatal(err)
		}
		if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](navShown)); !shown || err != nil {
			t.Errorf("the menu does not open (%v)", err)
		}
		// A mark that a reload would wipe out.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.evbillMark = 7`)); err != nil {
			t.Fatal(err)
		}

		ch := w.dial()
		ch.start()
		waitText(t, ctx, `[data-figure="active"]`, "1")
		ch.meter(30*time.Minute, 7000, 11000)
		waitText(t, ctx, `[data-figure="running-energy"]`, "7.00 kWh")
		ch.stop(40*time.Minute, 7500)
		record, err := w.store.CDRBySession(context.Background(), w.tenant.ID, w.session(ch).ID)
		if err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, `[data-figure="revenue"]`, money.Amount{Minor: record.AmountMinor, Currency: money.MustCurrency("EUR")}.String())
		waitText(t, ctx, `[data-figure="energy"]`, "7.50 kWh")
		waitText(t, ctx, `[data-figure="active"]`, "0")
		if mark, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.evbillMark || 0`)); mark != 7 {
			t.Errorf("the page was reloaded to show the figures (%d, %v)", mark, err)
		}

		// A report's chart is drawn by uPlot, within the CSP too.
		if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/revenue")); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "h1", "Revenue")
		js := `document.querySelectorAll("#chart canvas").length + ":" + document.querySelector("#chart .u-legend").textContent.includes("Billed (EUR)")`
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function(){try{return `+js+`}catch(e){return String(e)}})()`))
			if err == nil && got == "1:true" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the revenue chart: %q, %v", got, err)
			}
		}

		// Logging out ends the login; the overview asks for it again.
		if err := chromedp.Do(ctx, chromedp.Click(".menu-button"), chromedp.Click(`.logout button`)); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "h1", "evbill")
		if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/")); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, "h1", "evbill")
	}, func(c *dashboard.Config) { c.Reports = &fakeReports{} })
	for _, m := range console.all() {
		if strings.Contains(m, "Content Security Policy") || strings.Contains(strings.ToLower(m), "error") {
			t.Errorf("the console: %s", m)
		}
	}
}
