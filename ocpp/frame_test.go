package ocpp

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseFrameValid(t *testing.T) {
	f, err := ParseFrame([]byte(` [2, "abc-1", "MeterValues", {"connectorId": 1, "meterValue": []}] `))
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != TypeCall || f.UniqueID != "abc-1" || f.Action != "MeterValues" ||
		string(f.Payload) != `{"connectorId": 1, "meterValue": []}` {
		t.Fatalf("%+v", f)
	}

	f, err = ParseFrame([]byte(`[3,"x",{"status":"Accepted"}]`))
	if err != nil || f.Type != TypeCallResult || f.UniqueID != "x" || string(f.Payload) != `{"status":"Accepted"}` {
		t.Fatalf("%+v %v", f, err)
	}

	f, err = ParseFrame([]byte(`[4,"y","NotSupported","no \"way\"",{"a":[1]}]`))
	if err != nil || f.Type != TypeCallError || f.UniqueID != "y" || f.ErrorCode != NotSupported ||
		f.ErrorDescription != `no "way"` || string(f.ErrorDetails) != `{"a":[1]}` {
		t.Fatalf("%+v %v", f, err)
	}

	// Escapes in the uniqueId and the action are read as JSON strings.
	f, err = ParseFrame([]byte(`[2,"i\u0064\n","Heart\u0062eat",{}]`))
	if err != nil || f.UniqueID != "id\n" || f.Action != "Heartbeat" {
		t.Fatalf("%+v %v", f, err)
	}

	// A uniqueId of exactly 36 characters (a UUID) is fine, in runes.
	id := strings.Repeat("é", 36)
	if f, err = ParseFrame([]byte(`[2,"` + id + `","Heartbeat",{}]`)); err != nil || f.UniqueID != id {
		t.Fatalf("%+v %v", f, err)
	}
}

// TestParseFrameMalformed is the table of every malformed shape and the
// CALLERROR it gets.
func TestParseFrameMalformed(t *testing.T) {
	long := strings.Repeat("x", 37)
	deep := `[2,"d","DataTransfer",{"vendorId":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}]`
	tests := []struct {
		name, in string
		typ      MessageType
		id       string
		code     ErrorCode
		desc     string
	}{
		{"empty", ``, 0, "-1", FormationViolation, "empty message"},
		{"whitespace", " \n\t", 0, "-1", FormationViolation, "empty message"},
		{"not json", `hello`, 0, "-1", FormationViolation, "invalid JSON"},
		{"object", `{"a":1}`, 0, "-1", FormationViolation, "JSON object, not an array"},
		{"string", `"x"`, 0, "-1", FormationViolation, "JSON string, not an array"},
		{"number", `2`, 0, "-1", FormationViolation, "JSON number, not an array"},
		{"null", `null`, 0, "-1", FormationViolation, "JSON null, not an array"},
		{"bom", "\xef\xbb\xbf[2,\"a\",\"Heartbeat\",{}]", 0, "-1", FormationViolation, "invalid JSON"},
		{"open bracket", `[`, 0, "-1", FormationViolation, "unexpected end"},
		{"empty array", `[]`, 0, "-1", ProtocolError, "messageTypeId missing"},
		{"type only", `[2]`, TypeCall, "-1", ProtocolError, "uniqueId missing"},
		{"type string", `["2","id","Heartbeat",{}]`, 0, "id", FormationViolation, "messageTypeId"},
		{"type float", `[2.0,"id","Heartbeat",{}]`, 0, "id", FormationViolation, "messageTypeId"},
		{"type negative", `[-2,"id","Heartbeat",{}]`, 0, "id", FormationViolation, "messageTypeId"},
		{"type unknown", `[5,"id",{}]`, 0, "id", FormationViolation, "messageTypeId"},
		{"type 20", `[20,"id",{}]`, 0, "id", FormationViolation, "messageTypeId"},
		{"type null", `[null,"id",{}]`, 0, "id", FormationViolation, "messageTypeId"},
		{"type unknown broken", `[5,"id",{]`, 0, "id", FormationViolation, "invalid JSON"},
		{"no comma", `[2 "id","Heartbeat",{}]`, TypeCall, "-1", FormationViolation, "expected ','"},
		{"id number", `[2,17,"Heartbeat",{}]`, TypeCall, "-1", FormationViolation, "uniqueId must be a string, got number"},
		{"id null", `[2,null,"Heartbeat",{}]`, TypeCall, "-1", FormationViolation, "uniqueId must be a string, got null"},
		{"id empty", `[2,"","Heartbeat",{}]`, TypeCall, "-1", FormationViolation, "uniqueId is empty"},
		{"id too long", `[2,"` + long + `","Heartbeat",{}]`, TypeCall, long, PropertyConstraintViolation, "longer than 36"},
		{"call 2 elements", `[2,"id"]`, TypeCall, "id", ProtocolError, "CALL has 2 elements, want 4"},
		{"call 3 elements", `[2,"id","Heartbeat"]`, TypeCall, "id", ProtocolError, "CALL has 3 elements, want 4"},
		{"call 5 elements", `[2,"id","Heartbeat",{},{}]`, TypeCall, "id", FormationViolation, "more than 4 elements"},
		{"action number", `[2,"id",7,{}]`, TypeCall, "id", FormationViolation, "action must be a string, got number"},
		{"action empty", `[2,"id","",{}]`, TypeCall, "id", FormationViolation, "action is empty"},
		{"payload array", `[2,"id","Heartbeat",[]]`, TypeCall, "id", FormationViolation, "payload must be a JSON object, got array"},
		{"payload null", `[2,"id","Heartbeat",null]`, TypeCall, "id", FormationViolation, "payload must be a JSON object, got null"},
		{"payload string", `[2,"id","Heartbeat","{}"]`, TypeCall, "id", FormationViolation, "payload must be a JSON object, got string"},
		{"payload broken", `[2,"id","Heartbeat",{]`, TypeCall, "id", FormationViolation, "invalid JSON"},
		{"payload unterminated", `[2,"id","Heartbeat",{}`, TypeCall, "id", FormationViolation, "unexpected end"},
		{"trailing comma", `[2,"id","Heartbeat",{"a":1,}]`, TypeCall, "id", FormationViolation, "invalid JSON"},
		{"data after", `[2,"id","Heartbeat",{}] x`, TypeCall, "id", FormationViolation, "data after"},
		{"two frames", `[2,"id","Heartbeat",{}][2,"id2","Heartbeat",{}]`, TypeCall, "id", FormationViolation, "data after"},
		{"invalid utf8", "[2,\"id\",\"DataTransfer\",{\"vendorId\":\"\xff\"}]", TypeCall, "id", FormationViolation, "UTF-8"},
		{"control char", "[2,\"id\",\"DataTransfer\",{\"vendorId\":\"a\x01\"}]", TypeCall, "id", FormationViolation, "control character"},
		{"bad escape", `[2,"id","DataTransfer",{"vendorId":"\x"}]`, TypeCall, "id", FormationViolation, "invalid escape"},
		{"bad number", `[2,"id","MeterValues",{"connectorId":01}]`, TypeCall, "id", FormationViolation, "invalid JSON"},
		{"nested too deep", deep, TypeCall, "d", FormationViolation, "nested too deeply"},
		{"result short", `[3,"id"]`, TypeCallResult, "id", ProtocolError, "CALLRESULT has 2 elements, want 3"},
		{"result array", `[3,"id",[]]`, TypeCallResult, "id", FormationViolation, "payload must be a JSON object"},
		{"result long", `[3,"id",{},1]`, TypeCallResult, "id", FormationViolation, "more than 3 elements"},
		{"error short", `[4,"id","GenericError","x"]`, TypeCallError, "id", ProtocolError, "CALLERROR has 4 elements, want 5"},
		{"error code number", `[4,"id",1,"x",{}]`, TypeCallError, "id", FormationViolation, "errorCode must be a string"},
		{"error desc null", `[4,"id","GenericError",null,{}]`, TypeCallError, "id", FormationViolation, "errorDescription must be a string"},
		{"error code empty", `[4,"id","","x",{}]`, TypeCallError, "id", FormationViolation, "errorCode is empty"},
		{"error details string", `[4,"id","GenericError","x","y"]`, TypeCallError, "id", FormationViolation, "errorDetails must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFrame([]byte(tt.in))
			if err == nil {
				t.Fatalf("parsed %+v", f)
			}
			if f.Type != tt.typ || f.UniqueID != tt.id || err.Code != tt.code || !strings.Contains(err.Description, tt.desc) {
				t.Fatalf("got type %v id %q %s %q; want type %v id %q %s %q",
					f.Type, f.UniqueID, err.Code, err.Description, tt.typ, tt.id, tt.code, tt.desc)
			}
			// The answer is itself a valid frame.
			ans := AppendCallError(nil, f.UniqueID, err)
			g, perr := ParseFrame(ans)
			if tt.id == long {
				// Echoed as received, so our answer breaks the limit too.
				if perr == nil || g.Type != TypeCallError || g.UniqueID != long {
					t.Fatalf("answer %s: %v", ans, perr)
				}
				return
			}
			if perr != nil {
				t.Fatalf("answer %s: %v", ans, perr)
			}
			if g.Type != TypeCallError || g.UniqueID != tt.id || g.ErrorCode != tt.code {
				t.Fatalf("answer %s", ans)
			}
		})
	}
}

func TestAppendFrames(t *testing.T) {
	got := AppendCall(nil, "1", "Reset", []byte(`{"type":"Soft"}`))
	if string(got) != `[2,"1","Reset",{"type":"Soft"}]` {
		t.Fatal(string(got))
	}
	got = AppendCallResult(nil, "a\"b", nil)
	if string(got) != `[3,"a\"b",{}]` {
		t.Fatal(string(got))
	}
	// A description is cut on a character boundary; details that are not
	// an object become {}; invalid UTF-8 is replaced.
	desc := strings.Repeat("é", 200)
	got = AppendCallError(nil, "x\xff", &CallError{Code: InternalError, Description: desc, Details: json.RawMessage(`[1]`)})
	f, err := ParseFrame(got)
	if err != nil {
		t.Fatal(err, string(got))
	}
	if f.UniqueID != "x\ufffd" || len(f.ErrorDescription) > maxDescriptionLen || !strings.HasPrefix(desc, f.ErrorDescription) ||
		string(f.ErrorDetails) != "{}" {
		t.Fatalf("%+v", f)
	}
	// Control characters are escaped so the frame stays valid JSON.
	got = AppendCallError(nil, "id", &CallError{Code: GenericError, Description: "a\x00b\tc\n", Details: json.RawMessage(`{"k":"v"}`)})
	if f, err = ParseFrame(got); err != nil || f.ErrorDescription != "a\x00b\tc\n" || string(f.ErrorDetails) != `{"k":"v"}` {
		t.Fatalf("%s %+v %v", got, f, err)
	}
	if !json.Valid(got) {
		t.Fatal("invalid JSON")
	}
	if got := AppendCallError(nil, "id", &CallError{}); !bytes.Contains(got, []byte(`"GenericError"`)) {
		t.Fatal(string(got))
	}
}

func TestUnescapeMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`plain`, `a\"b`, `\\\/\b\f\n\r\t`, `\u00e9\u20ac`, `\ud83d\ude00`, `\ud83d`, `\ude00x`, `\ud83dx\ude00`, `\ud83d\u0041`,
	} {
		var want string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &want); err != nil {
			t.Fatal(err)
		}
		if got := string(unescape(nil, []byte(s))); got != want {
			t.Errorf("%s: got %q, want %q", s, got, want)
		}
	}
}
