package ocpp

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the small JSON scanner that both the frame parser and
// the schema validator walk. It is written by hand, rather than built on
// encoding/json, because every incoming message passes through it: it reads
// the bytes once, allocates nothing on the path of a valid message, and
// checks the syntax of RFC 8259 exactly (strings must be valid UTF-8 with
// no raw control characters; numbers follow the JSON grammar), so that
// whatever it accepts encoding/json decodes without error.

// maxDepth bounds the nesting of arrays and objects. The OCPP 1.6 schemas
// nest at most five levels (RemoteStartTransaction's charging schedule
// periods); the bound keeps a hostile frame of 64 KiB of '[' from growing
// the reading goroutine's stack.
const maxDepth = 32

// syntaxError is a JSON syntax error at an offset of the scanned bytes.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return "invalid JSON at offset " + strconv.Itoa(e.off) + ": " + e.msg
}

// scanner reads JSON from b starting at i.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) fail(msg string) *syntaxError { return &syntaxError{off: s.i, msg: msg} }

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// expect consumes c after whitespace.
func (s *scanner) expect(c byte) *syntaxError {
	if s.peek() != c {
		if s.i >= len(s.b) {
			return s.fail("unexpected end of input, expected '" + string(c) + "'")
		}
		return s.fail("expected '" + string(c) + "'")
	}
	s.i++
	return nil
}

// str reads a string starting at the opening quote (whitespace already
// skipped). It returns the bytes between the quotes and whether they hold
// an escape sequence; unescape turns such raw bytes into the string's
// content.
func (s *scanner) str() (raw []byte, escaped bool, err *syntaxError) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, s.fail("expected string")
	}
	s.i++
	start := s.i
	for s.i < len(s.b) {
		// The common case first: a run of plain ASCII.
		for s.i < len(s.b) && plain[s.b[s.i]] {
			s.i++
		}
		if s.i >= len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				return nil, false, s.fail("unterminated escape")
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) || !isHex4(s.b[s.i+2:s.i+6]) {
					return nil, false, s.fail(`invalid \u escape`)
				}
				s.i += 6
			default:
				return nil, false, s.fail("invalid escape")
			}
		case c < 0x20:
			return nil, false, s.fail("control character in string")
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n == 1 {
				return nil, false, s.fail("invalid UTF-8 in string")
			}
			s.i += n
		}
	}
	return nil, false, s.fail("unterminated string")
}

// plain marks the bytes a string holds as they are: printable ASCII but
// the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !isHex(c) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hexVal(c byte) rune {
	switch {
	case c <= '9':
		return rune(c - '0')
	case c >= 'a':
		return rune(c - 'a' + 10)
	}
	return rune(c - 'A' + 10)
}

// unescape appends the content of a string's raw bytes, as returned by
// str, to dst. Lone surrogates become U+FFFD, as encoding/json does.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			dst = append(dst, raw[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := u4(raw[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, u4(raw[i+2:])); r2 != utf8.RuneError {
						dst = utf8.AppendRune(dst, r2)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		}
		i += 2
	}
	return dst
}

func u4(b []byte) rune {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}

// number reads a JSON number. It reports whether the literal has a
// fraction or an exponent, which the integer type forbids.
func (s *scanner) number() (lit []byte, fracOrExp bool, err *syntaxError) {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	default:
		return nil, false, s.fail("invalid number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		fracOrExp = true
		s.i++
		if s.i >= len(s.b) || !isDigit(s.b[s.i]) {
			return nil, false, s.fail("invalid number: digit expected after '.'")
		}
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		fracOrExp = true
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.i >= len(s.b) || !isDigit(s.b[s.i]) {
			return nil, false, s.fail("invalid number: digit expected in exponent")
		}
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	}
	return s.b[start:s.i], fracOrExp, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// literal consumes the keyword word (true, false or null).
func (s *scanner) literal(word string) *syntaxError {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return s.fail("invalid literal")
	}
	s.i += len(word)
	return nil
}

// skip reads one value of any kind, checking its syntax.
func (s *scanner) skip(depth int) *syntaxError {
	switch s.peek() {
	case '{':
		if depth >= maxDepth {
			return s.fail("nested too deeply")
		}
		s.i++
		if s.peek() == '}' {
			s.i++
			return nil
		}
		for {
			s.ws()
			if _, _, err := s.str(); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.i++
			case '}':
				s.i++
				return nil
			default:
				return s.fail("expected ',' or '}'")
			}
		}
	case '[':
		if depth >= maxDepth {
			return s.fail("nested too deeply")
		}
		s.i++
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return nil
			default:
				return s.fail("expected ',' or ']'")
			}
		}
	case '"':
		_, _, err := s.str()
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case 0:
		return s.fail("unexpected end of input")
	default:
		_, _, err := s.number()
		return err
	}
}

// kindName names the JSON type of the value starting with c, for messages.
func kindName(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// appendString appends s as a JSON string. It escapes only what JSON
// requires (frames are not HTML, so '<', '>' and '&' stay as they are).
// Invalid UTF-8 becomes U+FFFD so that a frame we write is always valid
// JSON, whatever a peer put in the uniqueId we echo.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
