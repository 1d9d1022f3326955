package web_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
		"the browser test of the live page needs one; .ci/run installs Debian's chromium")
	return ""
}

// browser starts a headless Chromium for the test, with a phone's
// viewport, and returns its context.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.WindowSize(390, 844),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	return ctx
}

// waitText waits until the element's text is want, across the page's
// reloads, and fails the test with what it shows after 20 s.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	js := `(function(){var e=document.querySelector(` + jsString(sel) + `);return e?e.textContent:"(none)";})()`
	var got string
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		// A page that is reloading cannot be asked: ask again.
		if got, err = chromedp.Run(ctx, chromedp.Evaluate[string](js)); err == nil && got == want {
			return
		}
	}
	t.Fatalf("%s shows %q, want %q (%v)", sel, got, want, err)
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// TestLivePageInBrowser opens a session's live page in headless
// Chromium: it renders the figures, its script follows the event stream
// (within the page's Content-Security-Policy) so a MeterValues shows
// without a reload, and at the end the page turns into the receipt with
// the CDR's total. Opened again, the receipt shows the same.
func TestLivePageInBrowser(t *testing.T) {
	ctx := browser(t)
	forEachEngine(t, func(t *testing.T, w *world) {
		ls := w.startLive()
		if err := chromedp.Do(ctx, chromedp.Navigate(w.base+ls.path)); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, `[data-live="headline"]`, "Charging")
		waitText(t, ctx, `[data-live="energy"]`, "0.00 kWh")
		// A mark that a reload would wipe out.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.evbillMark = 7`)); err != nil {
			t.Fatal(err)
		}

		ls.meter(30*time.Minute, 7000, 11000)
		waitText(t, ctx, `[data-live="energy"]`, "7.00 kWh")
		waitText(t, ctx, `[data-live="power"]`, "11.0 kW")
		waitText(t, ctx, `[data-live="duration"]`, "30 min")
		cost, err := chromedp.Run(ctx, chromedp.Text(`[data-live="cost"]`))
		if err != nil || !strings.HasPrefix(cost, "EUR ") {
			t.Fatalf("the cost so far: %q, %v", cost, err)
		}
		// The page updated in place: the figures came over the stream.
		if mark, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.evbillMark || 0`)); mark != 7 {
			t.Errorf("the page was reloaded to show the update (%d, %v)", mark, err)
		}

		ls.stop(40*time.Minute, 7000)
		_, total := w.total(ls.sess.ID)
		waitText(t, ctx, `[data-receipt="total"]`, total)
		if h1, _ := chromedp.Run(ctx, chromedp.Text(`h1`)); h1 != "Receipt" {
			t.Errorf("the page's heading at the end: %q", h1)
		}

		if err := chromedp.Do(ctx, chromedp.Navigate(w.base+ls.path)); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, `[data-receipt="total"]`, total)
	})
}
