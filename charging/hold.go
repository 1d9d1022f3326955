package charging

import (
	"context"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ocpp"
)

// HoldStopShare is the share of a card hold, in tenths, that the running
// cost may reach before evbill stops the session: a driver is never
// charged more than was held, and the last readings of a stopping charger
// still fit under the rest.
const HoldStopShare = 9

// hold is what a connection knows of one transaction's card hold.
type hold struct {
	known   bool  // the payment was looked up
	amount  int64 // the hold in minor units; 0 when the session has none
	stopped bool  // RemoteStopTransaction was sent
}

// holdOf returns the connection's record of tx's hold, made on first use.
func (l *link) holdOf(tx int64) *hold {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holds == nil {
		l.holds = map[int64]*hold{}
	}
	h := l.holds[tx]
	if h == nil {
		h = &hold{}
		l.holds[tx] = h
	}
	return h
}

// guardHold stops a card session whose running cost has reached
// HoldStopShare tenths of its hold, with RemoteStopTransaction, once. It
// runs after the session's readings are stored; what it cannot find out
// (no payment, a failed read) leaves the session running and is logged.
func (s *Service) guardHold(ctx context.Context, c *ocpp.Conn, l *link, tenantID, sessionID string, tx int64) {
	if s.payments == nil {
		return
	}
	h := l.holdOf(tx)
	l.mu.Lock()
	known, amount, stopped := h.known, h.amount, h.stopped
	l.mu.Unlock()
	if !known {
		p, err := s.payments.PaymentBySession(ctx, tenantID, sessionID)
		switch {
		case evbill.ErrorCode(err) == evbill.ENOTFOUND:
		case err != nil:
			s.log.Error("reading a session's payment", "session", sessionID, "err", err)
			return
		case p.State == evbill.PaymentHoldPending || p.State == evbill.PaymentHeld:
			amount = p.HoldAmount
		}
		l.mu.Lock()
		h.known, h.amount = true, amount
		l.mu.Unlock()
	}
	if amount == 0 || stopped {
		return
	}
	live, err := s.Live(ctx, tenantID, sessionID)
	if err != nil || live.Result == nil {
		return
	}
	if live.Result.Charge.Minor*10 < amount*HoldStopShare {
		return
	}
	l.mu.Lock()
	if h.stopped {
		l.mu.Unlock()
		return
	}
	h.stopped = true
	l.mu.Unlock()
	s.log.Info("running cost reached the hold's limit: stopping the session", "session", sessionID,
		"cost", live.Result.Charge.Minor, "hold", amount)
	// The charger is answered first; the stop is a CALL of our own.
	c.AfterAnswer(func() {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var conf ocpp.RemoteStopTransactionConf
			if err := c.Call(ctx, ocpp.ActionRemoteStopTransaction, &ocpp.RemoteStopTransactionReq{TransactionId: int(tx)}, &conf); err != nil {
				s.log.Error("RemoteStopTransaction at the hold's limit", "session", sessionID, "err", err)
			}
		}()
	})
}
