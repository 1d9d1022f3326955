package api

import (
	"bytes"
	"fmt"

	"github.com/danielgtaylor/huma/v2"
	"github.com/govalues/decimal"

	"github.com/evbill/evbill/money"
)

// Decimal is an exact decimal that travels as a JSON number. It exists
// because money and energy must never pass through float64: it decodes the
// number's digits as written and encodes the decimal's digits, so 0.1 stays
// 0.1 and 7.40 stays 7.40.
type Decimal struct {
	decimal.Decimal
	// invalid says why a JSON number could not be held exactly. Decoding
	// does not fail for it, so that Resolve can report it at the field's
	// location rather than huma reporting a decoding error at "body".
	invalid string
}

// UnmarshalJSON reads a JSON number exactly. A number needing more than 19
// significant digits is refused rather than rounded.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || !(b[0] == '-' || (b[0] >= '0' && b[0] <= '9')) {
		return fmt.Errorf("expected number")
	}
	*d = Decimal{}
	v, err := money.ParseDecimal(string(b)) // refuses rather than rounds
	if err != nil {
		d.invalid = err.Error()
		return nil
	}
	d.Decimal = v
	return nil
}

// Resolve reports a number that could not be held exactly, located at
// its field; huma calls it on every Decimal of a request after decoding.
func (d *Decimal) Resolve(_ huma.Context, pb *huma.PathBuffer) []error {
	if d.invalid == "" {
		return nil
	}
	return []error{&huma.ErrorDetail{Location: pb.String(), Message: d.invalid}}
}

// MarshalJSON writes the decimal as a plain JSON number, without exponent.
func (d Decimal) MarshalJSON() ([]byte, error) {
	return d.Decimal.AppendText(nil)
}

// Schema tells huma that a Decimal is a JSON number. Without it huma would
// describe the struct and reject every number sent for it.
func (Decimal) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeNumber}
}
