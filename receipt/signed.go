package receipt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ocmf"
)

// The statuses of a session's signed meter values (Signed.Status).
const (
	// StatusVerified: every record's signature checks out under the
	// station's meter key.
	StatusVerified = "verified"
	// StatusNotVerifiable: a record could not be checked (no key on
	// record, a curve Go's standard library lacks, a record that does not
	// parse); Reason says which and why. It says nothing against the
	// record.
	StatusNotVerifiable = "not_verifiable"
	// StatusSignatureInvalid: a record was checked and its signature does
	// not match: the reading was changed after signing, or the key on
	// record is not the meter's. The session is flagged.
	StatusSignatureInvalid = "signature_invalid"
	// StatusNone: the charger sent no signed meter values.
	StatusNone = "none"
)

// The outcomes of an energy check (EnergyCheck.Outcome): the first three
// are ocmf.CompareSessionEnergy's; not_compared is for a session with no
// verified record, whose readings prove nothing.
const (
	// EnergyMatch: the signed readings' difference is the energy billed,
	// exactly.
	EnergyMatch = "match"
	// EnergyMismatch: both are known and differ; Reason gives both.
	EnergyMismatch = "mismatch"
	// EnergyNotComparable: the verified records give no usable begin and
	// end reading (one is missing, from another meter, flagged unusable);
	// Reason says which.
	EnergyNotComparable = "not_comparable"
	// EnergyNotCompared: no record verified.
	EnergyNotCompared = "not_compared"
)

// Signed is what a session's signed meter values (OCMF) say about it.
type Signed struct {
	// Status is verified, not_verifiable, signature_invalid or none.
	Status string `json:"status" enum:"verified,not_verifiable,signature_invalid,none"`
	// Reason says why the status is not verified, naming the record.
	Reason string `json:"reason,omitempty"`
	// PublicKey is the meter key the records were checked with (hex of
	// the DER SubjectPublicKeyInfo), which the transparency software needs
	// along with the records; "" when the station has none on record.
	PublicKey string `json:"public_key,omitempty"`
	// EnergyCheck compares the energy between the verified records' begin
	// and end readings with the energy billed; nil without records.
	EnergyCheck *EnergyCheck `json:"energy_check,omitempty"`
	// Records are the OCMF records exactly as the charger sent them, in
	// the order received, for the transparency software.
	Records []string `json:"records"`
	// Checks are the records' results, one per record, in the same order.
	Checks []RecordCheck `json:"checks,omitempty"`
}

// EnergyCheck is the comparison of signed and billed energy.
type EnergyCheck struct {
	// Outcome is match, mismatch, not_comparable or not_compared.
	Outcome string `json:"outcome" enum:"match,mismatch,not_comparable,not_compared"`
	Reason  string `json:"reason,omitempty"`
	// SignedWh is the end reading less the begin reading, in Wh; "" when
	// the records give none.
	SignedWh string `json:"signed_wh,omitempty"`
	// BilledWh is the CDR's total_energy in Wh.
	BilledWh string `json:"billed_wh"`
	// Register is the meter register compared (an OBIS code), as written.
	Register string `json:"register,omitempty"`
	// BeginWh and EndWh are the readings compared, in Wh.
	BeginWh string `json:"begin_wh,omitempty"`
	EndWh   string `json:"end_wh,omitempty"`
}

// RecordCheck is the check of one record.
type RecordCheck struct {
	// Seq is the record's place in the order received, from 1.
	Seq int `json:"seq"`
	// Time is the timestamp of the MeterValue that carried it, and
	// Context its OCPP reading context.
	Time    time.Time `json:"time"`
	Context string    `json:"context,omitempty"`
	// Outcome is verified, not_verifiable or signature_invalid.
	Outcome   string `json:"outcome" enum:"verified,not_verifiable,signature_invalid"`
	Algorithm string `json:"algorithm,omitempty"`
	Reason    string `json:"reason,omitempty"`
	// MeterSerial and Pagination identify the record (MS, or GS when the
	// record has no MS, and PG) when it could be read.
	MeterSerial string `json:"meter_serial,omitempty"`
	Pagination  string `json:"pagination,omitempty"`
}

// noKeyReason is the status reason when the station has no key on record,
// whatever each record would otherwise say: a key is what an operator can
// add, and the per-record checks keep the rest.
const noKeyReason = "the station has no meter public key on record (meter_public_key), so its meter's signatures cannot be checked"

// CheckSigned verifies a session's signed meter values with the station's
// meter key (as ocmf.Verify takes it; "" for none) and compares the
// energy between the verified records' readings with billedWh, the energy
// billed in Wh as an exact decimal. It is pure and cheap, so the end of a
// session (which flags an invalid signature) and every receipt check the
// same way.
func CheckSigned(values []evbill.SignedValue, publicKey, billedWh string) Signed {
	out := Signed{Status: StatusNone, PublicKey: publicKey, Records: make([]string, len(values))}
	if len(values) == 0 {
		out.Reason = "the charger sent no signed meter values for this session"
		return out
	}
	var verified []ocmf.Record
	var firstInvalid, firstUnverifiable string
	for i, v := range values {
		out.Records[i] = v.Raw
		c := RecordCheck{Seq: i + 1, Time: v.Time, Context: v.Context}
		if v.Seq > 0 {
			c.Seq = v.Seq
		}
		rec, err := ocmf.Parse([]byte(v.Raw))
		if err != nil {
			c.Outcome, c.Reason = StatusNotVerifiable, "the record cannot be read: "+strings.TrimPrefix(err.Error(), "ocmf: ")
		} else {
			c.MeterSerial, c.Pagination = rec.Payload.MeterSerial, rec.Payload.Pagination.String()
			if c.MeterSerial == "" {
				c.MeterSerial = rec.Payload.GatewaySerial
			}
			res := ocmf.Verify(rec, []byte(publicKey))
			c.Algorithm, c.Reason = res.Algorithm, res.Reason
			switch res.Outcome {
			case ocmf.Verified:
				c.Outcome = StatusVerified
				verified = append(verified, rec)
			case ocmf.SignatureInvalid:
				c.Outcome = StatusSignatureInvalid
			default:
				c.Outcome = StatusNotVerifiable
			}
		}
		where := fmt.Sprintf("record %d", c.Seq)
		if c.Context != "" {
			where += " (" + c.Context + ")"
		}
		switch {
		case c.Outcome == StatusSignatureInvalid && firstInvalid == "":
			firstInvalid = where + ": " + c.Reason
		case c.Outcome == StatusNotVerifiable && firstUnverifiable == "":
			firstUnverifiable = where + ": " + c.Reason
		}
		out.Checks = append(out.Checks, c)
	}
	switch {
	case firstInvalid != "":
		out.Status, out.Reason = StatusSignatureInvalid, firstInvalid
	case firstUnverifiable != "":
		out.Status, out.Reason = StatusNotVerifiable, firstUnverifiable
		if strings.TrimSpace(publicKey) == "" {
			out.Reason = noKeyReason
		}
	default:
		out.Status = StatusVerified
	}
	out.EnergyCheck = checkEnergy(verified, billedWh)
	return out
}

func checkEnergy(verified []ocmf.Record, billedWh string) *EnergyCheck {
	ec := &EnergyCheck{BilledWh: billedWh}
	if len(verified) == 0 {
		ec.Outcome, ec.Reason = EnergyNotCompared, "no record verified, so no signed reading can be compared"
		return ec
	}
	c := ocmf.CompareSessionEnergy(verified, billedWh)
	ec.Reason, ec.SignedWh, ec.Register, ec.BeginWh, ec.EndWh = c.Reason, c.MeteredWh, c.Register, c.BeginWh, c.EndWh
	switch c.Outcome {
	case ocmf.Match:
		ec.Outcome = EnergyMatch
	case ocmf.Mismatch:
		ec.Outcome = EnergyMismatch
	default:
		ec.Outcome = EnergyNotComparable
	}
	return ec
}

// BilledWh reads the energy a CDR billed, its OCPI total_energy (kWh), in
// Wh as an exact decimal, the form CheckSigned compares. The number is
// read as written, never as a float.
func BilledWh(document json.RawMessage) (string, error) {
	f, err := readCDR(document)
	if err != nil {
		return "", err
	}
	kwh, err := decimal.Parse(f.TotalEnergy.String())
	if err != nil {
		return "", evbill.Errorf(evbill.EINVALID, "CDR total_energy %s: %v", f.TotalEnergy, err)
	}
	wh, err := kwh.Mul(decimal.Thousand)
	if err != nil {
		return "", evbill.Errorf(evbill.EINVALID, "CDR total_energy %s: %v", f.TotalEnergy, err)
	}
	return wh.Trim(0).String(), nil
}

// cdrFacts are the fields of an OCPI CDR document a receipt reads.
type cdrFacts struct {
	CountryCode string      `json:"country_code"`
	PartyID     string      `json:"party_id"`
	TotalEnergy json.Number `json:"total_energy"`
}

func readCDR(document json.RawMessage) (cdrFacts, error) {
	var f cdrFacts
	dec := json.NewDecoder(bytes.NewReader(document))
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil {
		return f, evbill.Errorf(evbill.EINVALID, "CDR document: %v", err)
	}
	if f.TotalEnergy == "" {
		return f, evbill.Errorf(evbill.EINVALID, "CDR document has no total_energy")
	}
	return f, nil
}
