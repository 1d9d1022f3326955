package ocpp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// MessageType is the first element of an OCPP-J frame.
type MessageType uint8

// The OCPP-J 1.6 message types (§4.1.3). Zero means the type could not be
// read.
const (
	TypeCall       MessageType = 2 // [2, uniqueId, action, payload]
	TypeCallResult MessageType = 3 // [3, uniqueId, payload]
	TypeCallError  MessageType = 4 // [4, uniqueId, errorCode, errorDescription, errorDetails]
)

// String names the message type as the specification does.
func (t MessageType) String() string {
	switch t {
	case TypeCall:
		return "CALL"
	case TypeCallResult:
		return "CALLRESULT"
	case TypeCallError:
		return "CALLERROR"
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

// ErrorCode is the errorCode of a CALLERROR.
type ErrorCode string

// The CALLERROR codes of OCPP-J 1.6 (§4.2.3). OCPP 1.6 spells
// "OccurenceConstraintViolation" with one r; the wire value must match.
const (
	NotImplemented               ErrorCode = "NotImplemented"               // the action is not known
	NotSupported                 ErrorCode = "NotSupported"                 // the action is known but not supported
	InternalError                ErrorCode = "InternalError"                // the receiver failed to process the action
	ProtocolError                ErrorCode = "ProtocolError"                // the payload (or frame) is incomplete
	SecurityError                ErrorCode = "SecurityError"                // a security issue prevented processing
	FormationViolation           ErrorCode = "FormationViolation"           // syntactically wrong, or not the PDU's structure
	PropertyConstraintViolation  ErrorCode = "PropertyConstraintViolation"  // a field holds an invalid value
	OccurenceConstraintViolation ErrorCode = "OccurenceConstraintViolation" // a field occurs too often or too rarely
	TypeConstraintViolation      ErrorCode = "TypeConstraintViolation"      // a field has the wrong data type
	GenericError                 ErrorCode = "GenericError"                 // anything else
)

// RpcFrameworkError is the OCPP 2.0.1 code for a frame that is not a valid
// RPC message. OCPP 1.6 has no such code, so this package never sends it
// on an ocpp1.6 connection (it answers FormationViolation instead); it is
// here for the ocpp2.0.1 framing to come.
const RpcFrameworkError ErrorCode = "RpcFrameworkError"

// UnknownUniqueID is the uniqueId of a CALLERROR answering a frame whose
// uniqueId could not be read. OCPP-J 1.6 does not say what to use; "-1" is
// the convention of OCPP implementations for this case, and it can never
// collide with a uniqueId we generate (ours are base-36 counters without a
// sign).
const UnknownUniqueID = "-1"

// MaxUniqueIDLen is the longest uniqueId OCPP-J 1.6 allows (§4.1.4: at
// most 36 characters, enough for a UUID).
const MaxUniqueIDLen = 36

// CallError is an OCPP CALLERROR: what the peer answered to our CALL, or
// what a Handler returns to choose the error code of its answer. Details,
// when set, must be a JSON object; nil is written as {}.
type CallError struct {
	Code        ErrorCode
	Description string
	Details     json.RawMessage
}

// Error returns the code and the description.
func (e *CallError) Error() string {
	if e.Description == "" {
		return "ocpp: " + string(e.Code)
	}
	return "ocpp: " + string(e.Code) + ": " + e.Description
}

// Errorf returns a *CallError with the code and a formatted description,
// for handlers that want a code other than InternalError.
func Errorf(code ErrorCode, format string, args ...any) *CallError {
	return &CallError{Code: code, Description: fmt.Sprintf(format, args...)}
}

// Frame is one parsed OCPP-J message. Payload and ErrorDetails share
// memory with the bytes given to ParseFrame: they are views, not copies,
// so parsing a frame copies nothing but the short strings.
type Frame struct {
	Type     MessageType
	UniqueID string
	// Action is the action of a CALL.
	Action string
	// Payload is the JSON object of a CALL or CALLRESULT, as received.
	Payload json.RawMessage
	// ErrorCode, ErrorDescription and ErrorDetails are a CALLERROR's.
	ErrorCode        ErrorCode
	ErrorDescription string
	ErrorDetails     json.RawMessage
}

// ParseFrame parses one OCPP-J message strictly: a JSON array of exactly
// the shape of its message type, a uniqueId that is a non-empty string of
// at most 36 characters, an action that is a string, and a payload that is
// a JSON object; nothing may follow the array.
//
// On failure it returns a *CallError saying what to answer, and a Frame
// with whatever could be read: Type (0 if unknown) and UniqueID
// (UnknownUniqueID if it could not be read). The caller answers a CALLERROR
// with that uniqueId unless Type is TypeCallResult or TypeCallError: a
// broken answer is never answered, so two peers can never trade CALLERRORs
// for ever.
//
// The codes follow OCPP-J 1.6 §4.2.3: FormationViolation for bytes that are
// not JSON or not a frame of the right shape, ProtocolError for a frame
// that ends too early (an element is missing), NotImplemented for an
// unknown message type. The payload's content is not checked here; see
// ValidateRequest.
func ParseFrame(data []byte) (Frame, *CallError) {
	f := Frame{UniqueID: UnknownUniqueID}
	s := scanner{b: data}
	if s.peek() != '[' {
		if s.i >= len(s.b) {
			return f, &CallError{Code: FormationViolation, Description: "empty message"}
		}
		if err := s.skip(0); err != nil {
			return f, formation(err)
		}
		return f, &CallError{Code: FormationViolation, Description: "message is a JSON " + kindName(data[skipWS(data)]) + ", not an array"}
	}
	s.i++
	// The message type.
	if s.peek() == ']' {
		return f, &CallError{Code: ProtocolError, Description: "empty array: messageTypeId missing"}
	}
	var typeOK bool
	if c := s.peek(); c == '-' || isDigit(c) {
		lit, fracOrExp, err := s.number()
		if err != nil {
			return f, formation(err)
		}
		if !fracOrExp && len(lit) == 1 && '2' <= lit[0] && lit[0] <= '4' {
			f.Type = MessageType(lit[0] - '0')
			typeOK = true
		}
	} else if err := s.skip(0); err != nil {
		return f, formation(err)
	}
	typeErr := (*CallError)(nil)
	if !typeOK {
		// Read on, to find the uniqueId to answer with.
		typeErr = &CallError{Code: FormationViolation, Description: "messageTypeId must be 2 (CALL), 3 (CALLRESULT) or 4 (CALLERROR)"}
	}
	// The uniqueId.
	switch s.peek() {
	case ']':
		if typeErr != nil {
			return f, typeErr
		}
		return f, &CallError{Code: ProtocolError, Description: "uniqueId missing"}
	case ',':
		s.i++
	default:
		if err := syntaxOnly(&s); err != nil {
			return f, err
		}
		return f, &CallError{Code: FormationViolation, Description: "expected ',' after messageTypeId"}
	}
	idErr := (*CallError)(nil)
	if s.peek() == '"' {
		raw, esc, err := s.str()
		if err != nil {
			return f, formation(err)
		}
		id := stringOf(raw, esc)
		switch n := utf8.RuneCountInString(id); {
		case n == 0:
			idErr = &CallError{Code: FormationViolation, Description: "uniqueId is empty"}
		case n > MaxUniqueIDLen:
			// Echo it all the same: it is the only way the peer can tell
			// which of its messages this answers.
			f.UniqueID = id
			idErr = &CallError{Code: PropertyConstraintViolation, Description: "uniqueId longer than 36 characters"}
		default:
			f.UniqueID = id
		}
	} else {
		c := s.peek()
		if err := s.skip(0); err != nil {
			return f, formation(err)
		}
		idErr = &CallError{Code: FormationViolation, Description: "uniqueId must be a string, got " + kindName(c)}
	}
	if typeErr != nil {
		if err := syntaxOnly(&s); err != nil {
			return f, err
		}
		return f, typeErr
	}
	if idErr != nil {
		if err := syntaxOnly(&s); err != nil {
			return f, err
		}
		return f, idErr
	}

	var want int // elements after the uniqueId
	switch f.Type {
	case TypeCall:
		want = 2
	case TypeCallResult:
		want = 1
	case TypeCallError:
		want = 3
	}
	for k := 0; k < want; k++ {
		switch s.peek() {
		case ']':
			return f, &CallError{Code: ProtocolError, Description: fmt.Sprintf("%s has %d elements, want %d", f.Type, 2+k, 2+want)}
		case ',':
			s.i++
		case 0:
			return f, formation(s.fail("unexpected end of input"))
		default:
			return f, formation(s.fail("expected ',' or ']'"))
		}
		c := s.peek()
		start := s.i
		switch {
		case f.Type == TypeCall && k == 0, f.Type == TypeCallError && (k == 0 || k == 1):
			// action, errorCode, errorDescription: strings.
			if c != '"' {
				if err := s.skip(0); err != nil {
					return f, formation(err)
				}
				if err := syntaxOnly(&s); err != nil {
					return f, err
				}
				return f, &CallError{Code: FormationViolation, Description: elementName(f.Type, k) + " must be a string, got " + kindName(c)}
			}
			raw, esc, err := s.str()
			if err != nil {
				return f, formation(err)
			}
			switch {
			case f.Type == TypeCall:
				f.Action = actionString(raw, esc)
			case k == 0:
				f.ErrorCode = ErrorCode(stringOf(raw, esc))
			default:
				f.ErrorDescription = stringOf(raw, esc)
			}
		default:
			// payload, errorDetails: objects.
			if err := s.skip(0); err != nil {
				return f, formation(err)
			}
			if c != '{' {
				if err := syntaxOnly(&s); err != nil {
					return f, err
				}
				return f, &CallError{Code: FormationViolation, Description: elementName(f.Type, k) + " must be a JSON object, got " + kindName(c)}
			}
			if f.Type == TypeCallError {
				f.ErrorDetails = json.RawMessage(data[start:s.i])
			} else {
				f.Payload = json.RawMessage(data[start:s.i])
			}
		}
	}
	switch s.peek() {
	case ']':
		s.i++
	case ',':
		if err := syntaxOnly(&s); err != nil {
			return f, err
		}
		return f, &CallError{Code: FormationViolation, Description: fmt.Sprintf("%s has more than %d elements", f.Type, 2+want)}
	case 0:
		return f, formation(s.fail("unexpected end of input"))
	default:
		return f, formation(s.fail("expected ']'"))
	}
	if s.peek() != 0 {
		return f, &CallError{Code: FormationViolation, Description: "data after the end of the message"}
	}
	if f.Type == TypeCall && f.Action == "" {
		return f, &CallError{Code: FormationViolation, Description: "action is empty"}
	}
	if f.Type == TypeCallError && f.ErrorCode == "" {
		return f, &CallError{Code: FormationViolation, Description: "errorCode is empty"}
	}
	return f, nil
}

// syntaxOnly reads the rest of an array whose shape is already known to be
// wrong, so that a frame that is not even JSON is reported as such (a
// FormationViolation about the syntax beats one about the shape).
func syntaxOnly(s *scanner) *CallError {
	for {
		switch s.peek() {
		case ']':
			s.i++
			if s.peek() != 0 {
				return &CallError{Code: FormationViolation, Description: "data after the end of the message"}
			}
			return nil
		case ',':
			s.i++
			if err := s.skip(1); err != nil {
				return formation(err)
			}
		case 0:
			return formation(s.fail("unexpected end of input"))
		default:
			if err := s.skip(1); err != nil {
				return formation(err)
			}
		}
	}
}

func skipWS(b []byte) int {
	s := scanner{b: b}
	s.ws()
	return s.i
}

func formation(err *syntaxError) *CallError {
	return &CallError{Code: FormationViolation, Description: err.Error()}
}

func elementName(t MessageType, k int) string {
	switch {
	case t == TypeCall && k == 0:
		return "action"
	case t == TypeCallError && k == 0:
		return "errorCode"
	case t == TypeCallError && k == 1:
		return "errorDescription"
	case t == TypeCallError:
		return "errorDetails"
	}
	return "payload"
}

// stringOf returns the content of a string's raw bytes.
func stringOf(raw []byte, escaped bool) string {
	if !escaped {
		return string(raw)
	}
	return string(unescape(make([]byte, 0, len(raw)), raw))
}

// actionString returns the action, without allocating for the actions the
// schemas know: every CALL carries one.
func actionString(raw []byte, escaped bool) string {
	if !escaped {
		if a, ok := actionNames[string(raw)]; ok {
			return a
		}
	}
	return stringOf(raw, escaped)
}

// AppendCall appends the CALL [2, uniqueID, action, payload] to dst.
// payload must be a JSON object (nil is written as {}).
func AppendCall(dst []byte, uniqueID, action string, payload []byte) []byte {
	dst = append(dst, "[2,"...)
	dst = appendString(dst, uniqueID)
	dst = append(dst, ',')
	dst = appendString(dst, action)
	dst = append(dst, ',')
	return append(appendObject(dst, payload), ']')
}

// AppendCallResult appends the CALLRESULT [3, uniqueID, payload] to dst.
// payload must be a JSON object (nil is written as {}).
func AppendCallResult(dst []byte, uniqueID string, payload []byte) []byte {
	dst = append(dst, "[3,"...)
	dst = appendString(dst, uniqueID)
	dst = append(dst, ',')
	return append(appendObject(dst, payload), ']')
}

// maxDescriptionLen bounds the errorDescription we write: OCPP-J gives
// none, but descriptions quote paths and values from the peer's message,
// and a CALLERROR should stay small.
const maxDescriptionLen = 255

// AppendCallError appends the CALLERROR [4, uniqueID, code, description,
// details] to dst. The description is cut to 255 bytes (on a character
// boundary); Details must be a JSON object (nil is written as {}).
func AppendCallError(dst []byte, uniqueID string, e *CallError) []byte {
	desc := e.Description
	if len(desc) > maxDescriptionLen {
		cut := maxDescriptionLen
		for cut > 0 && !utf8.RuneStart(desc[cut]) {
			cut--
		}
		desc = desc[:cut]
	}
	code := e.Code
	if code == "" {
		code = GenericError
	}
	dst = append(dst, "[4,"...)
	dst = appendString(dst, uniqueID)
	dst = append(dst, ',')
	dst = appendString(dst, string(code))
	dst = append(dst, ',')
	dst = appendString(dst, desc)
	dst = append(dst, ',')
	return append(appendObject(dst, e.Details), ']')
}

// appendObject appends obj, or {} when obj is not exactly one JSON object,
// so that no payload a caller got wrong can make us write a broken frame.
func appendObject(dst, obj []byte) []byte {
	if !isObject(obj) {
		return append(dst, "{}"...)
	}
	return append(dst, obj...)
}

func isObject(b []byte) bool {
	s := scanner{b: b}
	if s.peek() != '{' || s.skip(0) != nil {
		return false
	}
	return s.peek() == 0
}
