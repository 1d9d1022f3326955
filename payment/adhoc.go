package payment

import (
	"context"

	"github.com/evbill/evbill"
)

// NoSession is the failure code of an ad-hoc payment released because no
// session claimed it.
const NoSession = "no_session"

// releaseUnclaimed starts the release of held ad-hoc payments that no
// session can claim any more: made more than evbill.AdHocWindow ago (the
// guest's token has expired), or whose token was blocked, as the pay page
// does when it gives up on starting the charger. The guest was charged
// for nothing, so nothing may stay held. The release itself is the next
// due call; a payment a session claims meanwhile is left alone (the
// store's release is guarded by the claim). It returns how many it moved
// and logs a failure rather than stop the round: the other work of the
// round does not depend on it.
func (w *Worker) releaseUnclaimed(ctx context.Context, batch int) (moved int) {
	now := w.now()
	ps, err := w.Store.UnclaimedAdHocPayments(ctx, now.Add(-evbill.AdHocWindow), now, batch)
	if err != nil {
		w.log().Error("finding unclaimed ad-hoc payments", "err", err)
		return 0
	}
	for _, p := range ps {
		_, err := w.Store.ReleaseAdHocPayment(ctx, p.TenantID, p.ID, NoSession,
			NoSession+": no charging session started with the guest's idTag "+p.IDTag)
		switch evbill.ErrorCode(err) {
		case "":
			w.log().Info("releasing an ad-hoc hold no session claimed", "payment", p.ID, "id_tag", p.IDTag)
			moved++
		case evbill.ECONFLICT: // claimed or moved meanwhile
		default:
			w.log().Error("releasing an unclaimed ad-hoc payment", "payment", p.ID, "err", err)
		}
	}
	return moved
}
