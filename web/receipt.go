package web

import (
	"net/http"
	"strconv"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/internal/receiptload"
	"github.com/evbill/evbill/mail"
	"github.com/evbill/evbill/receipt"
)

// receiptOfToken reads the itemized receipt of the session the token
// names, answering the request itself (404, 500) when there is none.
func (h *Handler) receiptOfToken(w http.ResponseWriter, r *http.Request) (receipt.Receipt, bool) {
	tenantID, sessionID, ok := h.checkLiveToken(r.PathValue("token"))
	if !ok {
		h.fail(w, r, http.StatusNotFound, "Not found", "There is no receipt at this address. Check the link you were given.", nil)
		return receipt.Receipt{}, false
	}
	ctx := r.Context()
	c, err := h.cfg.Store.CDRBySession(ctx, tenantID, sessionID)
	switch evbill.ErrorCode(err) {
	case "":
	case evbill.ENOTFOUND:
		// Running, or ended without a price (held back for review).
		h.fail(w, r, http.StatusNotFound, "No receipt yet",
			"This session has no receipt yet: it is still charging, or its bill is being checked. Its live page is at "+
				h.LivePath(tenantID, sessionID)+".", nil)
		return receipt.Receipt{}, false
	default:
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong", "Please reload this page in a moment.", err)
		return receipt.Receipt{}, false
	}
	// The API's receipt and the emailed one are read the same way.
	l := receiptload.Loader{Records: h.cfg.Store, Sessions: h.cfg.Store, Payments: h.cfg.Store,
		Tariffs: h.cfg.Resolver, Itemize: h.cfg.Charging.Itemization}
	rc, err := l.Receipt(ctx, tenantID, c.ID)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong", "Please reload this page in a moment.", err)
		return receipt.Receipt{}, false
	}
	return rc, true
}

// receiptHTML serves GET /r/{token}: the itemized receipt of an ended
// session, the same document the receipt email carries, with the signed
// meter values (OCMF) and their verification.
func (h *Handler) receiptHTML(w http.ResponseWriter, r *http.Request) {
	rc, ok := h.receiptOfToken(w, r)
	if !ok {
		return
	}
	_, html, _, err := mail.Render(rc)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong", "Please reload this page in a moment.", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(html)))
	_, _ = w.Write([]byte(html))
}

// receiptPDF serves GET /r/{token}/receipt.pdf: the same receipt as a PDF.
func (h *Handler) receiptPDF(w http.ResponseWriter, r *http.Request) {
	rc, ok := h.receiptOfToken(w, r)
	if !ok {
		return
	}
	_, _, pdf, err := mail.Render(rc)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong", "Please reload this page in a moment.", err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `inline; filename="`+mail.PDFName(rc)+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(pdf)))
	_, _ = w.Write(pdf)
}
