package ocpp

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/govalues/decimal"
)

func TestSchemasCompile(t *testing.T) {
	acts := Actions()
	if len(acts) != 39 {
		t.Fatalf("%d actions: %v", len(acts), acts)
	}
	for _, a := range []string{ActionAuthorize, ActionBootNotification, ActionDataTransfer, ActionHeartbeat,
		ActionMeterValues, ActionStartTransaction, ActionStatusNotification, ActionStopTransaction,
		ActionRemoteStartTransaction, ActionRemoteStopTransaction, ActionChangeConfiguration,
		ActionGetConfiguration, ActionTriggerMessage, ActionReset, ActionUnlockConnector} {
		if !KnownAction(a) {
			t.Errorf("%s unknown", a)
		}
	}
	if KnownAction("Nope") || KnownAction("") {
		t.Error("unknown action known")
	}
	if !strings.Contains(SchemaLicense(), "MIT License") {
		t.Error("licence not embedded")
	}
}

// TestCompileRefusesUnknownKeywords: a keyword the validator does not
// implement must fail loudly, not be ignored.
func TestCompileRefusesUnknownKeywords(t *testing.T) {
	for _, doc := range []string{
		`[{"$id":"urn:X.req","type":"object","additionalProperties":false,"properties":{"a":{"type":"string","pattern":"^a"}}}]`,
		`[{"$id":"urn:X.req","type":"object","additionalProperties":true,"properties":{}}]`,
		`[{"$id":"urn:X.req","type":"object","additionalProperties":false,"properties":{"a":{"type":"number","multipleOf":0.5}}}]`,
		`[{"$id":"urn:X.req","type":"object","additionalProperties":false,"properties":{"a":{"type":"string","format":"email"}}}]`,
		`[{"$id":"urn:X.req","type":["string","null"]}]`,
		`[{"$id":"urn:X.req","type":"object","additionalProperties":false,"properties":{"a":{"$ref":"#/definitions/B"}}}]`,
		`[{"$id":"urn:X.req","type":"object","additionalProperties":false,"properties":{},"required":["a"]}]`,
		`[{"$id":"X","type":"object","additionalProperties":false,"properties":{}}]`,
	} {
		if _, err := compileSchemas([]byte(doc)); err == nil {
			t.Errorf("compiled %s", doc)
		}
	}
}

// Valid example payloads, one or more per typed message, decoded into
// their Go types after validation.
var validRequests = []struct {
	action, payload string
	into            any
}{
	{"Authorize", `{"idTag":"04A2B3C4D5E6F7"}`, &AuthorizeReq{}},
	{"Authorize", `{"idTag":"\u0041BC"}`, &AuthorizeReq{}},
	{"BootNotification", `{"chargePointVendor":"Alfen BV","chargePointModel":"NG920-61023","chargePointSerialNumber":"ACE0123","firmwareVersion":"6.1.2-4172","iccid":"","imsi":"","meterType":"Eastron SDM630","meterSerialNumber":"1"}`, &BootNotificationReq{}},
	{"BootNotification", `{"chargePointVendor":"éééééééééééééééééééé","chargePointModel":"m"}`, &BootNotificationReq{}},
	{"Heartbeat", `{}`, &HeartbeatReq{}},
	{"Heartbeat", " { } ", &HeartbeatReq{}},
	{"StatusNotification", `{"connectorId":1,"errorCode":"NoError","status":"Charging","timestamp":"2024-03-31T01:59:59.5+01:00"}`, &StatusNotificationReq{}},
	{"StatusNotification", `{"connectorId":0,"errorCode":"OtherError","info":"x","status":"Faulted","vendorId":"v","vendorErrorCode":"E12"}`, &StatusNotificationReq{}},
	{"StartTransaction", `{"connectorId":2,"idTag":"TAG","meterStart":123456,"reservationId":7,"timestamp":"2024-02-29T23:59:59.123456Z"}`, &StartTransactionReq{}},
	{"StopTransaction", `{"transactionId":42,"meterStop":130000,"timestamp":"2024-03-01T10:00:00Z","reason":"EVDisconnected","idTag":"TAG","transactionData":[{"timestamp":"2024-03-01T09:00:00Z","sampledValue":[{"value":"125000.5","measurand":"Energy.Active.Import.Register","unit":"Wh","context":"Sample.Periodic"}]}]}`, &StopTransactionReq{}},
	{"StopTransaction", `{"transactionId":-1,"meterStop":0,"timestamp":"2024-03-01T10:00:00-05:30"}`, &StopTransactionReq{}},
	{"MeterValues", `{"connectorId":1,"transactionId":9223372036854775807,"meterValue":[{"timestamp":"2024-03-03T05:19:09Z","sampledValue":[{"value":"5995441.000","context":"Sample.Periodic","measurand":"Energy.Active.Import.Register","location":"Outlet","unit":"Wh"},{"value":"232.670","context":"Sample.Periodic","measurand":"Voltage","location":"Outlet","unit":"V","phase":"L1-N"},{"value":"80","measurand":"SoC","unit":"Percent","location":"EV"},{"value":"<?xml?>","format":"SignedData"}]}]}`, &MeterValuesReq{}},
	{"MeterValues", `{"connectorId":1,"meterValue":[]}`, &MeterValuesReq{}},
	{"DataTransfer", `{"vendorId":"com.example","messageId":"m","data":"{\"any\":\"thing\"}"}`, &DataTransferReq{}},
	{"RemoteStartTransaction", `{"idTag":"T","connectorId":1,"chargingProfile":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Relative","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":16.5,"numberPhases":3},{"startPeriod":60,"limit":1e1},{"startPeriod":120,"limit":0.10}],"minChargingRate":6.0}}}`, &RemoteStartTransactionReq{}},
	{"RemoteStopTransaction", `{"transactionId":5}`, &RemoteStopTransactionReq{}},
	{"ChangeConfiguration", `{"key":"MeterValuesSampledData","value":"Energy.Active.Import.Register,Power.Active.Import,Current.Import,SoC"}`, &ChangeConfigurationReq{}},
	{"GetConfiguration", `{"key":["HeartbeatInterval"]}`, &GetConfigurationReq{}},
	{"GetConfiguration", `{}`, &GetConfigurationReq{}},
	{"TriggerMessage", `{"requestedMessage":"MeterValues","connectorId":0}`, &TriggerMessageReq{}},
	{"Reset", `{"type":"Soft"}`, &ResetReq{}},
	{"UnlockConnector", `{"connectorId":1}`, &UnlockConnectorReq{}},
	{"GetDiagnostics", `{"location":"ftp://user:pw@example.com/diag"}`, nil},
}

var validConfirmations = []struct {
	action, payload string
	into            any
}{
	{"Authorize", `{"idTagInfo":{"status":"Accepted","expiryDate":"2030-01-01T00:00:00Z","parentIdTag":"FLEET"}}`, &AuthorizeConf{}},
	{"BootNotification", `{"status":"Accepted","currentTime":"2024-01-01T00:00:00.000Z","interval":300}`, &BootNotificationConf{}},
	{"Heartbeat", `{"currentTime":"2024-01-01T00:00:00Z"}`, &HeartbeatConf{}},
	{"StatusNotification", `{}`, &StatusNotificationConf{}},
	{"StartTransaction", `{"idTagInfo":{"status":"ConcurrentTx"},"transactionId":1}`, &StartTransactionConf{}},
	{"StopTransaction", `{}`, &StopTransactionConf{}},
	{"StopTransaction", `{"idTagInfo":{"status":"Blocked"}}`, &StopTransactionConf{}},
	{"MeterValues", `{}`, &MeterValuesConf{}},
	{"DataTransfer", `{"status":"UnknownVendorId"}`, &DataTransferConf{}},
	{"RemoteStartTransaction", `{"status":"Accepted"}`, &RemoteStartTransactionConf{}},
	{"RemoteStopTransaction", `{"status":"Rejected"}`, &RemoteStopTransactionConf{}},
	{"ChangeConfiguration", `{"status":"RebootRequired"}`, &ChangeConfigurationConf{}},
	{"GetConfiguration", `{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":"300"},{"key":"X","readonly":true}],"unknownKey":["Nope"]}`, &GetConfigurationConf{}},
	{"TriggerMessage", `{"status":"NotImplemented"}`, &TriggerMessageConf{}},
	{"Reset", `{"status":"Accepted"}`, &ResetConf{}},
	{"UnlockConnector", `{"status":"UnlockFailed"}`, &UnlockConnectorConf{}},
}

func TestValidPayloads(t *testing.T) {
	check := func(kind, action, payload string, into any, validate func(string, []byte) *CallError) {
		t.Helper()
		if err := validate(action, []byte(payload)); err != nil {
			t.Errorf("%s %s: %v", action, kind, err)
			return
		}
		if into == nil {
			return
		}
		if err := json.Unmarshal([]byte(payload), into); err != nil {
			t.Errorf("%s %s: valid but does not decode: %v", action, kind, err)
			return
		}
		// What we write from the Go value is valid too.
		out, err := json.Marshal(into)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(action, out); err != nil {
			t.Errorf("%s %s: re-encoded %s: %v", action, kind, out, err)
		}
	}
	for _, v := range validRequests {
		check("req", v.action, v.payload, v.into, ValidateRequest)
	}
	for _, v := range validConfirmations {
		check("conf", v.action, v.payload, v.into, ValidateConfirmation)
	}
}

func TestDecodedValues(t *testing.T) {
	var mv MeterValuesReq
	if err := json.Unmarshal([]byte(validRequests[11].payload), &mv); err != nil {
		t.Fatal(err)
	}
	if *mv.TransactionId != 9223372036854775807 || mv.MeterValue[0].SampledValue[0].Value != "5995441.000" {
		t.Fatalf("%+v", mv)
	}
	d, err := mv.MeterValue[0].SampledValue[0].Decimal()
	if err != nil || d.String() != "5995441.000" {
		t.Fatal(d, err)
	}
	if _, err := mv.MeterValue[0].SampledValue[3].Decimal(); err != ErrSignedValue {
		t.Fatal(err)
	}
	sv := SampledValue{Value: "1"}
	if sv.MeasurandOrDefault() != MeasurandEnergyActiveImportRegister || sv.UnitOrDefault() != UnitWh || sv.ContextOrDefault() != ContextSamplePeriodic {
		t.Fatal("defaults")
	}

	var st StatusNotificationReq
	if err := json.Unmarshal([]byte(validRequests[6].payload), &st); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 3, 31, 0, 59, 59, 500_000_000, time.UTC)
	if !st.Timestamp.Equal(want) {
		t.Fatalf("%v, want %v", st.Timestamp, want)
	}

	var rs RemoteStartTransactionReq
	if err := json.Unmarshal([]byte(validRequests[14].payload), &rs); err != nil {
		t.Fatal(err)
	}
	p := rs.ChargingProfile.ChargingSchedule.ChargingSchedulePeriod
	if p[0].Limit.Decimal != decimal.MustParse("16.5") || p[1].Limit.Cmp(decimal.MustParse("10")) != 0 {
		t.Fatalf("%+v", p)
	}
}

// TestViolations is the table of each kind of violation, with the code and
// the JSON path the description must name.
func TestViolations(t *testing.T) {
	mv := func(sv string) string {
		return `{"connectorId":1,"meterValue":[{"timestamp":"2024-01-01T00:00:00Z","sampledValue":[{"value":"1"},` + sv + `]}]}`
	}
	profile := func(limit string) string {
		return `{"idTag":"T","chargingProfile":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Relative","chargingSchedule":{"chargingRateUnit":"W","chargingSchedulePeriod":[{"startPeriod":0,"limit":` + limit + `}]}}}`
	}
	tests := []struct {
		action, payload string
		conf            bool
		code            ErrorCode
		desc            string
	}{
		// Type.
		{"Authorize", `{"idTag":5}`, false, TypeConstraintViolation, "idTag: expected string, got number"},
		{"Authorize", `{"idTag":null}`, false, TypeConstraintViolation, "idTag: expected string, got null"},
		{"Authorize", `[]`, false, TypeConstraintViolation, "payload: expected object, got array"},
		{"MeterValues", mv(`{"value":230.1}`), false, TypeConstraintViolation, "meterValue[0].sampledValue[1].value: expected string, got number"},
		{"MeterValues", `{"connectorId":"1","meterValue":[]}`, false, TypeConstraintViolation, "connectorId: expected integer, got string"},
		{"MeterValues", `{"connectorId":1.0,"meterValue":[]}`, false, TypeConstraintViolation, "connectorId: expected integer, got 1.0"},
		{"MeterValues", `{"connectorId":1e0,"meterValue":[]}`, false, TypeConstraintViolation, "connectorId: expected integer"},
		{"MeterValues", `{"connectorId":1,"meterValue":{}}`, false, TypeConstraintViolation, "meterValue: expected array, got object"},
		{"MeterValues", `{"connectorId":1,"meterValue":[[]]}`, false, TypeConstraintViolation, "meterValue[0]: expected object, got array"},
		{"GetConfiguration", `{"configurationKey":[{"key":"k","readonly":"false"}]}`, true, TypeConstraintViolation, "configurationKey[0].readonly: expected boolean, got string"},
		{"RemoteStartTransaction", profile(`"16"`), false, TypeConstraintViolation, "chargingSchedule.chargingSchedulePeriod[0].limit: expected number, got string"},
		// Occurrence.
		{"Authorize", `{}`, false, OccurenceConstraintViolation, "idTag: required property missing"},
		{"StartTransaction", `{"connectorId":1,"idTag":"T","meterStart":0}`, false, OccurenceConstraintViolation, "timestamp: required property missing"},
		{"MeterValues", `{"connectorId":1,"meterValue":[{"sampledValue":[]}]}`, false, OccurenceConstraintViolation, "meterValue[0].timestamp: required property missing"},
		{"MeterValues", mv(`{"unit":"Wh"}`), false, OccurenceConstraintViolation, "meterValue[0].sampledValue[1].value: required property missing"},
		{"BootNotification", `{"status":"Accepted","interval":1}`, true, OccurenceConstraintViolation, "currentTime: required property missing"},
		{"GetInstalledCertificateIds", `{"status":"Accepted","certificateHashData":[]}`, true, OccurenceConstraintViolation, "certificateHashData: 0 items, at least 1 required"},
		// Property constraints.
		{"Authorize", `{"idTag":"123456789012345678901"}`, false, PropertyConstraintViolation, "idTag: 21 characters, at most 20 allowed"},
		{"Authorize", `{"idTag":"ééééééééééééééééééééé"}`, false, PropertyConstraintViolation, "idTag: 21 characters"},
		{"MeterValues", mv(`{"value":"1","measurand":"Energy"}`), false, PropertyConstraintViolation, `meterValue[0].sampledValue[1].measurand: "Energy" is not one of`},
		{"MeterValues", mv(`{"value":"1","unit":"wh"}`), false, PropertyConstraintViolation, `meterValue[0].sampledValue[1].unit: "wh" is not one of`},
		{"StatusNotification", `{"connectorId":1,"errorCode":"NoError","status":"charging"}`, false, PropertyConstraintViolation, `status: "charging" is not one of`},
		{"StartTransaction", `{"connectorId":1,"idTag":"T","meterStart":0,"timestamp":"2024-01-01 00:00:00Z"}`, false, PropertyConstraintViolation, "timestamp: \"2024-01-01 00:00:00Z\" is not an RFC 3339 date-time"},
		{"StartTransaction", `{"connectorId":1,"idTag":"T","meterStart":0,"timestamp":"2024-01-01T00:00:00"}`, false, PropertyConstraintViolation, "timestamp"},
		{"StartTransaction", `{"connectorId":1,"idTag":"T","meterStart":0,"timestamp":"2023-02-29T00:00:00Z"}`, false, PropertyConstraintViolation, "timestamp"},
		{"StartTransaction", `{"connectorId":1,"idTag":"T","meterStart":99999999999999999999,"timestamp":"2024-01-01T00:00:00Z"}`, false, PropertyConstraintViolation, "meterStart: integer 99999999999999999999 out of range"},
		{"RemoteStartTransaction", profile(`16.55`), false, PropertyConstraintViolation, "limit: 16.55 is not a multiple of 1e-1"},
		{"RemoteStartTransaction", profile(`1.5e-1`), false, PropertyConstraintViolation, "is not a multiple"},
		{"GetDiagnostics", `{"location":"not a uri"}`, false, PropertyConstraintViolation, "location: \"not a uri\" is not an absolute URI"},
		// Formation.
		{"Authorize", `{"idTag":"A","extra":1}`, false, FormationViolation, "extra: property not allowed"},
		{"Authorize", `{"idTag":"A","idTag":"B"}`, false, FormationViolation, "idTag: property given twice"},
		{"Heartbeat", `{"a":1}`, false, FormationViolation, "a: property not allowed"},
		{"MeterValues", mv(`{"value":"1","foo":"bar"}`), false, FormationViolation, "meterValue[0].sampledValue[1].foo: property not allowed"},
		{"Heartbeat", `{} {}`, false, FormationViolation, "data after"},
		{"Heartbeat", `{`, false, FormationViolation, "invalid JSON"},
		{"Authorize", `{"idTag":tru}`, false, FormationViolation, "invalid literal"},
		// Actions.
		{"Nope", `{}`, false, NotImplemented, `unknown action "Nope"`},
		{"Nope", `{}`, true, NotImplemented, `unknown action "Nope"`},
	}
	for _, tt := range tests {
		validate := ValidateRequest
		if tt.conf {
			validate = ValidateConfirmation
		}
		err := validate(tt.action, []byte(tt.payload))
		if err == nil {
			t.Errorf("%s %s: valid", tt.action, tt.payload)
			continue
		}
		if err.Code != tt.code || !strings.Contains(err.Description, tt.desc) {
			t.Errorf("%s %s:\n got %s %q\nwant %s %q", tt.action, tt.payload, err.Code, err.Description, tt.code, tt.desc)
		}
	}
}

// TestIsDateTimeMatchesTime: what isDateTime accepts, time.Time reads
// (so decoding a valid payload never fails); it refuses what RFC 3339
// refuses even where Go is lenient.
func TestIsDateTimeMatchesTime(t *testing.T) {
	rfcInvalid := map[string]bool{"2024-01-01T00:00:00+24:00": true, "2024-01-01T00:00:00,5Z": true, "2024-01-01T00:00:00+01:60": true}
	for _, s := range []string{
		"2024-01-01T00:00:00Z", "2024-01-01T00:00:00.1Z", "2024-01-01T00:00:00.123456789123Z",
		"2024-01-01T00:00:00+23:59", "2024-01-01T00:00:00-00:00", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
		"2024-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z", "2024-01-01T00:00:00+24:00", "2024-01-01T00:00:60Z", "2024-01-01T24:00:00Z",
		"2024-01-01t00:00:00z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00,5Z", "2024-13-01T00:00:00Z",
		"2024-00-01T00:00:00Z", "2024-01-00T00:00:00Z", "2024-01-01T00:00:00+0100", "2024-01-01T00:00:00+01:60",
		"24-01-01T00:00:00Z", "2024-1-01T00:00:00Z", "2024-01-01T00:00:00ZZ", "+024-01-01T00:00:00Z",
		"2024-01-01T00:00:00.1234", "2024-01-01T00:00:00 Z",
	} {
		var tm time.Time
		goOK := tm.UnmarshalJSON([]byte(`"`+s+`"`)) == nil
		if got := isDateTime([]byte(s)); got != (goOK && !rfcInvalid[s]) {
			t.Errorf("%s: isDateTime %v, time.Time %v", s, got, goOK)
		}
	}
}

// TestTypesCoverSchemas checks that every property of a typed message's
// schema has a field in its Go type, so nothing valid is silently dropped.
func TestTypesCoverSchemas(t *testing.T) {
	types := map[string][2]any{
		ActionAuthorize: {AuthorizeReq{}, AuthorizeConf{}}, ActionBootNotification: {BootNotificationReq{}, BootNotificationConf{}},
		ActionDataTransfer: {DataTransferReq{}, DataTransferConf{}}, ActionHeartbeat: {HeartbeatReq{}, HeartbeatConf{}},
		ActionMeterValues: {MeterValuesReq{}, MeterValuesConf{}}, ActionStartTransaction: {StartTransactionReq{}, StartTransactionConf{}},
		ActionStatusNotification: {StatusNotificationReq{}, StatusNotificationConf{}}, ActionStopTransaction: {StopTransactionReq{}, StopTransactionConf{}},
		ActionRemoteStartTransaction: {RemoteStartTransactionReq{}, RemoteStartTransactionConf{}},
		ActionRemoteStopTransaction:  {RemoteStopTransactionReq{}, RemoteStopTransactionConf{}},
		ActionChangeConfiguration:    {ChangeConfigurationReq{}, ChangeConfigurationConf{}},
		ActionGetConfiguration:       {GetConfigurationReq{}, GetConfigurationConf{}},
		ActionTriggerMessage:         {TriggerMessageReq{}, TriggerMessageConf{}},
		ActionReset:                  {ResetReq{}, ResetConf{}}, ActionUnlockConnector: {UnlockConnectorReq{}, UnlockConnectorConf{}},
	}
	set := schemas()
	for action, pair := range types {
		cover(t, action+".req", set.req[action], reflect.TypeOf(pair[0]))
		cover(t, action+".conf", set.conf[action], reflect.TypeOf(pair[1]))
	}
}

func cover(t *testing.T, at string, n *node, typ reflect.Type) {
	t.Helper()
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
	}
	switch n.typ {
	case tObject:
		if typ.Kind() != reflect.Struct {
			t.Errorf("%s: object mapped to %s", at, typ)
			return
		}
		fields := map[string]reflect.StructField{}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fields[name] = f
		}
		if len(fields) != len(n.props) {
			t.Errorf("%s: %d fields for %d properties", at, len(fields), len(n.props))
		}
		for i, p := range n.props {
			f, ok := fields[p.name]
			if !ok {
				t.Errorf("%s.%s: no field", at, p.name)
				continue
			}
			required := n.required&(1<<i) != 0
			omit := strings.Contains(f.Tag.Get("json"), "omitempty")
			if required == omit {
				t.Errorf("%s.%s: required %v but omitempty %v", at, p.name, required, omit)
			}
			cover(t, at+"."+p.name, p.node, f.Type)
		}
	case tArray:
		cover(t, at+"[]", n.items, typ)
	case tString:
		if typ.Kind() != reflect.String && typ != reflect.TypeOf(time.Time{}) {
			t.Errorf("%s: string mapped to %s", at, typ)
		}
		if n.format == fmtDateTime && typ != reflect.TypeOf(time.Time{}) {
			t.Errorf("%s: date-time mapped to %s", at, typ)
		}
	case tInteger:
		if typ.Kind() != reflect.Int {
			t.Errorf("%s: integer mapped to %s", at, typ)
		}
	case tNumber:
		if typ != reflect.TypeOf(Decimal{}) {
			t.Errorf("%s: number mapped to %s", at, typ)
		}
	case tBoolean:
		if typ.Kind() != reflect.Bool {
			t.Errorf("%s: boolean mapped to %s", at, typ)
		}
	}
}
