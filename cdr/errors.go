package cdr

import (
	"errors"
	"strconv"
)

// ErrInvalid is matched by errors.Is for every error Parse returns, so a
// caller can tell a rejected CDR from an I/O or pricing failure without
// inspecting the concrete type.
var ErrInvalid = errors.New("invalid CDR")

// SyntaxError reports input that is not well-formed JSON. Offset is the
// 0-based byte offset of the offending byte (for an unterminated string, of
// its opening quote; for truncated input, the input's length), so a
// support engineer can find the spot in a multi-megabyte line.
type SyntaxError struct {
	Offset int
	Msg    string
}

// Error returns the message in the form "invalid JSON at byte 517: unterminated string".
func (e *SyntaxError) Error() string {
	return "invalid JSON at byte " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *SyntaxError) Is(target error) bool { return target == ErrInvalid }

// FieldError reports well-formed JSON that breaks an OCPI rule or one of
// evbill's billing rules. Path is the JSON path of the offending member,
// for example "charging_periods[2].dimensions[0].volume"; it is empty when
// the document as a whole is wrong.
type FieldError struct {
	Path string
	Rule string
	Err  error // an underlying cause such as money.ErrPrecision, or nil
}

// Error returns "path: rule".
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Rule
	}
	return e.Path + ": " + e.Rule
}

// Unwrap returns the underlying cause, so errors.Is(err, money.ErrPrecision)
// and errors.Is(err, money.ErrUnknownCurrency) work through a FieldError.
func (e *FieldError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func periodPath(i int, member string) string {
	return "charging_periods[" + strconv.Itoa(i) + "]" + dot(member)
}

func dimensionPath(i, j int, member string) string {
	return periodPath(i, "") + ".dimensions[" + strconv.Itoa(j) + "]" + dot(member)
}

func dot(member string) string {
	if member == "" {
		return ""
	}
	return "." + member
}
