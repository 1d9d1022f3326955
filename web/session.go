package web

import (
	"net/http"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/money"
)

// sessionPage is a guest's payment and, once the charger started, their
// session as they see it.
type sessionPage struct {
	chrome
	Tone     string // "wait", "ok" or "bad": how the headline is shown
	Headline string
	Detail   string
	Site     evbill.Site
	Session  *liveView
	Payment  []row
	// LiveURL is the session's live page, which stays its receipt.
	LiveURL string
}

// liveView is the session's figures, from the engine that bills it.
type liveView struct {
	ChargePoint string
	Connector   int
	Rows        []row
}

// row is one labelled figure.
type row struct{ Label, Value string }

// session serves GET /pay/sessions/{payment}: where the guest's payment
// and session stand, reloading itself until nothing more will change.
// The payment's unguessable ID is the capability; only ad-hoc payments
// are found by it.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := h.cfg.Store.AdHocPayment(ctx, r.PathValue("payment"))
	switch evbill.ErrorCode(err) {
	case "":
	case evbill.ENOTFOUND:
		h.fail(w, r, http.StatusNotFound, "Not found", "There is no payment at this address. Please scan the code on the charger again.", nil)
		return
	default:
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong", "Please reload this page in a moment.", err)
		return
	}
	page := sessionPage{chrome: chrome{Title: "Your charging session", TestMode: p.Gateway == GatewaySandbox}}
	if site, err := h.cfg.Store.Site(ctx, p.TenantID, p.SiteID); err == nil {
		page.Site = site
	}
	currency, err := money.ParseCurrency(p.Currency)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong", "Please reload this page in a moment.", err)
		return
	}
	amount := func(minor int64) string { return money.Amount{Minor: minor, Currency: currency}.String() }
	hold := amount(p.HoldAmount)

	if p.SessionID == "" {
		usable := true // the guest's token may still start the charger
		tok, err := h.cfg.Store.TokenByUID(ctx, p.TenantID, p.IDTag)
		if err != nil || tok.Status != evbill.TokenAccepted || (tok.ExpiresAt != nil && !h.cfg.Now().Before(*tok.ExpiresAt)) {
			usable = false
		}
		h.beforeSession(&page, p, hold, usable)
		h.render(w, r, http.StatusOK, "session", page)
		return
	}

	live, err := h.cfg.Charging.Live(ctx, p.TenantID, p.SessionID)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "Something went wrong", "Please reload this page in a moment.", err)
		return
	}
	page.Session = h.liveView(r, live)
	page.LiveURL = h.LivePath(p.TenantID, p.SessionID)
	ended := live.Session.State == evbill.SessionEnded
	switch {
	case !ended && live.Session.State == evbill.SessionParking:
		page.Tone, page.Headline, page.Refresh = "ok", "Charging finished — still plugged in", 15
		page.Detail = "Your car has stopped drawing power. Unplug it to end the session."
	case !ended:
		page.Tone, page.Headline, page.Refresh = "ok", "Charging", 15
		page.Detail = "Stop charging at the charger or in your car, then unplug. You pay what the session costs, at most the hold of " + hold + "."
	case p.State == evbill.PaymentCaptured:
		page.Tone, page.Headline = "ok", "Paid "+amount(p.Captured)
		page.Detail = "Thank you. " + amount(p.Captured) + " was taken from your card, and the rest of the hold was released."
	case p.State == evbill.PaymentPartiallyRefunded || p.State == evbill.PaymentRefunded:
		page.Tone, page.Headline = "ok", "Paid "+amount(p.Captured-p.Refunded)
		page.Detail = amount(p.Captured) + " was taken from your card, of which " + amount(p.Refunded) + " was refunded."
	case p.State == evbill.PaymentReleasePending || p.State == evbill.PaymentReleased:
		page.Tone, page.Headline = "ok", "Nothing to pay"
		page.Detail = "The session cost nothing to pay by card, so the hold on your card is released."
	case p.State == evbill.PaymentFailed:
		page.Tone, page.Headline = "bad", "The payment could not be taken"
		page.Detail = "Your card refused the payment of this session; nothing was taken from it."
	default:
		page.Tone, page.Headline, page.Refresh = "wait", "Charging finished — taking payment", 3
		page.Detail = "The final price is being taken from your card; the rest of the hold of " + hold + " is released."
	}
	page.Payment = []row{{"Hold", hold}}
	if p.Captured > 0 {
		page.Payment = append(page.Payment, row{"Paid", amount(p.Captured)})
	}
	if p.Refunded > 0 {
		page.Payment = append(page.Payment, row{"Refunded", amount(p.Refunded)})
	}
	h.render(w, r, http.StatusOK, "session", page)
}

// beforeSession says where a payment stands whose charger has not
// started (yet): the hold, the start, or why nothing will happen.
func (h *Handler) beforeSession(page *sessionPage, p evbill.Payment, hold string, usable bool) {
	page.Payment = []row{{"Hold", hold}}
	nothing := "Nothing was charged."
	switch {
	case p.State == evbill.PaymentHoldPending && usable:
		page.Tone, page.Headline, page.Refresh = "wait", "Checking your card", 2
		page.Detail = "Your card's bank is asked to hold " + hold + "."
	case p.State == evbill.PaymentHoldPending:
		page.Tone, page.Headline = "bad", "No answer from your card's bank"
		page.Detail = "The bank did not answer in time, so the charger was not started. " + nothing + " If a hold appears on your card, it is released within minutes."
	case p.State == evbill.PaymentFailed:
		page.Tone, page.Headline = "bad", "Card declined"
		page.Detail = declineText(p.FailureCode) + " " + nothing + " Scan the code on the charger again to use another card."
	case p.State == evbill.PaymentHeld && usable:
		page.Tone, page.Headline, page.Refresh = "wait", "Card accepted — starting the charger", 3
		page.Detail = hold + " is held on your card. Plug in your car if you have not yet: charging starts in a moment."
	case p.State == evbill.PaymentHeld || p.State == evbill.PaymentReleasePending:
		page.Tone, page.Headline, page.Refresh = "bad", "Charging did not start", 5
		page.Detail = notStartedText(p.FailureCode) + " The hold of " + hold + " on your card is being released. " + nothing
	default:
		page.Tone, page.Headline = "bad", "Charging did not start"
		page.Detail = notStartedText(p.FailureCode) + " The hold of " + hold + " on your card is released. " + nothing
	}
}

// declineText words a gateway's refusal of the hold.
func declineText(code string) string {
	switch code {
	case "insufficient_funds": // the sandbox's and Stripe's code
		return "Your card has insufficient funds for the hold."
	case "expired_card":
		return "Your card has expired."
	case "incorrect_cvc":
		return "The card's security code is wrong."
	}
	return "Your card was declined."
}

// notStartedText words why a held guest's charger was not started.
func notStartedText(code string) string {
	switch code {
	case codeStartRejected:
		return "The charger refused to start: it may be in use or out of order."
	case codeOffline:
		return "The charger went offline before it could be started."
	case codeNoAnswer:
		return "The charger did not answer."
	case codeChargerError:
		return "The charger could not be started."
	case "no_session":
		return "No charging started within " + durationText(evbill.AdHocWindow) + "."
	}
	return "The charger was not started."
}

// liveView is the session's figures as the API's live view computes them.
func (h *Handler) liveView(r *http.Request, l charging.Live) *liveView {
	v := &liveView{ChargePoint: l.Session.StationID, Connector: l.Session.ConnectorNumber}
	loc := time.UTC
	if sc, err := h.cfg.Resolver.Station(r.Context(), l.Session.TenantID, l.Session.StationID); err == nil {
		v.ChargePoint = sc.Station.ChargePointID
		if sc.Location != nil {
			loc = sc.Location // the site's clock, which the guest stands by
		}
	}
	ended := l.Session.State == evbill.SessionEnded
	v.Rows = append(v.Rows, row{"Energy", string(money.FormatDecimal(nil, money.Round(l.EnergyKWh, 2), 2)) + " kWh"})
	if l.HasPower {
		v.Rows = append(v.Rows, row{"Power", string(money.FormatDecimal(nil, money.Round(l.PowerKW, 1), 1)) + " kW"})
	}
	v.Rows = append(v.Rows, row{"Duration", durationText(l.Duration)})
	if res := l.Result; res != nil {
		label := "Cost so far"
		if ended {
			label = "Price"
		}
		v.Rows = append(v.Rows, row{label, res.Charge.String()})
		if l.Rate != nil && !ended {
			c, _ := money.ParseCurrency(l.Currency)
			v.Rows = append(v.Rows, row{"Rate now", rateText(l.Rate.Dimension.String(), formatPrice(l.Rate.UnitPrice(), c))})
		}
	}
	label := "As of"
	if ended {
		label = "Ended"
	}
	v.Rows = append(v.Rows, row{label, l.AsOf.In(loc).Format("15:04:05 MST, 2 Jan 2006")})
	return v
}

func rateText(dimension, price string) string {
	switch dimension {
	case "ENERGY":
		return price + " per kWh excl. VAT"
	case "TIME":
		return price + " per hour excl. VAT"
	case "PARKING_TIME":
		return price + " per hour parked excl. VAT"
	}
	return price + " excl. VAT"
}
