package ocpp

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// The seed corpora are committed under testdata/fuzz/FuzzParseFrame and
// testdata/fuzz/FuzzDispatch; run a target with, for example,
//
//	go test -run '^$' -fuzz '^FuzzParseFrame$' -fuzztime 60s ./ocpp

// FuzzParseFrame: the parser never panics; what it accepts is JSON of the
// frame's exact shape and survives writing back; what it refuses gets an
// answer that is itself a valid frame.
func FuzzParseFrame(f *testing.F) {
	f.Add([]byte(meterValuesFrame))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, perr := ParseFrame(data)
		if perr != nil {
			if fr.UniqueID == "" {
				t.Fatal("no uniqueId to answer with")
			}
			ans := AppendCallError(nil, fr.UniqueID, perr)
			if !json.Valid(ans) {
				t.Fatalf("answer is not JSON: %s", ans)
			}
			if utf8.RuneCountInString(fr.UniqueID) <= MaxUniqueIDLen {
				g, err := ParseFrame(ans)
				if err != nil || g.Type != TypeCallError || g.UniqueID != fr.UniqueID || g.ErrorCode != perr.Code {
					t.Fatalf("answer %s: %+v %v", ans, g, err)
				}
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(data, &elems); err != nil {
			t.Fatal(err)
		}
		var again []byte
		switch fr.Type {
		case TypeCall:
			if len(elems) != 4 || fr.Action == "" || !isObject(fr.Payload) {
				t.Fatalf("%+v", fr)
			}
			again = AppendCall(nil, fr.UniqueID, fr.Action, fr.Payload)
		case TypeCallResult:
			if len(elems) != 3 || !isObject(fr.Payload) {
				t.Fatalf("%+v", fr)
			}
			again = AppendCallResult(nil, fr.UniqueID, fr.Payload)
		case TypeCallError:
			if len(elems) != 5 || !isObject(fr.ErrorDetails) {
				t.Fatalf("%+v", fr)
			}
			again = AppendCallError(nil, fr.UniqueID, &CallError{Code: fr.ErrorCode, Description: fr.ErrorDescription, Details: fr.ErrorDetails})
		default:
			t.Fatalf("accepted type %d", fr.Type)
		}
		var id string
		if err := json.Unmarshal(elems[1], &id); err != nil || id != fr.UniqueID || id == "" || utf8.RuneCountInString(id) > MaxUniqueIDLen {
			t.Fatalf("uniqueId %q vs %s", fr.UniqueID, elems[1])
		}
		fr2, perr := ParseFrame(again)
		if perr != nil {
			t.Fatalf("%s: %v", again, perr)
		}
		if fr2.Type != fr.Type || fr2.UniqueID != fr.UniqueID || fr2.Action != fr.Action ||
			!bytes.Equal(fr2.Payload, fr.Payload) || fr2.ErrorCode != fr.ErrorCode ||
			(fr.Type == TypeCallError && fr2.ErrorDescription != fr.ErrorDescription && len(fr.ErrorDescription) <= maxDescriptionLen) {
			t.Fatalf("%+v\n%+v", fr, fr2)
		}
	})
}

// FuzzDispatch: whatever arrives, a CALL is answered exactly once with a
// valid CALLRESULT or CALLERROR carrying its uniqueId; a CALLRESULT passes
// its action's schema; a payload the schema accepts decodes; and the
// hand-written MeterValues decoder agrees with encoding/json.
func FuzzDispatch(f *testing.F) {
	f.Add([]byte(meterValuesFrame))
	s := &Server{Handler: &otherRecorder{recorder: recorder{noRecord: true}}, Logger: discardLogger}
	c := &Conn{srv: s, ctx: context.Background(), id: Identity{ChargePointID: "FUZZ"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, perr := ParseFrame(data)
		if fr.Type == TypeCallResult || fr.Type == TypeCallError {
			return // answers are never answered
		}
		out := s.answer(context.Background(), c, nil, &fr, perr)
		ans, err := ParseFrame(out)
		if err != nil && !(utf8.RuneCountInString(fr.UniqueID) > MaxUniqueIDLen) {
			t.Fatalf("answer %s: %v", out, err)
		}
		if ans.UniqueID != fr.UniqueID || (ans.Type != TypeCallResult && ans.Type != TypeCallError) {
			t.Fatalf("answer %s to %s", out, data)
		}
		if ans.Type == TypeCallResult {
			if perr != nil {
				t.Fatalf("%s answered with a result", data)
			}
			if verr := ValidateConfirmation(fr.Action, ans.Payload); verr != nil {
				t.Fatalf("%s: invalid confirmation %s: %v", data, ans.Payload, verr)
			}
		}
		if perr != nil || !KnownAction(fr.Action) || ValidateRequest(fr.Action, fr.Payload) != nil {
			return
		}
		// Valid: the typed decoders must take it.
		if fr.Action == ActionMeterValues {
			var fast, slow MeterValuesReq
			if err := decodeMeterValuesReq(fr.Payload, &fast); err != nil {
				t.Fatalf("fast decoder: %v", err)
			}
			if err := json.Unmarshal(fr.Payload, &slow); err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			a, _ := json.Marshal(fast)
			b, _ := json.Marshal(slow)
			if !bytes.Equal(a, b) {
				t.Fatalf("decoders differ:\n%s\n%s", a, b)
			}
		}
		if into := typedRequest(fr.Action); into != nil {
			if err := json.Unmarshal(fr.Payload, into); err != nil {
				t.Fatalf("valid %s does not decode: %v", fr.Action, err)
			}
		}
	})
}

func typedRequest(action string) any {
	switch action {
	case ActionAuthorize:
		return &AuthorizeReq{}
	case ActionBootNotification:
		return &BootNotificationReq{}
	case ActionDataTransfer:
		return &DataTransferReq{}
	case ActionHeartbeat:
		return &HeartbeatReq{}
	case ActionMeterValues:
		return &MeterValuesReq{}
	case ActionStartTransaction:
		return &StartTransactionReq{}
	case ActionStatusNotification:
		return &StatusNotificationReq{}
	case ActionStopTransaction:
		return &StopTransactionReq{}
	case ActionRemoteStartTransaction:
		return &RemoteStartTransactionReq{}
	case ActionRemoteStopTransaction:
		return &RemoteStopTransactionReq{}
	case ActionChangeConfiguration:
		return &ChangeConfigurationReq{}
	case ActionGetConfiguration:
		return &GetConfigurationReq{}
	case ActionTriggerMessage:
		return &TriggerMessageReq{}
	case ActionReset:
		return &ResetReq{}
	case ActionUnlockConnector:
		return &UnlockConnectorReq{}
	}
	return nil
}
