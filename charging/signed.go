package charging

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/receipt"
	"github.com/evbill/evbill/tariff"
)

// IsOCMF reports whether a SignedData sampled value holds an OCMF record,
// the only signed format evbill keeps: its value starts with "OCMF|"
// (after white space, which the format allows before the header). Other
// signed formats are skipped, as they were before evbill read any.
func IsOCMF(value string) bool {
	return strings.HasPrefix(strings.TrimLeft(value, " \t\r\n"), "OCMF|")
}

// Breakdown is what evbill stores with a CDR besides the OCPI document: the
// engine's explanation (GET /cdrs/{id}?format=explain) and the
// itemization a receipt prints. A CDR stored before itemizations were
// kept has none (nil).
type Breakdown struct {
	Explanation string               `json:"explanation"`
	Itemization *receipt.Itemization `json:"itemization,omitempty"`
}

// checkSigned verifies the session's signed meter values at its end and
// flags the session signature_invalid when one does not verify; the flag
// is written with the end. Only a station with a meter key on record can
// have an invalid signature, so a station without one costs no read: the
// stop of a charger that signs nothing stays as fast as before. An
// energy mismatch between verified readings and the bill is logged; the
// receipt shows it.
func (s *Service) checkSigned(ctx context.Context, sess *evbill.Session, station evbill.Station, record *evbill.CDR) error {
	if station.MeterPublicKey == "" {
		return nil
	}
	values, err := s.store.SignedValues(ctx, sess.TenantID, sess.ID)
	if err != nil || len(values) == 0 {
		return err
	}
	billed := ""
	if record != nil {
		if billed, err = receipt.BilledWh(record.Document); err != nil {
			return err
		}
	}
	res := receipt.CheckSigned(values, station.MeterPublicKey, billed)
	switch res.Status {
	case receipt.StatusSignatureInvalid:
		sess.Flags = appendNew(sess.Flags, evbill.FlagSignatureInvalid)
		s.log.Warn("a signed meter value does not verify: session flagged", "tenant", sess.TenantID, "session", sess.ID,
			"station", station.ID, "reason", res.Reason)
	case receipt.StatusNotVerifiable:
		s.log.Info("signed meter values not verifiable", "tenant", sess.TenantID, "session", sess.ID, "reason", res.Reason)
	}
	if ec := res.EnergyCheck; ec != nil && ec.Outcome == receipt.EnergyMismatch {
		s.log.Warn("signed energy differs from the energy billed", "tenant", sess.TenantID, "session", sess.ID, "reason", ec.Reason)
	}
	return nil
}

// Itemization prices an ended session again, the way its CDR was priced,
// and itemizes it: for a receipt of a CDR stored before CDRs kept their
// itemization. The caller checks the result against the CDR (receipt.Build
// does): the engine is deterministic over the same session, readings and
// tariff version, all of which are final once the session has ended.
func (s *Service) Itemization(ctx context.Context, tenantID, sessionID string) (receipt.Itemization, error) {
	sess, err := s.store.Session(ctx, tenantID, sessionID)
	if err != nil {
		return receipt.Itemization{}, err
	}
	if sess.State != evbill.SessionEnded || sess.TariffID == "" {
		return receipt.Itemization{}, evbill.Errorf(evbill.ECONFLICT, "session %q has no priced end to itemize", sessionID)
	}
	samples, err := s.store.Samples(ctx, tenantID, sessionID)
	if err != nil {
		return receipt.Itemization{}, err
	}
	_, tf, err := s.resolver.Version(ctx, tenantID, sess.TariffID, sess.TariffVersion)
	if err != nil {
		return receipt.Itemization{}, err
	}
	sc, err := s.resolver.Station(ctx, tenantID, sess.StationID)
	if err != nil {
		return receipt.Itemization{}, err
	}
	m, err := metered(&sess, samples, sc.Location)
	if err != nil {
		return receipt.Itemization{}, err
	}
	result, periods, err := tf.PriceMetered(m, false)
	if err != nil {
		return receipt.Itemization{}, err
	}
	return receipt.Itemize(tf, &tariff.Session{Start: m.Start, End: m.End, Periods: periods, Location: sc.Location}, &result)
}

// ItemizationOf reads the itemization stored in a CDR's breakdown; ok is
// false for a CDR stored without one.
func ItemizationOf(c evbill.CDR) (it receipt.Itemization, ok bool) {
	var b Breakdown
	if json.Unmarshal(c.Breakdown, &b) != nil || b.Itemization == nil {
		return receipt.Itemization{}, false
	}
	return *b.Itemization, true
}
