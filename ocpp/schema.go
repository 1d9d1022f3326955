package ocpp

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"math/bits"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// The OCPP 1.6 JSON schemas (draft-07, one array holding a schema per
// message, "$id": "urn:<Action>.req" or ".conf"), copied from
// shared/spec/ocpp-json-schemas with their MIT licence, which must travel
// with them.
//
//go:embed schemas/ocpp1_6.json schemas/LICENSE.md
var schemaFiles embed.FS

// SchemaLicense returns the licence of the embedded OCPP 1.6 JSON schemas
// (MIT, Gareth Hughes), for a binary's notices.
func SchemaLicense() string {
	b, _ := schemaFiles.ReadFile("schemas/LICENSE.md")
	return string(b)
}

// Why a validator of our own: the schemas use only a dozen draft-07
// keywords (type, properties, required, additionalProperties: false, enum,
// maxLength, format date-time and uri, items, minItems, multipleOf 0.1,
// $ref into definitions), and validation runs on every message. A general
// validator (santhosh-tekuri/jsonschema) first needs the payload decoded
// into map[string]any, which alone costs more than this whole walk; this
// one walks the payload bytes once against a compiled tree and allocates
// nothing for a valid payload. compile refuses any keyword it does not
// implement, so a new schema file cannot silently weaken validation.

// jtype is a JSON Schema type.
type jtype uint8

const (
	tObject jtype = iota + 1
	tArray
	tString
	tInteger
	tNumber
	tBoolean
)

var typeNames = map[string]jtype{
	"object": tObject, "array": tArray, "string": tString,
	"integer": tInteger, "number": tNumber, "boolean": tBoolean,
}

func (t jtype) String() string {
	for k, v := range typeNames {
		if v == t {
			return k
		}
	}
	return "?"
}

// String formats.
const (
	fmtNone = iota
	fmtDateTime
	fmtURI
)

// node is one compiled schema.
type node struct {
	typ jtype
	// object
	props    []prop
	required uint64 // bit i: props[i] is required
	// array
	items    *node
	minItems int
	// string
	maxLen int // 0: no limit
	enum   []string
	format int
	// number: multipleOf 10^multExp when hasMult
	hasMult bool
	multExp int
}

type prop struct {
	name string
	node *node
}

// schemaSet holds the compiled schemas by action.
type schemaSet struct {
	req, conf map[string]*node
}

var schemas = sync.OnceValue(func() *schemaSet {
	b, err := schemaFiles.ReadFile("schemas/ocpp1_6.json")
	if err != nil {
		panic(err)
	}
	set, err := compileSchemas(b)
	if err != nil {
		// The file is embedded: this is a build defect, found by the tests.
		panic("ocpp: embedded schemas: " + err.Error())
	}
	return set
})

// actionNames interns the action names of the schemas, so that parsing a
// CALL does not allocate its action.
var actionNames = func() map[string]string {
	m := make(map[string]string)
	for _, a := range Actions() {
		m[a] = a
	}
	return m
}()

// Actions returns every action OCPP 1.6 defines (those of the embedded
// schemas, security extension included), sorted.
func Actions() []string {
	set := schemas()
	out := make([]string, 0, len(set.req))
	for a := range set.req {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// KnownAction reports whether OCPP 1.6 defines action.
func KnownAction(action string) bool {
	_, ok := schemas().req[action]
	return ok
}

func compileSchemas(data []byte) (*schemaSet, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var docs []map[string]any
	if err := dec.Decode(&docs); err != nil {
		return nil, err
	}
	set := &schemaSet{req: map[string]*node{}, conf: map[string]*node{}}
	for _, doc := range docs {
		id, _ := doc["$id"].(string)
		name, ok := strings.CutPrefix(id, "urn:")
		if !ok {
			return nil, fmt.Errorf("schema $id %q is not urn:<Action>.req/.conf", id)
		}
		c := compiler{root: doc, defs: map[string]*node{}}
		n, err := c.compile(doc, id)
		if err != nil {
			return nil, err
		}
		switch {
		case strings.HasSuffix(name, ".req"):
			set.req[strings.TrimSuffix(name, ".req")] = n
		case strings.HasSuffix(name, ".conf"):
			set.conf[strings.TrimSuffix(name, ".conf")] = n
		default:
			return nil, fmt.Errorf("schema $id %q is not urn:<Action>.req/.conf", id)
		}
	}
	for a := range set.req {
		if set.conf[a] == nil {
			return nil, fmt.Errorf("action %s has a .req schema but no .conf", a)
		}
	}
	return set, nil
}

type compiler struct {
	root map[string]any
	defs map[string]*node
}

func (c *compiler) compile(s map[string]any, at string) (*node, error) {
	if ref, ok := s["$ref"].(string); ok {
		for k := range s {
			if k != "$ref" && k != "description" && k != "comment" {
				return nil, fmt.Errorf("%s: keyword %q next to $ref", at, k)
			}
		}
		return c.ref(ref, at)
	}
	n := &node{}
	t, _ := s["type"].(string)
	if n.typ = typeNames[t]; n.typ == 0 {
		return nil, fmt.Errorf("%s: type %v not supported", at, s["type"])
	}
	for k, v := range s {
		switch k {
		case "$id", "$schema", "type", "description", "comment", "javaType", "title", "definitions":
			// Annotations; definitions are compiled when referenced.
		case "properties":
			props, ok := v.(map[string]any)
			if !ok || n.typ != tObject {
				return nil, fmt.Errorf("%s: properties", at)
			}
			if len(props) > 64 {
				return nil, fmt.Errorf("%s: more than 64 properties", at)
			}
			names := make([]string, 0, len(props))
			for name := range props {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				ps, ok := props[name].(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s.%s: not a schema", at, name)
				}
				pn, err := c.compile(ps, at+"."+name)
				if err != nil {
					return nil, err
				}
				n.props = append(n.props, prop{name: name, node: pn})
			}
		case "required", "additionalProperties":
			// After properties, below.
		case "items":
			is, ok := v.(map[string]any)
			if !ok || n.typ != tArray {
				return nil, fmt.Errorf("%s: items", at)
			}
			in, err := c.compile(is, at+"[]")
			if err != nil {
				return nil, err
			}
			n.items = in
		case "minItems":
			m, err := intOf(v)
			if err != nil || n.typ != tArray {
				return nil, fmt.Errorf("%s: minItems %v", at, v)
			}
			n.minItems = m
		case "maxLength":
			m, err := intOf(v)
			if err != nil || m <= 0 || n.typ != tString {
				return nil, fmt.Errorf("%s: maxLength %v", at, v)
			}
			n.maxLen = m
		case "enum":
			vals, ok := v.([]any)
			if !ok || n.typ != tString {
				return nil, fmt.Errorf("%s: enum", at)
			}
			for _, e := range vals {
				es, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%s: enum value %v is not a string", at, e)
				}
				n.enum = append(n.enum, es)
			}
		case "format":
			switch v {
			case "date-time":
				n.format = fmtDateTime
			case "uri":
				n.format = fmtURI
			default:
				return nil, fmt.Errorf("%s: format %v not supported", at, v)
			}
		case "multipleOf":
			num, ok := v.(json.Number)
			e, isPow := powerOfTen(string(num))
			if !ok || !isPow || n.typ != tNumber {
				return nil, fmt.Errorf("%s: multipleOf %v not supported (only powers of ten)", at, v)
			}
			n.hasMult, n.multExp = true, e
		default:
			return nil, fmt.Errorf("%s: keyword %q not supported", at, k)
		}
	}
	if n.typ == tObject {
		if ap, ok := s["additionalProperties"]; !ok || ap != false {
			return nil, fmt.Errorf("%s: only additionalProperties: false is supported", at)
		}
		if req, ok := s["required"]; ok {
			list, ok := req.([]any)
			if !ok {
				return nil, fmt.Errorf("%s: required", at)
			}
			for _, r := range list {
				i := propIndex(n.props, r)
				if i < 0 {
					return nil, fmt.Errorf("%s: required %v is not a property", at, r)
				}
				n.required |= 1 << i
			}
		}
	} else if _, ok := s["required"]; ok {
		return nil, fmt.Errorf("%s: required on a %s", at, n.typ)
	}
	if n.typ == tArray && n.items == nil {
		return nil, fmt.Errorf("%s: array without items", at)
	}
	return n, nil
}

func (c *compiler) ref(ref, at string) (*node, error) {
	name, ok := strings.CutPrefix(ref, "#/definitions/")
	if !ok {
		return nil, fmt.Errorf("%s: $ref %q not supported", at, ref)
	}
	if n := c.defs[name]; n != nil {
		return n, nil
	}
	defs, _ := c.root["definitions"].(map[string]any)
	ds, ok := defs[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: $ref %q not found", at, ref)
	}
	// The definitions of these schemas do not refer to themselves; a
	// cycle would recurse here and is refused by the depth of the Go stack
	// only, so check for it.
	c.defs[name] = nil
	if len(c.defs) > 64 {
		return nil, fmt.Errorf("%s: too many definitions", at)
	}
	n, err := c.compile(ds, "#/definitions/"+name)
	if err != nil {
		return nil, err
	}
	c.defs[name] = n
	return n, nil
}

func propIndex(props []prop, name any) int {
	for i, p := range props {
		if p.name == name {
			return i
		}
	}
	return -1
}

func intOf(v any) (int, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("not a number")
	}
	return strconv.Atoi(string(num))
}

// powerOfTen reports whether s is 10^e (0.1, 1, 10, 1e-2, …).
func powerOfTen(s string) (int, bool) {
	m, e, ok := decimalParts([]byte(s))
	if !ok || len(m) != 1 || m[0] != '1' {
		return 0, false
	}
	return e, true
}

// decimalParts splits a JSON number literal into its significant digits
// (no leading or trailing zeros; "" for zero) and the exponent e such that
// the absolute value is digits × 10^e. An exponent too large to matter is
// clamped.
func decimalParts(lit []byte) (digits []byte, exp int, ok bool) {
	s := scanner{b: lit}
	if _, _, err := s.number(); err != nil || s.i != len(lit) {
		return nil, 0, false
	}
	if lit[0] == '-' {
		lit = lit[1:]
	}
	mant := lit
	if i := bytes.IndexAny(lit, "eE"); i >= 0 {
		mant = lit[:i]
		e := lit[i+1:]
		neg := false
		if e[0] == '+' || e[0] == '-' {
			neg = e[0] == '-'
			e = e[1:]
		}
		for _, c := range e {
			if exp < 1<<30 {
				exp = exp*10 + int(c-'0')
			}
		}
		if neg {
			exp = -exp
		}
	}
	intPart, frac, _ := bytes.Cut(mant, []byte{'.'})
	exp -= len(frac)
	// digits = intPart+frac with leading zeros and trailing zeros removed.
	all := make([]byte, 0, len(intPart)+len(frac))
	all = append(append(all, intPart...), frac...)
	all = bytes.TrimLeft(all, "0")
	for len(all) > 0 && all[len(all)-1] == '0' {
		all = all[:len(all)-1]
		exp++
	}
	return all, exp, true
}

// ValidateRequest checks the payload of a CALL of action against the
// OCPP 1.6 schema urn:<action>.req. It returns nil if the payload is
// valid, NotImplemented if OCPP 1.6 has no such action, and otherwise a
// *CallError whose description names the JSON path of the first violation
// found, in document order. The codes, following OCPP-J 1.6 §4.2.3:
//
//   - TypeConstraintViolation: a value of the wrong JSON type, including a
//     number with a fraction or exponent where an integer is wanted;
//   - OccurenceConstraintViolation: a required property missing, or an
//     array shorter than minItems;
//   - PropertyConstraintViolation: a string too long, not one of the
//     enum's values, or not of its format (an RFC 3339 date-time); a
//     number not a multiple of multipleOf; an integer beyond 64 bits;
//   - FormationViolation: a property the schema does not define (every
//     OCPP 1.6 schema says additionalProperties: false, so such a payload
//     is "not conform the PDU structure"), a property given twice, or
//     bytes that are not JSON.
//
// A valid payload decodes with encoding/json into this package's types
// without error.
func ValidateRequest(action string, payload []byte) *CallError {
	n := schemas().req[action]
	if n == nil {
		return &CallError{Code: NotImplemented, Description: "unknown action " + strconv.Quote(action)}
	}
	return validate(n, payload)
}

// ValidateConfirmation checks the payload of a CALLRESULT answering a CALL
// of action against urn:<action>.conf; see ValidateRequest.
func ValidateConfirmation(action string, payload []byte) *CallError {
	n := schemas().conf[action]
	if n == nil {
		return &CallError{Code: NotImplemented, Description: "unknown action " + strconv.Quote(action)}
	}
	return validate(n, payload)
}

func validate(n *node, payload []byte) *CallError {
	var v validation
	v.s = scanner{b: payload}
	if err := v.value(n); err != nil {
		return err
	}
	if v.s.peek() != 0 {
		return &CallError{Code: FormationViolation, Description: "data after the payload"}
	}
	return nil
}

// pathElem is one step of the JSON path to the value being validated: a
// property name, or an array index when name is "".
type pathElem struct {
	name string
	idx  int
}

// validation is the state of one walk. It lives on the caller's stack.
type validation struct {
	s     scanner
	depth int
	path  [maxDepth + 1]pathElem
	buf   [128]byte // unescaped strings and keys, when they fit
}

// at formats the current path, plus extra (a property name) if not "".
func (v *validation) at(extra string) string {
	var b strings.Builder
	for _, e := range v.path[:v.depth] {
		if e.name == "" {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.idx))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.name)
	}
	if extra != "" {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(extra)
	}
	if b.Len() == 0 {
		return "payload"
	}
	return b.String()
}

func (v *validation) errorf(code ErrorCode, extra, format string, args ...any) *CallError {
	return &CallError{Code: code, Description: v.at(extra) + ": " + fmt.Sprintf(format, args...)}
}

// typeError reports a value of the wrong type, unless it is not even JSON.
func (v *validation) typeError(want jtype) *CallError {
	c := v.s.peek()
	if err := v.s.skip(v.depth); err != nil {
		return formation(err)
	}
	return v.errorf(TypeConstraintViolation, "", "expected %s, got %s", want, kindName(c))
}

func (v *validation) push(name string, idx int) *CallError {
	if v.depth >= maxDepth {
		return formation(v.s.fail("nested too deeply"))
	}
	v.path[v.depth] = pathElem{name: name, idx: idx}
	v.depth++
	return nil
}

func (v *validation) value(n *node) *CallError {
	c := v.s.peek()
	switch n.typ {
	case tObject:
		if c != '{' {
			return v.typeError(tObject)
		}
		return v.object(n)
	case tArray:
		if c != '[' {
			return v.typeError(tArray)
		}
		return v.array(n)
	case tString:
		if c != '"' {
			return v.typeError(tString)
		}
		return v.string(n)
	case tInteger, tNumber:
		if c != '-' && !isDigit(c) {
			return v.typeError(n.typ)
		}
		lit, fracOrExp, err := v.s.number()
		if err != nil {
			return formation(err)
		}
		if n.typ == tInteger {
			if fracOrExp {
				return v.errorf(TypeConstraintViolation, "", "expected integer, got %s", lit)
			}
			if !fitsInt64(lit) {
				return v.errorf(PropertyConstraintViolation, "", "integer %s out of range", lit)
			}
			return nil
		}
		if n.hasMult {
			digits, e, _ := decimalParts(lit)
			if len(digits) > 0 && e < n.multExp {
				return v.errorf(PropertyConstraintViolation, "", "%s is not a multiple of 1e%d", lit, n.multExp)
			}
		}
		return nil
	case tBoolean:
		switch c {
		case 't':
			if err := v.s.literal("true"); err != nil {
				return formation(err)
			}
		case 'f':
			if err := v.s.literal("false"); err != nil {
				return formation(err)
			}
		default:
			return v.typeError(tBoolean)
		}
		return nil
	}
	return &CallError{Code: InternalError, Description: "schema node without type"}
}

func (v *validation) object(n *node) *CallError {
	v.s.i++ // '{'
	var seen uint64
	if v.s.peek() == '}' {
		v.s.i++
	} else {
		for {
			v.s.ws()
			raw, esc, err := v.s.str()
			if err != nil {
				return formation(err)
			}
			key := raw
			if esc {
				key = unescape(v.buf[:0], raw)
			}
			i := -1
			for j := range n.props {
				if n.props[j].name == string(key) {
					i = j
					break
				}
			}
			if i < 0 {
				return v.errorf(FormationViolation, string(key), "property not allowed")
			}
			if seen&(1<<i) != 0 {
				return v.errorf(FormationViolation, n.props[i].name, "property given twice")
			}
			seen |= 1 << i
			if err := v.s.expect(':'); err != nil {
				return formation(err)
			}
			if err := v.push(n.props[i].name, 0); err != nil {
				return err
			}
			if err := v.value(n.props[i].node); err != nil {
				return err
			}
			v.depth--
			switch v.s.peek() {
			case ',':
				v.s.i++
				continue
			case '}':
				v.s.i++
			default:
				return formation(v.s.fail("expected ',' or '}'"))
			}
			break
		}
	}
	if missing := n.required &^ seen; missing != 0 {
		return v.errorf(OccurenceConstraintViolation, n.props[bits.TrailingZeros64(missing)].name, "required property missing")
	}
	return nil
}

func (v *validation) array(n *node) *CallError {
	v.s.i++ // '['
	count := 0
	if v.s.peek() == ']' {
		v.s.i++
	} else {
		for {
			if err := v.push("", count); err != nil {
				return err
			}
			if err := v.value(n.items); err != nil {
				return err
			}
			v.depth--
			count++
			switch v.s.peek() {
			case ',':
				v.s.i++
				continue
			case ']':
				v.s.i++
			default:
				return formation(v.s.fail("expected ',' or ']'"))
			}
			break
		}
	}
	if count < n.minItems {
		return v.errorf(OccurenceConstraintViolation, "", "%d items, at least %d required", count, n.minItems)
	}
	return nil
}

func (v *validation) string(n *node) *CallError {
	raw, esc, err := v.s.str()
	if err != nil {
		return formation(err)
	}
	if n.maxLen == 0 && n.enum == nil && n.format == fmtNone {
		return nil
	}
	content := raw
	if esc {
		content = unescape(v.buf[:0], raw)
	}
	if n.maxLen > 0 && len(content) > n.maxLen {
		if l := utf8.RuneCount(content); l > n.maxLen {
			return v.errorf(PropertyConstraintViolation, "", "%d characters, at most %d allowed", l, n.maxLen)
		}
	}
	if n.enum != nil {
		ok := false
		for _, e := range n.enum {
			if e == string(content) {
				ok = true
				break
			}
		}
		if !ok {
			return v.errorf(PropertyConstraintViolation, "", "%s is not one of %s", quoteShort(content), strings.Join(n.enum, ", "))
		}
	}
	switch n.format {
	case fmtDateTime:
		// An escape in a timestamp is legal JSON but pointless, and Go's
		// time.Time does not unescape before parsing: refuse it so that a
		// valid payload always decodes.
		if esc || !isDateTime(content) {
			return v.errorf(PropertyConstraintViolation, "", "%s is not an RFC 3339 date-time", quoteShort(content))
		}
	case fmtURI:
		if u, err := url.Parse(string(content)); err != nil || u.Scheme == "" {
			return v.errorf(PropertyConstraintViolation, "", "%s is not an absolute URI", quoteShort(content))
		}
	}
	return nil
}

// quoteShort quotes a value from a peer's message for an error
// description, cut so that the description stays readable.
func quoteShort(b []byte) string {
	const max = 40
	if utf8.RuneCount(b) <= max {
		return strconv.Quote(string(b))
	}
	r := []rune(string(b))
	return strconv.Quote(string(r[:max])) + "…"
}

// fitsInt64 reports whether an integer literal fits an int64, the Go type
// of every OCPP integer here.
func fitsInt64(lit []byte) bool {
	neg := lit[0] == '-'
	d := lit
	if neg {
		d = d[1:]
	}
	if len(d) < 19 {
		return true
	}
	if len(d) > 19 {
		return false
	}
	const maxPos, maxNeg = "9223372036854775807", "9223372036854775808"
	if neg {
		return string(d) <= maxNeg
	}
	return string(d) <= maxPos
}

// isDateTime reports whether b is an RFC 3339 date-time
// (YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)) that Go's time.Time also reads:
// upper-case T and Z, seconds up to 59 (Go has no leap seconds), a real
// calendar day, an offset below 24 hours. Keeping the two in step is what
// lets decoding a valid payload never fail.
func isDateTime(b []byte) bool {
	if len(b) < 20 {
		return false
	}
	num := func(s []byte) int {
		n := 0
		for _, c := range s {
			if !isDigit(c) {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(b[0:4]), num(b[5:7]), num(b[8:10])
	hour, minute, sec := num(b[11:13]), num(b[14:16]), num(b[17:19])
	if b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' ||
		year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return false
	}
	rest := b[19:]
	if rest[0] == '.' {
		i := 1
		for i < len(rest) && isDigit(rest[i]) {
			i++
		}
		if i == 1 {
			return false
		}
		rest = rest[i:]
	}
	switch {
	case len(rest) == 1 && rest[0] == 'Z':
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, om := num(rest[1:3]), num(rest[4:6])
		return oh >= 0 && oh <= 23 && om >= 0 && om <= 59
	}
	return false
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
