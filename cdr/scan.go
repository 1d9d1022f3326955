package cdr

import (
	"unicode/utf8"
	"unsafe"
)

// MaxDepth is the deepest nesting of objects and arrays Parse accepts,
// counting the CDR object itself. A CDR needs 5 levels (CDR,
// charging_periods, period, dimensions, dimension) and its free-form
// members a few more; the limit keeps hostile input from costing more than
// a 64-bit stack of open containers.
const MaxDepth = 64

// Character classes for the scanner's hot loops. A table lookup per byte is
// cheaper than a chain of comparisons and keeps the loops branch-light.
var (
	// plain marks bytes that may appear unescaped in a string and need no
	// further check: printable ASCII except '"' and '\\'.
	plain [256]bool
	// space marks JSON insignificant whitespace (RFC 8259 §2).
	space [256]bool
	// hexVal maps hexadecimal digits to their value plus one, 0 for others.
	hexVal [256]uint8
)

func init() {
	for c := 0x20; c < 0x80; c++ {
		plain[c] = c != '"' && c != '\\'
	}
	for _, c := range " \t\r\n" {
		space[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		hexVal[c] = uint8(c-'0') + 1
	}
	for c := 'a'; c <= 'f'; c++ {
		hexVal[c] = uint8(c-'a') + 11
		hexVal[c-'a'+'A'] = uint8(c-'a') + 11
	}
}

// scanner is a validating JSON scanner over one document. Its methods
// return false on a syntax error, after recording it (only the first one
// counts), so callers unwind without building errors on the way.
type scanner struct {
	data  []byte
	pos   int
	depth int

	// The first syntax error: offset and a static message, turned into a
	// *SyntaxError only when Parse returns, so a valid document costs nothing.
	errSet  bool
	errOff  int
	errMsg  string
	errChar bool // append the offending byte to the message
}

// fail records a syntax error at off and returns false.
func (s *scanner) fail(off int, msg string) bool {
	if !s.errSet {
		s.errSet, s.errOff, s.errMsg, s.errChar = true, off, msg, false
	}
	return false
}

// failChar is fail for an unexpected byte, named in the message.
func (s *scanner) failChar(off int, msg string) bool {
	if off >= len(s.data) {
		return s.fail(len(s.data), "unexpected end of input")
	}
	if !s.errSet {
		s.errSet, s.errOff, s.errMsg, s.errChar = true, off, msg, true
	}
	return false
}

func (s *scanner) syntaxError() *SyntaxError {
	msg := s.errMsg
	if s.errChar && s.errOff < len(s.data) {
		msg += " " + quoteByte(s.data[s.errOff])
	}
	return &SyntaxError{Offset: s.errOff, Msg: msg}
}

// ws skips whitespace.
func (s *scanner) ws() {
	d, i := s.data, s.pos
	for i < len(d) && space[d[i]] {
		i++
	}
	s.pos = i
}

// peek returns the current byte, or 0 at the end of the input (0 is never
// valid at a value position, so callers need no separate bounds check).
func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// colon consumes the ':' after an object key and the whitespace around it.
func (s *scanner) colon() bool {
	s.ws()
	if s.peek() != ':' {
		return s.failChar(s.pos, "expected ':' after object key, found")
	}
	s.pos++
	s.ws()
	return true
}

// next consumes the ',' or closing byte after a member or element. It
// reports more=true after a ',' (with whitespace skipped), more=false after
// the closing byte.
func (s *scanner) next(closing byte) (more, ok bool) {
	s.ws()
	switch s.peek() {
	case ',':
		s.pos++
		s.ws()
		return true, true
	case closing:
		s.pos++
		return false, true
	}
	if closing == '}' {
		return false, s.failChar(s.pos, "expected ',' or '}' after object member, found")
	}
	return false, s.failChar(s.pos, "expected ',' or ']' after array element, found")
}

// open enters an object or array at the current '{' or '['.
func (s *scanner) open() bool {
	if s.depth >= MaxDepth {
		return s.fail(s.pos, "nesting deeper than 64 levels")
	}
	s.depth++
	s.pos++
	s.ws()
	return true
}

// str scans the string at the current '"'. It returns the bytes between the
// quotes and whether they contain escapes (then decode must be used to get
// the value). Every escape is validated, and so is UTF-8: RFC 8259 §8.1
// requires it, and a CDR is spliced into output verbatim, so a byte
// sequence no strict consumer could read must not get through.
func (s *scanner) str() (raw []byte, escaped, ok bool) {
	d := s.data
	start := s.pos + 1
	i := start
	for i < len(d) && plain[d[i]] {
		i++
	}
	if i < len(d) && d[i] == '"' {
		s.pos = i + 1
		return d[start:i], false, true
	}
	return s.strSlow(start, i)
}

// strSlow continues str at i, the first byte of the string starting at
// start that is not plain ASCII.
func (s *scanner) strSlow(start, i int) (raw []byte, escaped, ok bool) {
	d := s.data
	for {
		for i < len(d) && plain[d[i]] {
			i++
		}
		if i >= len(d) {
			return nil, false, s.fail(start-1, "unterminated string")
		}
		switch c := d[i]; {
		case c == '"':
			s.pos = i + 1
			return d[start:i], escaped, true
		case c == '\\':
			escaped = true
			if i+1 >= len(d) {
				return nil, false, s.fail(start-1, "unterminated string")
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) {
					return nil, false, s.fail(start-1, "unterminated string")
				}
				if hexVal[d[i+2]] == 0 || hexVal[d[i+3]] == 0 || hexVal[d[i+4]] == 0 || hexVal[d[i+5]] == 0 {
					return nil, false, s.fail(i, `invalid \u escape: four hexadecimal digits expected`)
				}
				i += 6
			default:
				return nil, false, s.failChar(i+1, `invalid escape character after '\' in string:`)
			}
		case c < 0x20:
			return nil, false, s.failChar(i, "control character in string:")
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size <= 1 {
				return nil, false, s.fail(i, "invalid UTF-8 in string")
			}
			i += size
		}
	}
}

// number scans a number per the RFC 8259 grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and returns its text.
func (s *scanner) number() ([]byte, bool) {
	d := s.data
	start, i := s.pos, s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i >= len(d):
		return nil, s.fail(i, "unexpected end of input")
	case d[i] == '0':
		i++
		if i < len(d) && isDigit(d[i]) {
			return nil, s.fail(i, "invalid number: leading zero")
		}
	case isDigit(d[i]):
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	default:
		return nil, s.failChar(i, "invalid number: digit expected after '-', found")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return nil, s.failChar(i, "invalid number: digit expected after decimal point, found")
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			return nil, s.failChar(i, "invalid number: digit expected in exponent, found")
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	s.pos = i
	return d[start:i], true
}

func isDigit(c byte) bool { return c-'0' < 10 }

// literal scans true, false or null.
func (s *scanner) literal(lit string) bool {
	d := s.data[s.pos:]
	if len(d) < len(lit) {
		if string(d) == lit[:len(d)] {
			return s.fail(len(s.data), "unexpected end of input")
		}
	} else if string(d[:len(lit)]) == lit {
		s.pos += len(lit)
		return true
	}
	return s.failChar(s.pos, "invalid literal, found")
}

// skip validates and skips any value. It is one iterative loop rather than
// recursive descent because most of a CDR (cdr_location, tariffs,
// signed_data) is only validated, and a call per token would dominate the
// cost. The open containers are a stack of bits, 1 for an object, which is
// why MaxDepth is 64.
func (s *scanner) skip() bool {
	d := s.data
	i := s.pos
	var stack uint64
	n := 0 // containers opened by this call and not yet closed
	key := false
	for {
		if key {
			if i >= len(d) || d[i] != '"' {
				return s.failChar(i, "expected a string object key, found")
			}
			j := i + 1
			for j < len(d) && plain[d[j]] {
				j++
			}
			if j < len(d) && d[j] == '"' {
				i = j + 1
			} else {
				s.pos = i
				if _, _, ok := s.strSlow(i+1, j); !ok {
					return false
				}
				i = s.pos
			}
			for i < len(d) && space[d[i]] {
				i++
			}
			if i >= len(d) || d[i] != ':' {
				return s.failChar(i, "expected ':' after object key, found")
			}
			i++
			for i < len(d) && space[d[i]] {
				i++
			}
			key = false
		}
		// A value starts at i.
		if i >= len(d) {
			return s.fail(i, "unexpected end of input")
		}
		switch c := d[i]; c {
		case '"':
			j := i + 1
			for j < len(d) && plain[d[j]] {
				j++
			}
			if j < len(d) && d[j] == '"' {
				i = j + 1
			} else {
				s.pos = i
				if _, _, ok := s.strSlow(i+1, j); !ok {
					return false
				}
				i = s.pos
			}
		case '{', '[':
			if s.depth+n >= MaxDepth {
				return s.fail(i, "nesting deeper than 64 levels")
			}
			i++
			for i < len(d) && space[d[i]] {
				i++
			}
			if i < len(d) && d[i] == c+2 { // '}' or ']'
				i++
				break
			}
			n++
			stack <<= 1
			if c == '{' {
				stack |= 1
				key = true
			}
			continue
		case 't', 'f', 'n':
			lit := "null"
			if c == 't' {
				lit = "true"
			} else if c == 'f' {
				lit = "false"
			}
			s.pos = i
			if !s.literal(lit) {
				return false
			}
			i = s.pos
		default:
			if c != '-' && !isDigit(c) {
				return s.failChar(i, "expected a JSON value, found")
			}
			s.pos = i
			if _, ok := s.number(); !ok {
				return false
			}
			i = s.pos
		}
		// After a value: close containers until a ',' leads to the next one.
		for {
			if n == 0 {
				s.pos = i
				return true
			}
			for i < len(d) && space[d[i]] {
				i++
			}
			if i >= len(d) {
				return s.fail(i, "unexpected end of input")
			}
			obj := stack&1 != 0
			if c := d[i]; c == ',' {
				i++
				for i < len(d) && space[d[i]] {
					i++
				}
				key = obj
				break
			} else if obj && c == '}' || !obj && c == ']' {
				i++
				n--
				stack >>= 1
				continue
			}
			if obj {
				return s.failChar(i, "expected ',' or '}' after object member, found")
			}
			return s.failChar(i, "expected ',' or ']' after array element, found")
		}
	}
}

// isNull reports whether the value at the current position is null and, if
// so, consumes it.
func (s *scanner) isNull() bool {
	d := s.data[s.pos:]
	if len(d) >= 4 && string(d[:4]) == "null" {
		s.pos += 4
		return true
	}
	return false
}

// decode appends the value of a string's raw bytes (escapes resolved) to
// buf. raw has been validated by str. A lone UTF-16 surrogate, which the
// JSON grammar allows, decodes to U+FFFD, as encoding/json does.
func decode(buf, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			buf = append(buf, c)
			i++
			continue
		}
		switch e := raw[i+1]; e {
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r := hex4(raw[i+2:])
			i += 6
			if r >= 0xD800 && r < 0xDC00 && i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				if lo := hex4(raw[i+2:]); lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
			continue
		default: // '"', '\\', '/'
			buf = append(buf, e)
		}
		i += 2
	}
	return buf
}

func hex4(b []byte) rune {
	return rune(hexVal[b[0]]-1)<<12 | rune(hexVal[b[1]]-1)<<8 | rune(hexVal[b[2]]-1)<<4 | rune(hexVal[b[3]]-1)
}

// unsafeString views b as a string without copying. It is used only to
// hand bytes to parsers (tariff.ParseDateTime, money.ParseDecimal) that do
// not keep their argument on success; their errors are never returned as
// they are, so no string aliasing the caller's buffer outlives the call.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func quoteByte(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c >= 0x20 && c < 0x7f:
		return "'" + string(rune(c)) + "'"
	}
	const hex = "0123456789abcdef"
	return "byte 0x" + string([]byte{hex[c>>4], hex[c&15]})
}
