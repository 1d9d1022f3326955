package web_test

import (
	"strings"
	"testing"
	"time"
)

// TestReceiptPage: an ended session's receipt is at /r/{token}, as HTML
// and as a PDF, with the CDR's total; a running session has none yet, and
// a forged token finds nothing.
func TestReceiptPage(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ls := w.startLive()
		token := strings.TrimPrefix(ls.path, "/s/")
		if status, body := w.get("/r/" + token); status != 404 || !strings.Contains(body, "No receipt yet") {
			t.Fatalf("the receipt of a running session: %d\n%s", status, body)
		}
		ls.meter(30*time.Minute, 5000, 11000)
		ls.stop(40*time.Minute, 6000)
		_, total := w.total(ls.sess.ID) // "EUR 4.17"; the receipt writes "4.17 EUR"
		f := strings.Fields(total)
		want := "Amount charged: " + f[1] + " " + f[0]
		status, body := w.get("/r/" + token)
		if status != 200 || !strings.Contains(body, want) {
			t.Fatalf("the receipt page: %d, want %q in\n%s", status, want, body)
		}
		if _, live := w.get(ls.path); !strings.Contains(live, `href="/r/`+token+`"`) {
			t.Errorf("the live page of the ended session does not link its itemized receipt")
		}
		status, pdf := w.get("/r/" + token + "/receipt.pdf")
		if status != 200 || !strings.HasPrefix(pdf, "%PDF-") {
			t.Fatalf("the receipt PDF: %d %.40q", status, pdf)
		}
		if status, _ := w.get("/r/" + token[:len(token)-2] + "xx"); status != 404 {
			t.Errorf("a forged token: %d, want 404", status)
		}
	})
}
