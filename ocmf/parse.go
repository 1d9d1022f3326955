package ocmf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Record is one OCMF record as received, split into its sections and
// decoded. It keeps the sections' bytes because the signature is over the
// payload exactly as the meter wrote it: a decoded Payload can be written
// back in many ways, and only the received bytes verify.
type Record struct {
	// Raw is a copy of the whole record given to Parse, so that the record
	// does not change when the caller reuses its buffer.
	Raw []byte
	// PayloadBytes is the payload section, everything between the first and
	// the second pipe, verbatim: these are the bytes the signature covers.
	PayloadBytes []byte
	// SignatureBytes is the signature section, everything after the second
	// pipe, verbatim. The signature does not cover it.
	SignatureBytes []byte
	// Payload is the decoded payload section.
	Payload Payload
	// Signature is the decoded signature section.
	Signature Signature
}

// Payload is the decoded payload section. Field names are spelled out; each
// one's comment names its OCMF key. Keys this package does not know (the
// vendor extension points U… to Z… among them) are not decoded, but they
// stay in Record.PayloadBytes, which is what the signature covers.
type Payload struct {
	// FormatVersion is FV, "<major>.<minor>"; empty when the meter leaves it
	// out. Parse refuses major versions other than 0 and 1, because a new
	// major version may change what the fields mean.
	FormatVersion string
	// GatewayID is GI, the maker and model of the signing component.
	GatewayID string
	// GatewaySerial is GS, the serial number of the signing component.
	GatewaySerial string
	// GatewayVersion is GV, the signing component's software version.
	GatewayVersion string
	// Pagination is PG, this record's place in its context's sequence.
	Pagination Pagination
	// MeterVendor is MV.
	MeterVendor string
	// MeterModel is MM.
	MeterModel string
	// MeterSerial is MS. Parse requires MS or GatewaySerial, because a serial
	// number is what ties a record to its public key.
	MeterSerial string
	// MeterFirmware is MF.
	MeterFirmware string
	// IdentificationStatus is IS: whether a user was assigned. It is nil
	// when the record leaves it out, as records without a transaction do.
	IdentificationStatus *bool
	// IdentificationLevel is IL, e.g. "VERIFIED" (table 11 of the spec).
	IdentificationLevel string
	// IdentificationFlags is IF, e.g. ["RFID_PLAIN", "OCPP_RS_TLS"].
	IdentificationFlags []string
	// IdentificationType is IT, e.g. "ISO14443" (table 17).
	IdentificationType string
	// IdentificationData is ID, e.g. an RFID card's UID in hex.
	IdentificationData string
	// TariffText is TT, the tariff's description for direct payment.
	TariffText string
	// ChargeControllerFirmware is CF.
	ChargeControllerFirmware string
	// LossCompensation is LC, the charging cable's characteristics used to
	// compensate its loss; nil when the record has none.
	LossCompensation *LossCompensation
	// ChargePointIDType is CT, "EVSEID" or "CBIDC" (table 18).
	ChargePointIDType string
	// ChargePointID is CI.
	ChargePointID string
	// Readings is RD, with the spec's omission rule already applied: a
	// field a reading leaves out takes the previous reading's value.
	Readings []Reading
}

// Pagination is the PG field: a context and a counter that goes up by one
// per record in that context, so a checker can tell that no record of a
// transaction is missing.
type Pagination struct {
	// Context is "T" (transaction) or "F" (fiscal metering).
	Context string
	// Number is the counter, without leading zeros on the wire.
	Number uint64
}

// String formats the pagination as it is written in a record, e.g. "T12345".
func (p Pagination) String() string {
	if p.Context == "" {
		return ""
	}
	return p.Context + strconv.FormatUint(p.Number, 10)
}

// LossCompensation is the LC object. Resistance is kept as the exact
// decimal text the meter wrote, like every number this package reads.
type LossCompensation struct {
	// Name is LN, a text justifying the cable's characteristics.
	Name string
	// ID is LI, a number identifying the cable in the meter's documentation,
	// as written.
	ID string
	// Resistance is LR, the cable resistance, as written.
	Resistance string
	// Unit is LU, "mOhm" or "uOhm".
	Unit string
}

// Reading is one element of RD with inherited fields filled in. Value and
// CumulatedLoss are the JSON number literals exactly as written, never
// float64: the spec forbids changing a reading's representation, and its
// decimal places state the meter's accuracy.
type Reading struct {
	// Time is TM.
	Time Time
	// Reason is TX, why the reading was taken; empty outside transactions.
	Reason Reason
	// Value is RV as written, e.g. "2935.600"; empty for a reading that
	// only reports an event (an error) of the meter.
	Value string
	// ID is RI, the OBIS code of the quantity, e.g. "1-b:1.8.0".
	ID string
	// Unit is RU, e.g. "kWh" or "Wh".
	Unit string
	// CurrentType is RT, "AC" or "DC".
	CurrentType string
	// CumulatedLoss is CL as written: the cable loss since the transaction's
	// begin, in Unit. It is not inherited, being a per-reading value.
	CumulatedLoss string
	// ErrorFlags is EF: "E" when energy, "t" when time is no longer usable
	// for billing.
	ErrorFlags string
	// Status is ST, the meter's state at the reading.
	Status Status
}

// EnergyUnusable reports whether the reading says its energy may not be
// billed: error flag E, or an exception (TX=X) whose flags do not restrict
// it to time, since an X without flags leaves open which quantity failed.
func (r Reading) EnergyUnusable() bool {
	if strings.Contains(r.ErrorFlags, "E") {
		return true
	}
	return r.Reason == ReasonException && !strings.Contains(r.ErrorFlags, "t")
}

// Reason is the TX field of a reading.
type Reason string

// The reasons of table 7. ReasonEnd and the four more precise end reasons
// after it all end a transaction.
const (
	// ReasonBegin marks the reading at the transaction's begin.
	ReasonBegin Reason = "B"
	// ReasonCharging marks a reading during charging.
	ReasonCharging Reason = "C"
	// ReasonException marks an error during charging: from this reading on,
	// time or energy (EF says which) may no longer be billed.
	ReasonException Reason = "X"
	// ReasonEnd marks the reading at the transaction's end.
	ReasonEnd Reason = "E"
	// ReasonLocalStop is an end: charging was stopped at the charger.
	ReasonLocalStop Reason = "L"
	// ReasonRemoteStop is an end: charging was stopped remotely.
	ReasonRemoteStop Reason = "R"
	// ReasonAbort is an end: charging was aborted by an error.
	ReasonAbort Reason = "A"
	// ReasonPowerFailure is an end: charging was ended by a power failure.
	ReasonPowerFailure Reason = "P"
	// ReasonSuspended marks a reading while the transaction is open but not
	// charging.
	ReasonSuspended Reason = "S"
	// ReasonTariffChange marks a reading taken because the tariff changed.
	ReasonTariffChange Reason = "T"
)

// Ends reports whether the reason ends a transaction. The spec allows L, R,
// A and P in place of E to say how it ended, so a check for the end reading
// that looked for E alone would miss them.
func (r Reason) Ends() bool {
	switch r {
	case ReasonEnd, ReasonLocalStop, ReasonRemoteStop, ReasonAbort, ReasonPowerFailure:
		return true
	}
	return false
}

// Status is the ST field of a reading: the meter's state (table 10).
type Status string

// The meter states of table 10. Only StatusOK says the meter worked.
const (
	// StatusNotPresent means the meter is not present or was not found.
	StatusNotPresent Status = "N"
	// StatusOK means the meter works correctly ("good").
	StatusOK Status = "G"
	// StatusTimeout means the meter did not answer in time.
	StatusTimeout Status = "T"
	// StatusDisconnected means the meter was disconnected from the signing
	// component.
	StatusDisconnected Status = "D"
	// StatusNotFound means a meter found before is no longer found.
	StatusNotFound Status = "R"
	// StatusManipulated means manipulation was detected.
	StatusManipulated Status = "M"
	// StatusExchanged means the meter's serial number is not the last known.
	StatusExchanged Status = "X"
	// StatusIncompatible means the meter's version or interface does not
	// suit the signing component.
	StatusIncompatible Status = "I"
	// StatusOutOfRange means the value read is outside its range.
	StatusOutOfRange Status = "O"
	// StatusSubstitute means a substitute value was formed.
	StatusSubstitute Status = "S"
	// StatusOtherError means some other error.
	StatusOtherError Status = "E"
	// StatusReadError means the register was not read correctly.
	StatusReadError Status = "F"
)

// Signature is the decoded signature section. Algorithm, Encoding and
// MimeType are as written, empty when left out; the Effective methods give
// the spec's defaults, so that a caller can still tell a default from a
// value the meter stated.
type Signature struct {
	// Algorithm is SA, e.g. "ECDSA-secp256r1-SHA256".
	Algorithm string
	// Encoding is SE, "hex" or "base64".
	Encoding string
	// MimeType is SM, "application/x-der".
	MimeType string
	// Data is SD, the encoded signature.
	Data string
}

// The signature algorithms this package verifies, and the defaults the
// spec gives for a signature section that leaves SA, SE or SM out.
const (
	// AlgorithmP256 is ECDSA on NIST P-256 over SHA-256.
	AlgorithmP256 = "ECDSA-secp256r1-SHA256"
	// AlgorithmP384 is ECDSA on NIST P-384 over SHA-256: the spec pairs the
	// larger curve with SHA-256, not SHA-384 (table 22).
	AlgorithmP384 = "ECDSA-secp384r1-SHA256"
	// DefaultAlgorithm is the algorithm of a record without SA, since OCMF
	// 0.4.
	DefaultAlgorithm = AlgorithmP256
	// DefaultEncoding is the encoding of a record without SE.
	DefaultEncoding = "hex"
	// DefaultMimeType is the signature format of a record without SM, and
	// the only one OCMF defines.
	DefaultMimeType = "application/x-der"
)

const (
	encodingBase64      = "base64"
	maxQuotedHeaderSize = 16
)

// EffectiveAlgorithm returns SA, or the default since OCMF 0.4 when SA is
// left out.
func (s Signature) EffectiveAlgorithm() string {
	if s.Algorithm == "" {
		return DefaultAlgorithm
	}
	return s.Algorithm
}

// EffectiveEncoding returns SE, or "hex" when SE is left out.
func (s Signature) EffectiveEncoding() string {
	if s.Encoding == "" {
		return DefaultEncoding
	}
	return s.Encoding
}

// EffectiveMimeType returns SM, or "application/x-der" when SM is left out.
func (s Signature) EffectiveMimeType() string {
	if s.MimeType == "" {
		return DefaultMimeType
	}
	return s.MimeType
}

// ErrUnsupportedVersion is wrapped by the error Parse returns for a format
// version (FV) whose major version this package does not read, so that a
// caller can tell "newer than we know" from "broken".
var ErrUnsupportedVersion = errors.New("unsupported format version")

// ParseError is the error Parse returns. It says where: the section and,
// inside it, the JSON path, so that a record refused from a charger can be
// fixed without guessing.
type ParseError struct {
	// Section is "header", "payload" or "signature"; empty when the record's
	// structure (its pipes) is at fault.
	Section string
	// Path is the JSON path inside the section, e.g. "RD[2].TM"; empty when
	// the whole section is at fault.
	Path string
	// Err says what is wrong.
	Err error
}

// Error formats the error as "ocmf: payload: RD[2].TM: …".
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("ocmf: ")
	if e.Section != "" {
		b.WriteString(e.Section)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error, so errors.Is finds
// ErrUnsupportedVersion.
func (e *ParseError) Unwrap() error { return e.Err }

// Parse splits an OCMF record into its sections and decodes them. The
// payload's bytes are kept verbatim in Record.PayloadBytes for Verify.
//
// Parse is strict where billing depends on the meaning (the record's
// structure, duplicate or mis-typed keys, times, transaction reasons, meter
// states, error flags, pagination, format version) and lenient on
// descriptive fields whose tables the spec calls open ("predefined" units,
// current types, identification types). White space before the header is
// skipped. It never panics; every error is a *ParseError.
func Parse(record []byte) (Record, error) {
	raw := bytes.Clone(record)
	start := 0
	for start < len(raw) && isSpace(raw[start]) {
		start++
	}
	p1 := bytes.IndexByte(raw[start:], '|')
	if p1 < 0 {
		return Record{}, &ParseError{Err: errors.New("record has no pipe: want OCMF|{payload}|{signature}")}
	}
	header := raw[start : start+p1]
	if string(header) != "OCMF" {
		return Record{}, &ParseError{Section: "header", Err: fmt.Errorf("%s, want \"OCMF\"", quoteShort(header))}
	}
	restAt := start + p1 + 1
	rest := raw[restAt:]
	p2 := bytes.IndexByte(rest, '|')
	if p2 < 0 {
		return Record{}, &ParseError{Err: errors.New("record has no second pipe: want OCMF|{payload}|{signature}")}
	}
	payload := rest[:p2:p2]
	sig := rest[p2+1:]
	if p3 := bytes.IndexByte(sig, '|'); p3 >= 0 {
		return Record{}, &ParseError{Err: fmt.Errorf("record has a third pipe at byte %d: '|' may not appear inside a section", restAt+p2+1+p3)}
	}
	r := Record{Raw: raw, PayloadBytes: payload, SignatureBytes: sig}
	var err error
	if r.Payload, err = parsePayload(payload); err != nil {
		return Record{}, err
	}
	if r.Signature, err = parseSignature(sig); err != nil {
		return Record{}, err
	}
	return r, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func quoteShort(b []byte) string {
	if len(b) > maxQuotedHeaderSize {
		return strconv.Quote(string(b[:maxQuotedHeaderSize])) + "…"
	}
	return strconv.Quote(string(b))
}

// decodeObject reads a JSON object into its members. It walks tokens
// rather than unmarshalling into a struct because encoding/json matches
// keys case-insensitively and lets a duplicate key silently win: a payload
// with "RV" twice, or "rv" beside "RV", would show one value here and
// another in the transparency software, over the same valid signature.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	m, err := walkObject(b)
	var je jsonErr
	if errors.As(err, &je) {
		// The token reader's offsets are those of its buffer, not of the
		// bad byte; a whole-input check finds the byte.
		var v json.RawMessage
		if uerr := json.Unmarshal(b, &v); uerr != nil {
			return nil, jsonError(uerr)
		}
		return nil, jsonError(je.err)
	}
	return m, err
}

// jsonErr marks an error of the JSON reader, as against one about the
// content, so that only the former is reported as invalid JSON.
type jsonErr struct{ err error }

func (e jsonErr) Error() string { return e.err.Error() }

func walkObject(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErr{err}
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("want a JSON object, got %s", tokenKind(tok))
	}
	m := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonErr{err}
		}
		key, ok := tok.(string)
		if !ok { // unreachable: the decoder only yields strings as keys
			return nil, fmt.Errorf("object key is not a string")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, jsonErr{err}
		}
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		m[key] = bytes.TrimSpace(v)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, jsonErr{err}
	}
	end := int(dec.InputOffset())
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, jsonErr{err}
		}
		for end < len(b) && isSpace(b[end]) {
			end++
		}
		return nil, fmt.Errorf("%s after the object's end at byte %d", tokenKind(tok), end)
	}
	return m, nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se) && se.Error() == "unexpected end of JSON input":
		return errors.New("invalid JSON: it ends early")
	case errors.As(err, &se):
		// Offset counts the bytes read, the bad one included.
		return fmt.Errorf("invalid JSON at byte %d: %s", max(se.Offset-1, 0), strings.TrimPrefix(se.Error(), "json: "))
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: it ends early")
	}
	return fmt.Errorf("invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func tokenKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return fmt.Sprintf("%q", string(t))
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "something else"
}

func rawKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// fields reads typed values out of a decoded object, keeping the first
// error with its path, so the decoding code reads as a list of fields.
type fields struct {
	section string
	prefix  string
	m       map[string]json.RawMessage
	err     error
}

func (f *fields) path(key string) string {
	if f.prefix == "" {
		return key
	}
	return f.prefix + "." + key
}

func (f *fields) fail(key string, err error) {
	if f.err == nil {
		f.err = &ParseError{Section: f.section, Path: f.path(key), Err: err}
	}
}

func (f *fields) failf(key, format string, args ...any) {
	f.fail(key, fmt.Errorf(format, args...))
}

// str reads a string field and reports whether it was present.
func (f *fields) str(key string, dst *string) bool {
	raw, ok := f.m[key]
	if !ok || f.err != nil {
		return false
	}
	if rawKind(raw) != "a string" {
		f.failf(key, "want a string, got %s", rawKind(raw))
		return false
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		f.fail(key, jsonError(err))
		return false
	}
	return true
}

// num reads a number field as its literal text and reports whether it was
// present. A number sent as a string is refused: the spec says Number, and
// accepting both would let two encodings of one value verify differently.
func (f *fields) num(key string, dst *string) bool {
	raw, ok := f.m[key]
	if !ok || f.err != nil {
		return false
	}
	if rawKind(raw) != "a number" {
		f.failf(key, "want a JSON number, got %s", rawKind(raw))
		return false
	}
	*dst = string(raw)
	return true
}

func (f *fields) boolean(key string, dst **bool) {
	raw, ok := f.m[key]
	if !ok || f.err != nil {
		return
	}
	if rawKind(raw) != "a boolean" {
		f.failf(key, "want true or false, got %s", rawKind(raw))
		return
	}
	v := raw[0] == 't'
	*dst = &v
}

func (f *fields) strings(key string, dst *[]string) {
	raw, ok := f.m[key]
	if !ok || f.err != nil {
		return
	}
	if rawKind(raw) != "an array" {
		f.failf(key, "want an array of strings, got %s", rawKind(raw))
		return
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		f.fail(key, jsonError(err))
		return
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		if rawKind(item) != "a string" {
			f.failf(fmt.Sprintf("%s[%d]", key, i), "want a string, got %s", rawKind(item))
			return
		}
		var s string
		if err := json.Unmarshal(item, &s); err != nil {
			f.fail(fmt.Sprintf("%s[%d]", key, i), jsonError(err))
			return
		}
		out = append(out, s)
	}
	*dst = out
}

func parsePayload(b []byte) (Payload, error) {
	m, err := decodeObject(b)
	if err != nil {
		return Payload{}, &ParseError{Section: "payload", Err: err}
	}
	f := &fields{section: "payload", m: m}
	var p Payload
	// FV first: a payload of an unknown major version is refused as such,
	// not for whatever field of it happens to look wrong to us.
	if f.str("FV", &p.FormatVersion) {
		if err := checkVersion(p.FormatVersion); err != nil {
			f.fail("FV", err)
		}
	}
	f.str("GI", &p.GatewayID)
	f.str("GS", &p.GatewaySerial)
	f.str("GV", &p.GatewayVersion)
	var pg string
	if f.str("PG", &pg) {
		var err error
		if p.Pagination, err = parsePagination(pg); err != nil {
			f.fail("PG", err)
		}
	} else {
		f.failf("PG", "missing: every record has its pagination")
	}
	f.str("MV", &p.MeterVendor)
	f.str("MM", &p.MeterModel)
	f.str("MS", &p.MeterSerial)
	f.str("MF", &p.MeterFirmware)
	if f.err == nil && p.MeterSerial == "" && p.GatewaySerial == "" {
		f.err = &ParseError{Section: "payload", Err: errors.New("neither MS (meter serial) nor GS (gateway serial) is given: one is needed to tie the record to a public key")}
	}
	f.boolean("IS", &p.IdentificationStatus)
	f.str("IL", &p.IdentificationLevel)
	f.strings("IF", &p.IdentificationFlags)
	f.str("IT", &p.IdentificationType)
	f.str("ID", &p.IdentificationData)
	f.str("TT", &p.TariffText)
	f.str("CF", &p.ChargeControllerFirmware)
	if raw, ok := m["LC"]; ok && f.err == nil {
		lc, err := parseLossCompensation(raw)
		if err != nil {
			f.err = err
		}
		p.LossCompensation = lc
	}
	f.str("CT", &p.ChargePointIDType)
	f.str("CI", &p.ChargePointID)
	if f.err != nil {
		return Payload{}, f.err
	}
	raw, ok := m["RD"]
	if !ok {
		return Payload{}, &ParseError{Section: "payload", Path: "RD", Err: errors.New("missing: a record has one or more readings")}
	}
	if p.Readings, err = parseReadings(raw); err != nil {
		return Payload{}, err
	}
	return p, nil
}

func checkVersion(v string) error {
	major, minor, ok := strings.Cut(v, ".")
	if !ok || !allDigits(major) || !allDigits(minor) {
		return fmt.Errorf("%q is not <major>.<minor>", v)
	}
	if strings.TrimLeft(major, "0") != "" && strings.TrimLeft(major, "0") != "1" {
		return fmt.Errorf("%w %q: this package reads 0.x and 1.x", ErrUnsupportedVersion, v)
	}
	return nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parsePagination(s string) (Pagination, error) {
	bad := fmt.Errorf("%q is not T<number> or F<number> (no leading zeros)", s)
	if len(s) < 2 || (s[0] != 'T' && s[0] != 'F') {
		return Pagination{}, bad
	}
	digits := s[1:]
	if !allDigits(digits) || (len(digits) > 1 && digits[0] == '0') {
		return Pagination{}, bad
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return Pagination{}, fmt.Errorf("%q: counter out of range", s)
	}
	return Pagination{Context: s[:1], Number: n}, nil
}

func parseLossCompensation(raw json.RawMessage) (*LossCompensation, error) {
	if rawKind(raw) != "an object" {
		return nil, &ParseError{Section: "payload", Path: "LC", Err: fmt.Errorf("want an object, got %s", rawKind(raw))}
	}
	m, err := decodeObject(raw)
	if err != nil {
		return nil, &ParseError{Section: "payload", Path: "LC", Err: err}
	}
	f := &fields{section: "payload", prefix: "LC", m: m}
	var lc LossCompensation
	f.str("LN", &lc.Name)
	f.num("LI", &lc.ID)
	if !f.num("LR", &lc.Resistance) {
		f.failf("LR", "missing: the cable resistance is required")
	}
	if !f.str("LU", &lc.Unit) {
		f.failf("LU", "missing: the resistance's unit is required")
	} else if lc.Unit != "mOhm" && lc.Unit != "uOhm" {
		f.failf("LU", "%q, want \"mOhm\" or \"uOhm\"", lc.Unit)
	}
	if f.err != nil {
		return nil, f.err
	}
	return &lc, nil
}

func parseReadings(raw json.RawMessage) ([]Reading, error) {
	if rawKind(raw) != "an array" {
		return nil, &ParseError{Section: "payload", Path: "RD", Err: fmt.Errorf("want an array of readings, got %s", rawKind(raw))}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, &ParseError{Section: "payload", Path: "RD", Err: jsonError(err)}
	}
	if len(items) == 0 {
		return nil, &ParseError{Section: "payload", Path: "RD", Err: errors.New("no readings: a record has one or more")}
	}
	out := make([]Reading, 0, len(items))
	var prev Reading
	for i, item := range items {
		r, err := parseReading(i, item, prev)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		prev = r
	}
	return out, nil
}

// parseReading decodes RD[i]. A field it leaves out takes prev's value, as
// the spec says ("fields that have an identical value to the previous
// reading are omitted"), except RV and CL: a reading without RV is the
// spec's event-only reading, and CL is a value of its own reading.
func parseReading(i int, raw json.RawMessage, prev Reading) (Reading, error) {
	prefix := fmt.Sprintf("RD[%d]", i)
	if rawKind(raw) != "an object" {
		return Reading{}, &ParseError{Section: "payload", Path: prefix, Err: fmt.Errorf("want an object, got %s", rawKind(raw))}
	}
	m, err := decodeObject(raw)
	if err != nil {
		return Reading{}, &ParseError{Section: "payload", Path: prefix, Err: err}
	}
	f := &fields{section: "payload", prefix: prefix, m: m}
	r := Reading{
		Time: prev.Time, Reason: prev.Reason, ID: prev.ID, Unit: prev.Unit,
		CurrentType: prev.CurrentType, ErrorFlags: prev.ErrorFlags, Status: prev.Status,
	}
	var s string
	if f.str("TM", &s) {
		t, err := ParseTime(s)
		if err != nil {
			f.fail("TM", err)
		}
		r.Time = t
	} else if i == 0 {
		f.failf("TM", "missing: every reading has its time")
	}
	if f.str("TX", &s) {
		r.Reason = Reason(s)
		if !validReason(r.Reason) {
			f.failf("TX", "%q is not one of B, C, X, E, L, R, A, P, S, T", s)
		}
	}
	f.num("RV", &r.Value)
	f.str("RI", &r.ID)
	f.str("RU", &r.Unit)
	f.str("RT", &r.CurrentType)
	f.num("CL", &r.CumulatedLoss)
	if f.str("EF", &s) {
		r.ErrorFlags = s
		for j := 0; j < len(s); j++ {
			if s[j] != 'E' && s[j] != 't' {
				f.failf("EF", "%q: only E (energy) and t (time) are defined", s)
				break
			}
		}
	}
	if f.str("ST", &s) {
		r.Status = Status(s)
		if !validStatus(r.Status) {
			f.failf("ST", "%q is not one of N, G, T, D, R, M, X, I, O, S, E, F", s)
		}
	}
	if f.err != nil {
		return Reading{}, f.err
	}
	if r.Status == "" {
		return Reading{}, &ParseError{Section: "payload", Path: prefix + ".ST", Err: errors.New("missing: every reading has the meter's state")}
	}
	if r.Value != "" && r.Unit == "" {
		return Reading{}, &ParseError{Section: "payload", Path: prefix + ".RU", Err: errors.New("missing: a reading value needs its unit, and no earlier reading gave one")}
	}
	return r, nil
}

func validReason(r Reason) bool {
	return len(r) == 1 && strings.Contains("BCXELRAPST", string(r))
}

func validStatus(s Status) bool {
	return len(s) == 1 && strings.Contains("NGTDRMXIOSEF", string(s))
}

func parseSignature(b []byte) (Signature, error) {
	m, err := decodeObject(b)
	if err != nil {
		return Signature{}, &ParseError{Section: "signature", Err: err}
	}
	f := &fields{section: "signature", m: m}
	var s Signature
	f.str("SA", &s.Algorithm)
	f.str("SE", &s.Encoding)
	f.str("SM", &s.MimeType)
	if !f.str("SD", &s.Data) || s.Data == "" {
		f.failf("SD", "missing: a record carries its signature data")
	}
	if f.err != nil {
		return Signature{}, f.err
	}
	return s, nil
}
