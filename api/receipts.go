package api

import (
	"context"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/internal/receiptload"
	"github.com/evbill/evbill/ocmf"
	"github.com/evbill/evbill/receipt"
)

// meterKey checks a meter public key given to the stations API and
// returns it as stored: the upper-case hex of its DER, whatever form it
// came in. A key the OCMF check could not use (a curve Go's standard
// library lacks, not an EC key, not a key) is a field error here, when
// the operator can still fix it, rather than a receipt that can never
// verify. "" stays "": no key.
func meterKey(fe *fieldErrors, location, key string) string {
	if strings.TrimSpace(key) == "" {
		return ""
	}
	_, der, err := ocmf.ParsePublicKey([]byte(key))
	if err != nil {
		fe.add(location, err.Error())
		return ""
	}
	return strings.ToUpper(hex.EncodeToString(der))
}

func (s *server) registerReceipts() {
	if s.sessions == nil {
		return
	}
	register(s, huma.Operation{OperationID: "get-cdr-receipt", Method: http.MethodGet, Path: Prefix + "/cdrs/{id}/receipt",
		Summary: "Get a CDR's receipt",
		Description: "The driver's receipt: operator, site, station and connector; start and end in the site's time zone " +
			"(with its offset, unlike the rest of the API, which answers in UTC); one line per priced quantity of each charging " +
			"period with its tariff element, quantity, unit price and amount; parking and fees among them; min/max price; " +
			"VAT by rate; the total, equal to the CDR's; the payment; the tariff's text. " +
			"`ocmf` says whether the charger's signed meter values verify under the station's meter key " +
			"(verified, not_verifiable with the reason, signature_invalid, or none), compares their energy with the energy billed, " +
			"and gives the records exactly as received with the key, for the transparency software.",
		Tags: []string{"CDRs"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *idParam) (*out[receipt.Receipt], error) {
			r, err := s.receipt(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &out[receipt.Receipt]{r}, nil
		})
}

// receipt gathers the records of a CDR's receipt and builds it, the way
// the receipt emails do (receiptload).
func (s *server) receipt(ctx context.Context, ten, cdrID string) (receipt.Receipt, error) {
	l := receiptload.Loader{Records: s.store, Sessions: s.sessions, Tariffs: s.resolver}
	if s.payments != nil {
		l.Payments = s.payments
	}
	if s.charging != nil {
		l.Itemize = s.charging.Itemization
	}
	return l.Receipt(ctx, ten, cdrID)
}
