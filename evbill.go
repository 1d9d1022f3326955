// Package evbill holds the domain of evbill, billing and payments for
// operators of EV charging stations: the types and service interfaces the
// other packages implement, and the error codes every layer speaks.
//
// The layout follows the "standard package layout": this root package
// imports nothing of evbill's; pure logic lives in money and tariff; each
// dependency on the outside world (database, network, payment gateway) gets
// a package of its own; cmd/evbill only wires them together.
package evbill

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status and one CLI exit status, in one
// place per front end.
const (
	EINVALID  = "invalid"   // the input breaks a rule; the message says which
	ENOTFOUND = "not_found" // the thing asked for does not exist (or is not yours)
	ECONFLICT = "conflict"  // the request conflicts with the current state
	EINTERNAL = "internal"  // a bug or an outage; details are logged, not shown
)

// Error is an error with a code and a message fit to show to the user.
type Error struct {
	Code    string
	Message string
	Err     error // the underlying error, if any
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message. A %w verb
// keeps the wrapped error reachable by errors.Is and errors.As.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return EINTERNAL
}
