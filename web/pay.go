package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/sandbox"
)

// target is the charger a pay URL names: its station (by OCPP identity,
// across tenants), the connector, and the tariff in force for a guest.
type target struct {
	ChargePointID string
	Station       pricing.StationContext
	Connector     evbill.Connector
	Tariff        pricing.Resolved
	Hold          money.Amount
}

func (t target) key() ocpp.StationKey {
	return ocpp.StationKey{TenantID: t.Station.Station.TenantID, StationID: t.Station.Station.ID}
}

func (t target) path() string {
	return "/pay/" + url.PathEscape(t.ChargePointID) + "/" + strconv.Itoa(t.Connector.ConnectorNumber)
}

// problem is why a page cannot be served, in words for the guest.
type problem struct {
	status      int
	title, text string
	err         error // logged, not shown
}

// find looks the charger of a pay URL up. A station is named by its charge
// point ID alone, as it connects; one ID used by two operators cannot be
// told apart here (OCPP tells them by password), so it is refused rather
// than guessed.
func (h *Handler) find(ctx context.Context, chargePointID, connector string, now time.Time) (target, *problem) {
	unknown := &problem{status: http.StatusNotFound, title: "Unknown charger",
		text: "No charger " + strconv.Quote(chargePointID) + " with connector " + strconv.Quote(connector) + " is known here. Check the code on the charger."}
	stations, err := h.cfg.Store.StationsByChargePointID(ctx, chargePointID)
	switch {
	case err != nil:
		return target{}, &problem{status: http.StatusInternalServerError, title: "Something went wrong", text: "Please try again in a moment.", err: err}
	case len(stations) == 0:
		return target{}, unknown
	case len(stations) > 1:
		return target{}, &problem{status: http.StatusNotFound, title: "Charger not identified",
			text: "More than one operator has a charger called " + strconv.Quote(chargePointID) + ", so this page cannot tell which one you are at. Please pay through the operator's own app or contact them."}
	}
	n, err := strconv.Atoi(connector)
	if err != nil || n < 1 {
		return target{}, unknown
	}
	st := stations[0]
	sc, err := h.cfg.Resolver.Station(ctx, st.TenantID, st.ID)
	if err != nil {
		return target{}, &problem{status: http.StatusInternalServerError, title: "Something went wrong", text: "Please try again in a moment.", err: err}
	}
	conn, ok := sc.Connector(n)
	if !ok {
		return target{}, unknown
	}
	res, err := h.cfg.Resolver.Resolve(ctx, pricing.Target{TenantID: st.TenantID, StationID: st.ID, ConnectorID: conn.ID}, now)
	switch {
	case evbill.ErrorCode(err) == evbill.ENOTFOUND:
		return target{}, &problem{status: http.StatusServiceUnavailable, title: "Not available",
			text: "This charger has no price for guests right now, so it cannot be paid here. Please contact the operator."}
	case err != nil:
		return target{}, &problem{status: http.StatusInternalServerError, title: "Something went wrong", text: "Please try again in a moment.", err: err}
	}
	// A guest's card is held as the tenant's drivers' cards are: the
	// tenant's own hold, or the server's.
	tn, err := h.cfg.Store.Tenant(ctx, st.TenantID)
	if err != nil {
		return target{}, &problem{status: http.StatusInternalServerError, title: "Something went wrong", text: "Please try again in a moment.", err: err}
	}
	hold := h.cfg.CardHold
	if tn.Payments.CardHold > 0 {
		hold = tn.Payments.CardHold
	}
	return target{ChargePointID: chargePointID, Station: sc, Connector: conn, Tariff: res,
		Hold: money.Amount{Minor: hold, Currency: res.Tariff.Currency}}, nil
}

// chrome is what the layout of every page shows.
type chrome struct {
	Title    string
	TestMode bool
	Refresh  int // seconds until the page reloads itself; 0 never
	// Script is the path of the page's embedded script, if it has one.
	Script string
	// NoscriptRefresh reloads the page every so many seconds in a
	// browser that runs no script; 0 never.
	NoscriptRefresh int
}

// payPage is the pay form with what the guest agrees to.
type payPage struct {
	chrome
	Action      string
	ChargePoint string
	Connector   evbill.Connector
	Site        evbill.Site
	Tariff      tariffView
	Hold        string
	Online      bool
	Stripe      bool
	FormToken   string
	Error       string
	TestCards   [][2]string
}

// testCards are the sandbox's cards a tester may type.
var testCards = [][2]string{
	{"4242 4242 4242 4242", "succeeds"},
	{"4000 0000 0000 0002", "is declined"},
	{"4000 0000 0000 9995", "lacks funds"},
	{"4000 0000 0000 0119", "answers late"},
}

func (h *Handler) payPage(ctx context.Context, t target, now time.Time) payPage {
	p := payPage{chrome: chrome{Title: "Charge at " + t.ChargePointID, TestMode: h.testMode()},
		Action: t.path(), ChargePoint: t.ChargePointID, Connector: t.Connector, Site: t.Station.Site,
		Tariff: h.describeTariff(ctx, t, now), Hold: t.Hold.String(),
		Online:    h.cfg.Chargers.Connected(t.key()),
		Stripe:    h.cfg.Gateway == GatewayStripe,
		FormToken: h.formToken(t.ChargePointID, t.Connector.ConnectorNumber, now)}
	if p.TestMode {
		p.TestCards = testCards
	}
	if !p.Online {
		// No form to lose: look again until the charger is back.
		p.Refresh = 30
	}
	return p
}

// form serves GET /pay/{station}/{connector}: the charger, its tariff,
// the hold, and the card form.
func (h *Handler) form(w http.ResponseWriter, r *http.Request) {
	now := h.cfg.Now()
	t, prob := h.find(r.Context(), r.PathValue("station"), r.PathValue("connector"), now)
	if prob != nil {
		h.fail(w, r, prob.status, prob.title, prob.text, prob.err)
		return
	}
	h.render(w, r, http.StatusOK, "pay", h.payPage(r.Context(), t, now))
}

// maxForm bounds a pay form's body: a card and a token.
const maxForm = 16 << 10

// pay serves POST /pay/{station}/{connector}: it checks the form, makes
// the guest's token and payment, waits for the hold, starts the charger
// and sends the guest to the session page. What the guest is refused
// before the payment exists is said on the form; from then on, the
// session page says how it went.
func (h *Handler) pay(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), h.cfg.Now()
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, http.StatusBadRequest, "Form not understood", "The form could not be read. Please scan the code on the charger again.", nil)
		return
	}
	t, prob := h.find(ctx, r.PathValue("station"), r.PathValue("connector"), now)
	if prob != nil {
		h.fail(w, r, prob.status, prob.title, prob.text, prob.err)
		return
	}
	page := h.payPage(ctx, t, now)
	nonce, ok := h.checkFormToken(r.PostForm.Get("form_token"), t.ChargePointID, t.Connector.ConnectorNumber, now)
	if !ok {
		page.Error = "This page was open for too long, or it is not this charger's page. Please check the details below and send the form again."
		h.render(w, r, http.StatusBadRequest, "pay", page)
		return
	}
	tenantID, idTag := t.Station.Station.TenantID, h.guestIDTag(nonce)
	// The same form sent again (a double tap, the back button) finds the
	// payment its first send made, and shows it.
	switch p, err := h.cfg.Store.AdHocPaymentByIDTag(ctx, tenantID, idTag); evbill.ErrorCode(err) {
	case "":
		h.toSession(w, r, p)
		return
	case evbill.ENOTFOUND:
	default:
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.", err)
		return
	}
	method, msg := h.paymentMethod(r.PostForm)
	if msg != "" {
		page.Error = msg
		h.render(w, r, http.StatusUnprocessableEntity, "pay", page)
		return
	}
	if !page.Online {
		page.Error = "This charger is offline right now, so it cannot be started. Nothing was charged."
		h.render(w, r, http.StatusServiceUnavailable, "pay", page)
		return
	}
	tok := evbill.Token{TenantID: tenantID, UID: idTag, Type: evbill.TokenTypeAdHoc, Status: evbill.TokenAccepted}
	expires := now.Add(evbill.AdHocWindow)
	tok.ExpiresAt = &expires
	switch err := h.cfg.Store.CreateToken(ctx, &tok); evbill.ErrorCode(err) {
	case "":
	case evbill.ECONFLICT:
		// The same form, sent twice at once: the first send goes on.
		h.awaitFirstSend(w, r, tenantID, idTag)
		return
	default:
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment. Nothing was charged.", err)
		return
	}
	// From here the guest's money is involved: what was begun is finished
	// even if the browser goes away, so that a hold is either used by the
	// charger or released.
	ctx = context.WithoutCancel(ctx)
	p := evbill.Payment{TenantID: tenantID, SiteID: t.Station.Site.ID, IDTag: idTag, Gateway: h.cfg.Gateway,
		PaymentMethod: method, Currency: t.Hold.Currency.Code(), HoldAmount: t.Hold.Minor}
	if err := h.cfg.Store.CreatePayment(ctx, &p); err != nil {
		h.block(ctx, tok)
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment. Nothing was charged.", err)
		return
	}
	p, err := h.awaitHold(ctx, p)
	if err != nil {
		h.cfg.Logger.Error("waiting for an ad-hoc hold", "payment", p.ID, "err", err)
	}
	switch p.State {
	case evbill.PaymentHeld:
		h.startCharger(ctx, t, p, tok)
	case evbill.PaymentFailed:
		h.block(ctx, tok) // declined: nothing to start
	default:
		// The hold did not come in time. The guest is told so and the
		// charger is not started; the blocked token makes the worker
		// release the hold whenever it is placed.
		h.cfg.Logger.Warn("no ad-hoc hold in time: giving up", "payment", p.ID, "state", p.State, "waited", h.cfg.HoldWait)
		h.block(ctx, tok)
	}
	h.toSession(w, r, p)
}

// toSession sends the guest to their session page (303: a reload there
// posts nothing again).
func (h *Handler) toSession(w http.ResponseWriter, r *http.Request, p evbill.Payment) {
	http.Redirect(w, r, "/pay/sessions/"+url.PathEscape(p.ID), http.StatusSeeOther)
}

// awaitFirstSend waits a little for the payment of a form whose first send
// is running, and shows it.
func (h *Handler) awaitFirstSend(w http.ResponseWriter, r *http.Request, tenantID, idTag string) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		p, err := h.cfg.Store.AdHocPaymentByIDTag(r.Context(), tenantID, idTag)
		switch {
		case err == nil:
			h.toSession(w, r, p)
			return
		case evbill.ErrorCode(err) != evbill.ENOTFOUND:
			h.fail(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.", err)
			return
		case time.Now().After(deadline):
			h.fail(w, r, http.StatusConflict, "Already sent", "This form was already sent and is being handled. Please scan the code on the charger again to see where it stands.", nil)
			return
		}
		if !sleep(r.Context(), pollInterval) {
			return
		}
	}
}

// pollInterval is how often a waiting request reads the payment again.
const pollInterval = 100 * time.Millisecond

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// awaitHold reads the payment until the worker has answered its hold
// (held or failed) or HoldWait has passed: the store is the worker's
// queue, so this request and the worker need not share a process.
func (h *Handler) awaitHold(ctx context.Context, p evbill.Payment) (evbill.Payment, error) {
	deadline := time.Now().Add(h.cfg.HoldWait)
	for p.State == evbill.PaymentHoldPending && time.Now().Before(deadline) {
		sleep(ctx, pollInterval)
		cur, err := h.cfg.Store.Payment(ctx, p.TenantID, p.ID)
		if err != nil {
			return p, err
		}
		p = cur
	}
	return p, nil
}

// Why a guest's hold is released before any session, as the payment's
// failure code; the session page words each.
const (
	codeStartRejected = "remote_start_rejected"
	codeOffline       = "charger_offline"
	codeNoAnswer      = "charger_no_answer"
	codeChargerError  = "charger_error"
)

// startCharger asks the charger to start a transaction for the guest's
// idTag on the connector. If it will not, the hold is released and the
// token blocked: nothing is charged for a session that never started.
func (h *Handler) startCharger(ctx context.Context, t target, p evbill.Payment, tok evbill.Token) {
	callCtx, cancel := context.WithTimeout(ctx, h.cfg.StartTimeout)
	defer cancel()
	n := t.Connector.ConnectorNumber
	var conf ocpp.RemoteStartTransactionConf
	err := h.cfg.Chargers.Call(callCtx, t.key(), ocpp.ActionRemoteStartTransaction, &ocpp.RemoteStartTransactionReq{IdTag: p.IDTag, ConnectorId: &n}, &conf)
	var ce *ocpp.CallError
	var code, reason string
	switch {
	case err == nil && conf.Status == ocpp.RemoteAccepted:
		h.cfg.Logger.Info("guest's charger asked to start", "payment", p.ID, "charge_point", t.ChargePointID, "connector", n)
		return
	case err == nil:
		code, reason = codeStartRejected, "the charger answered RemoteStartTransaction with "+string(conf.Status)
	case errors.Is(err, ocpp.ErrNotConnected), errors.Is(err, ocpp.ErrConnectionLost):
		code, reason = codeOffline, "the charger was not connected to take RemoteStartTransaction"
	case errors.Is(err, ocpp.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		code, reason = codeNoAnswer, "the charger did not answer RemoteStartTransaction within "+h.cfg.StartTimeout.String()
	case errors.As(err, &ce):
		code, reason = codeChargerError, "the charger answered RemoteStartTransaction with "+string(ce.Code)+": "+ce.Description
	default:
		code, reason = codeChargerError, "RemoteStartTransaction failed: "+err.Error()
	}
	h.cfg.Logger.Warn("guest's charger did not start: releasing the hold", "payment", p.ID, "charge_point", t.ChargePointID, "code", code, "reason", reason)
	switch _, err := h.cfg.Store.ReleaseAdHocPayment(ctx, p.TenantID, p.ID, code, reason); evbill.ErrorCode(err) {
	case "":
	case evbill.ECONFLICT:
		// Claimed meanwhile: the charger started after all (its answer was
		// lost or late), and the session is paid for as usual.
		if cur, err := h.cfg.Store.Payment(ctx, p.TenantID, p.ID); err == nil && cur.SessionID != "" {
			return
		}
	default:
		// The blocked token below makes the worker release it.
		h.cfg.Logger.Error("releasing a guest's hold", "payment", p.ID, "err", err)
	}
	h.block(ctx, tok)
}

// block makes the guest's token refuse any start: for a payment given up
// on, a late StartTransaction must not charge, and the worker releases
// what is held.
func (h *Handler) block(ctx context.Context, tok evbill.Token) {
	tok.Status = evbill.TokenBlocked
	if err := h.cfg.Store.UpdateToken(ctx, &tok); err != nil {
		h.cfg.Logger.Error("blocking a guest's token", "id_tag", tok.UID, "err", err)
	}
}

// paymentMethod returns the gateway's reference to the guest's card from
// the form, or what is wrong with it. The sandbox takes its test card
// numbers; Stripe takes only a PaymentMethod (pm_…) that Stripe.js made
// on the phone, so a real card number never reaches evbill.
func (h *Handler) paymentMethod(form url.Values) (method, problem string) {
	if h.cfg.Gateway == GatewayStripe {
		pm := strings.TrimSpace(form.Get("payment_method"))
		switch {
		case looksLikeCardNumber(pm):
			return "", "Card numbers are not taken here. Please enter your card in the card field, which sends it to the card processor directly."
		case !strings.HasPrefix(pm, "pm_") || len(pm) > 255 || strings.ContainsAny(pm, " \t\r\n"):
			return "", "The card was not recognised. Please enter it again."
		}
		return pm, ""
	}
	card := strings.ReplaceAll(strings.TrimSpace(form.Get("card")), " ", "")
	if card == "" {
		return "", "Please enter a test card number."
	}
	if err := sandbox.CheckCard(card); err != nil {
		var ge *evbill.GatewayError
		if errors.As(err, &ge) {
			return "", "This card cannot be used in test mode: " + strings.TrimPrefix(ge.Message, "sandbox (test mode): ") + "."
		}
		return "", "This card cannot be used in test mode."
	}
	return card, ""
}

// looksLikeCardNumber reports whether s could be a card number (12 to 19
// digits, spaces and dashes allowed).
func looksLikeCardNumber(s string) bool {
	d := strings.NewReplacer(" ", "", "-", "").Replace(s)
	return len(d) >= 12 && len(d) <= 19 && strings.Trim(d, "0123456789") == ""
}

// formatPrice writes a price of a currency with at least its minor digits:
// 0.45, 6.00, 0.2975.
func formatPrice(d decimal.Decimal, c money.Currency) string {
	return c.Code() + " " + string(money.FormatDecimal(nil, d, c.Exponent()))
}
