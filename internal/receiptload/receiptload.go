// Package receiptload gathers the stored records of a CDR's receipt and
// builds it with receipt.Build. The API's receipt endpoint and the
// receipt emails show the same receipt, so the records must be read the
// same way in both: the station and site as stored (a meter key just set
// counts at once), the connector of the session's number, the tariff
// version the session was priced under, the CDR's own itemization, the
// payment and the signed meter values.
package receiptload

import (
	"context"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/receipt"
	"github.com/evbill/evbill/tariff"
)

// Records is what a receipt needs of evbill.Store.
type Records interface {
	Tenant(ctx context.Context, id string) (evbill.Tenant, error)
	Site(ctx context.Context, tenantID, id string) (evbill.Site, error)
	Station(ctx context.Context, tenantID, id string) (evbill.Station, error)
	ListConnectors(ctx context.Context, tenantID, stationID string, p evbill.Page) ([]evbill.Connector, error)
	TariffVersion(ctx context.Context, tenantID, tariffID string, version int) (evbill.TariffVersion, error)
}

// Sessions is what a receipt needs of evbill.SessionStore.
type Sessions interface {
	CDR(ctx context.Context, tenantID, id string) (evbill.CDR, error)
	Session(ctx context.Context, tenantID, id string) (evbill.Session, error)
	SignedValues(ctx context.Context, tenantID, sessionID string) ([]evbill.SignedValue, error)
}

// Payments is what a receipt needs of evbill.PaymentStore.
type Payments interface {
	PaymentBySession(ctx context.Context, tenantID, sessionID string) (evbill.Payment, error)
}

// Tariffs gives parsed tariff versions; *pricing.Resolver is one, and
// shares its parsed copies.
type Tariffs interface {
	Version(ctx context.Context, tenantID, tariffID string, number int) (evbill.TariffVersion, *tariff.Tariff, error)
}

// Loader reads the records of receipts.
type Loader struct {
	Records  Records
	Sessions Sessions
	// Payments, when nil, leaves the payment out of every receipt.
	Payments Payments
	// Tariffs, when nil, has tariff versions read from Records and
	// parsed for each receipt.
	Tariffs Tariffs
	// Itemize prices a session again, for a CDR stored before CDRs kept
	// their itemization (charging.Service.Itemization); Build refuses
	// the result unless it comes to the CDR's totals. When nil, such a
	// CDR has no receipt (ECONFLICT).
	Itemize func(ctx context.Context, tenantID, sessionID string) (receipt.Itemization, error)
}

// Receipt gathers the records of one of the tenant's CDRs and builds its
// receipt. ENOTFOUND when the tenant has no such CDR; a record that
// cannot be read is the store's error.
func (l *Loader) Receipt(ctx context.Context, tenantID, cdrID string) (receipt.Receipt, error) {
	c, err := l.Sessions.CDR(ctx, tenantID, cdrID)
	if err != nil {
		return receipt.Receipt{}, err
	}
	in := receipt.Inputs{CDR: c}
	if in.Session, err = l.Sessions.Session(ctx, tenantID, c.SessionID); err != nil {
		return receipt.Receipt{}, err
	}
	sess := in.Session
	if in.Station, err = l.Records.Station(ctx, tenantID, sess.StationID); err != nil {
		return receipt.Receipt{}, err
	}
	if in.Site, err = l.Records.Site(ctx, tenantID, in.Station.SiteID); err != nil {
		return receipt.Receipt{}, err
	}
	if loc, err := time.LoadLocation(in.Site.TimeZone); err == nil && in.Site.TimeZone != "" {
		in.Location = loc
	}
	conns, err := l.Records.ListConnectors(ctx, tenantID, sess.StationID, evbill.Page{Limit: evbill.MaxPageLimit})
	if err != nil {
		return receipt.Receipt{}, err
	}
	for _, cn := range conns {
		if cn.ConnectorNumber == sess.ConnectorNumber {
			in.Connector = cn
		}
	}
	tn, err := l.Records.Tenant(ctx, tenantID)
	if err != nil {
		return receipt.Receipt{}, err
	}
	in.Operator = tn.Name
	if sess.TariffID != "" {
		if in.Tariff, err = l.tariff(ctx, tenantID, sess.TariffID, sess.TariffVersion); err != nil {
			return receipt.Receipt{}, err
		}
	}
	it, ok := charging.ItemizationOf(c)
	switch {
	case ok:
	case l.Itemize != nil:
		if it, err = l.Itemize(ctx, tenantID, sess.ID); err != nil {
			return receipt.Receipt{}, err
		}
	default:
		return receipt.Receipt{}, evbill.Errorf(evbill.ECONFLICT, "CDR %q was stored without an itemization", c.ID)
	}
	in.Itemization = it
	if l.Payments != nil {
		p, err := l.Payments.PaymentBySession(ctx, tenantID, sess.ID)
		switch evbill.ErrorCode(err) {
		case "":
			in.Payment = &p
		case evbill.ENOTFOUND:
		default:
			return receipt.Receipt{}, err
		}
	}
	if in.Signed, err = l.Sessions.SignedValues(ctx, tenantID, sess.ID); err != nil {
		return receipt.Receipt{}, err
	}
	return receipt.Build(in)
}

func (l *Loader) tariff(ctx context.Context, tenantID, tariffID string, version int) (*tariff.Tariff, error) {
	if l.Tariffs != nil {
		_, tf, err := l.Tariffs.Version(ctx, tenantID, tariffID, version)
		return tf, err
	}
	v, err := l.Records.TariffVersion(ctx, tenantID, tariffID, version)
	if err != nil {
		return nil, err
	}
	tf, err := tariff.Parse(v.Document)
	if err != nil {
		return nil, evbill.Errorf(evbill.EINTERNAL, "stored tariff %s version %d no longer parses: %v", tariffID, version, err)
	}
	return tf, nil
}
