package payment

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
)

// HandleEvent applies a verified gateway event to its payment, once: a
// lapsed hold releases a held payment; a chargeback posts the money taken
// back, a won dispute posts its return; every event is recorded with the
// payment. An event about no payment of evbill's, or delivered again, is
// acknowledged and changes nothing.
func HandleEvent(ctx context.Context, store evbill.PaymentStore, gateway string, ev evbill.GatewayEvent, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if ev.Type == evbill.GatewayEventIgnored || ev.Reference == "" {
		return nil
	}
	p, err := store.PaymentByReference(ctx, gateway, ev.Reference)
	if evbill.ErrorCode(err) == evbill.ENOTFOUND {
		log.Warn("gateway event about an unknown payment", "gateway", gateway, "event", ev.ID, "type", ev.Type, "reference", ev.Reference)
		return nil
	}
	if err != nil {
		return err
	}
	from, reason := p.State, "gateway event "+ev.Type+" "+ev.ID
	var entry *evbill.LedgerEntry
	switch ev.Type {
	case evbill.GatewayEventHoldExpired:
		if p.State == evbill.PaymentHeld {
			p.State, p.FailureCode = evbill.PaymentReleased, "hold_expired"
		}
	case evbill.GatewayEventDisputeOpened:
		if ev.Amount <= 0 {
			break // nothing taken back yet: recorded only
		}
		e, err := ledger.DisputeOpened(p.TenantID, p.ID, gateway, p.Currency, ev.Amount)
		if err != nil {
			return err
		}
		entry = &e
	case evbill.GatewayEventDisputeClosed:
		if ev.DisputeStatus == evbill.GatewayDisputeWon && ev.Amount > 0 {
			e, err := ledger.DisputeWon(p.TenantID, p.ID, gateway, p.Currency, ev.Amount)
			if err != nil {
				return err
			}
			entry = &e
		}
	}
	err = store.RecordGatewayEvent(ctx, gateway, ev, &p, from, reason, entry)
	if evbill.ErrorCode(err) == evbill.ECONFLICT {
		// Delivered before, or the payment moved meanwhile (a capture
		// recorded as the hold lapsed): nothing to do twice.
		log.Info("gateway event already applied or overtaken", "gateway", gateway, "event", ev.ID, "err", err)
		return nil
	}
	if err == nil {
		log.Info("gateway event applied", "gateway", gateway, "event", ev.ID, "type", ev.Type, "payment", p.ID)
	}
	return err
}

// maxWebhookBody bounds a gateway notification; real ones are a few KiB.
const maxWebhookBody = 1 << 20

// Webhooks serves POST /webhooks/{gateway}: it verifies a gateway's
// notification with that gateway's own scheme and applies it
// (HandleEvent). A bad signature is 400 and changes nothing; a failure to
// apply it is 500, so that the gateway delivers it again.
type Webhooks struct {
	Store    evbill.PaymentStore
	Gateways map[string]evbill.Gateway
	Log      *slog.Logger
	// Now is the clock signatures are checked against; time.Now when nil.
	Now func() time.Time
}

// ServeHTTP handles one notification.
func (h *Webhooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	name := r.PathValue("gateway")
	gw := h.Gateways[name]
	if gw == nil {
		http.Error(w, "no such payment gateway", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		http.Error(w, "unreadable or too large body", http.StatusBadRequest)
		return
	}
	ev, err := gw.ParseWebhook(r.Header, body, now())
	if err != nil {
		var gerr *evbill.GatewayError
		if errors.As(err, &gerr) {
			log.Warn("refused a gateway notification", "gateway", name, "code", gerr.Code, "err", err)
		}
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := HandleEvent(r.Context(), h.Store, name, ev, log); err != nil {
		log.Error("applying a gateway event", "gateway", name, "event", ev.ID, "err", err)
		http.Error(w, "the event could not be applied; deliver it again", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}
