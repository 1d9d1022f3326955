package charging

import (
	"context"
	"time"

	"github.com/evbill/evbill/ocpp"
)

// HoldStopShare is the share of a card hold, in tenths, that the running
// cost may reach before evbill stops the session: a driver is never
// charged more than was held, and the last readings of a stopping charger
// still fit under the rest.
const HoldStopShare = 9

// guardHold stops a session whose running cost, as priced with the
// readings just stored, has reached HoldStopShare tenths of its hold,
// with RemoteStopTransaction, once. The watch prices a reading whenever
// the cost may have got there (see plan), so a reading it did not price
// cannot have.
func (s *Service) guardHold(c *ocpp.Conn, w *watch, n *notice, tx int64) {
	if w.holdAmount == 0 || w.stopSent || n.live == nil || n.live.Result == nil {
		return
	}
	charge := n.live.Result.Charge.Minor
	if charge*10 < w.holdAmount*HoldStopShare {
		return
	}
	w.stopSent = true
	s.log.Info("running cost reached the hold's limit: stopping the session", "session", w.sessionID,
		"cost", charge, "hold", w.holdAmount)
	// The charger is answered first; the stop is a CALL of our own.
	c.AfterAnswer(func() {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var conf ocpp.RemoteStopTransactionConf
			if err := c.Call(ctx, ocpp.ActionRemoteStopTransaction, &ocpp.RemoteStopTransactionReq{TransactionId: int(tx)}, &conf); err != nil {
				s.log.Error("RemoteStopTransaction at the hold's limit", "session", w.sessionID, "err", err)
			}
		}()
	})
}
