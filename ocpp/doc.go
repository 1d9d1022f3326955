// Package ocpp is evbill's OCPP-J 1.6 central system: the framing of
// OCPP-J messages, their validation against the official OCPP 1.6 JSON
// schemas, typed Core messages, and the WebSocket server that charge
// points connect to. Business logic (sessions, tokens, storage) is not
// here: it sits behind the Handler interface, which the Server calls once
// per CALL a charger sends, and the Server's Call method, which sends the
// central system's own commands.
//
// # Layers
//
//   - ParseFrame and AppendCall/AppendCallResult/AppendCallError read and
//     write [2, id, action, {…}], [3, id, {…}] and [4, id, code, text,
//     {…}] strictly, with a hand-written JSON scanner: no allocation but
//     the short strings, payloads kept as json.RawMessage views.
//   - ValidateRequest and ValidateConfirmation check a payload against
//     urn:<Action>.req / .conf of the embedded schemas (schemas/, MIT,
//     with its licence) and name the JSON path of a violation.
//   - The message types (BootNotificationReq, MeterValuesReq, …) decode a
//     validated payload; meter readings stay strings and limits exact
//     decimals, never float64.
//   - CostMessage and its payloads (SetUserPrice, RunningCost, FinalCost)
//     are the Open Charge Alliance's California Pricing messages, which
//     OCPP 1.6 carries in DataTransfer for a charger's display of costs.
//   - Server is an http.Handler for /ocpp/{chargePointId}: HTTP Basic
//     authentication before the upgrade (security profile 1),
//     subprotocol ocpp1.6, one connection per station, CALLs handled in
//     order, one outstanding server CALL per connection, keepalive
//     pings, clean shutdown.
//
// # Decisions
//
// Validator: written here rather than taken from a general JSON Schema
// library. The OCPP 1.6 schemas use a dozen draft-07 keywords; this
// validator implements exactly those (and refuses to compile a schema with
// any other), walks the raw bytes once and allocates nothing for a valid
// payload: about 1.8 µs for a 700-byte MeterValues, against about 28 µs
// and 375 allocations for santhosh-tekuri/jsonschema v6, which first needs
// the payload decoded into map[string]any.
//
// CALLERROR codes (OCPP-J 1.6 §4.2.3): bytes that are not JSON, or not a
// frame of the right shape, are FormationViolation; a frame that ends
// early (an element missing) is ProtocolError; an action OCPP 1.6 does not
// define is NotImplemented; one it defines that we do not take (or that
// only a central system sends) is NotSupported. In a payload: a wrong JSON
// type is TypeConstraintViolation, a missing required property
// OccurenceConstraintViolation (OCPP's spelling), a too long string, a
// value outside an enum, a malformed date-time or a number off its
// multipleOf PropertyConstraintViolation. A property the schema does not
// define is FormationViolation: every OCPP 1.6 schema says
// additionalProperties: false, so the payload does not "conform to the PDU
// structure", which is what FormationViolation means; it is not a bad
// value of a known property. RpcFrameworkError is OCPP 2.0.1's and never
// sent on ocpp1.6.
//
// Unreadable uniqueId: a CALLERROR must carry the uniqueId of the CALL it
// answers; when none can be read (not JSON, not an array, not a string,
// empty) the answer carries UnknownUniqueID, "-1". OCPP-J 1.6 says
// nothing for this case; "-1" is the convention of OCPP implementations
// for a MessageId that could not be read (OCPP 2.0.1 names the case in its
// RpcFrameworkError), it can never collide with an id we generate, and a
// charger that cannot match it simply ignores it. A frame is never answered
// when it is recognisably a CALLRESULT or CALLERROR, so two peers cannot
// trade errors for ever; an answer nobody waits for is dropped.
package ocpp
