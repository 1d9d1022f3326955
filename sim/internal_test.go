package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/evbill/evbill/ocpp"
)

func testFleet(t *testing.T, chaos bool) *fleet {
	t.Helper()
	cfg, err := Config{URL: "ws://127.0.0.1:1/ocpp", Chargers: 1, Chaos: chaos}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{cfg: cfg}
	f.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	return f
}

// TestFramesAreSchemaValid builds every kind of CALL a charger sends, in
// every state that changes its content, and checks it against the
// official OCPP 1.6 schemas, framed and unframed.
func TestFramesAreSchemaValid(t *testing.T) {
	f := testFleet(t, false)
	for _, dc := range []bool{false, true} {
		st := Station{ChargePointID: "SIM-00001", DC: dc, MaxPowerW: 22000, Model: "AC22"}
		if dc {
			st.MaxPowerW, st.Model = 350000, "DC350"
		}
		c := newCharger(f, st)
		c.booted, c.everBooted = true, true
		c.enqueue(outMsg{kind: kBoot})
		c.enqueue(outMsg{kind: kHeartbeat})
		c.sample(false)               // outside a transaction
		c.beginSession("SIM-TOKEN-1") // offline: no Authorize
		c.enqueue(outMsg{kind: kAuthorize, sess: c.sess})
		c.sess.txID = 42
		c.sample(false)
		c.sample(true)
		c.becomeFull(c.stamp())
		c.sample(false)
		c.stopTx(ocpp.ReasonEVDisconnected)
		for _, st := range []ocpp.ChargePointStatus{ocpp.StatusAvailable, ocpp.StatusPreparing, ocpp.StatusCharging,
			ocpp.StatusSuspendedEV, ocpp.StatusFinishing} {
			c.status(1, st)
		}
		seen := map[kind]int{}
		for _, m := range c.queue {
			seen[m.kind]++
			p, err := c.payload(&m)
			if err != nil {
				t.Fatal(err)
			}
			if cerr := ocpp.ValidateRequest(kindAction[m.kind], p); cerr != nil {
				t.Errorf("%s %s: %v", kindAction[m.kind], p, cerr)
			}
			frame := ocpp.AppendCall(nil, "a1", kindAction[m.kind], p)
			fr, perr := ocpp.ParseFrame(frame)
			if perr != nil || fr.Type != ocpp.TypeCall || fr.Action != kindAction[m.kind] || fr.UniqueID != "a1" {
				t.Errorf("frame %s: %+v %v", frame, fr, perr)
			}
			if m.kind == kMeter && m.sess != nil {
				var req ocpp.MeterValuesReq
				if err := json.Unmarshal(p, &req); err != nil || req.TransactionId == nil || *req.TransactionId != 42 {
					t.Errorf("meter values %s: %v", p, err)
				}
			}
		}
		for k := range numKinds {
			if seen[k] == 0 {
				t.Errorf("no %s built", kindAction[k])
			}
		}
	}
}

// TestAnswersAreSchemaValid sends the charger each CALL a central system
// may send and checks the confirmation against the .conf schema.
func TestAnswersAreSchemaValid(t *testing.T) {
	f := testFleet(t, false)
	c := newCharger(f, StationFor(1, 0, "SIM-", 0))
	c.booted = true
	one := 1
	calls := []struct {
		action string
		req    any
	}{
		{ocpp.ActionChangeConfiguration, ocpp.ChangeConfigurationReq{Key: "MeterValueSampleInterval", Value: "60"}},
		{ocpp.ActionChangeConfiguration, ocpp.ChangeConfigurationReq{Key: "MeterValuesSampledData", Value: "Energy.Active.Import.Register,SoC"}},
		{ocpp.ActionChangeConfiguration, ocpp.ChangeConfigurationReq{Key: "NoSuchKey", Value: "1"}},
		{ocpp.ActionGetConfiguration, ocpp.GetConfigurationReq{}},
		{ocpp.ActionGetConfiguration, ocpp.GetConfigurationReq{Key: []string{"MeterValueSampleInterval", "Nope"}}},
		{ocpp.ActionTriggerMessage, ocpp.TriggerMessageReq{RequestedMessage: ocpp.TriggerStatusNotification, ConnectorId: &one}},
		{ocpp.ActionTriggerMessage, ocpp.TriggerMessageReq{RequestedMessage: ocpp.TriggerFirmwareStatusNotification}},
		{ocpp.ActionRemoteStartTransaction, ocpp.RemoteStartTransactionReq{IdTag: "SIM-TOKEN-1", ConnectorId: &one}},
		{ocpp.ActionRemoteStopTransaction, ocpp.RemoteStopTransactionReq{TransactionId: 7}},
		{ocpp.ActionUnlockConnector, ocpp.UnlockConnectorReq{ConnectorId: 1}},
		{ocpp.ActionReset, ocpp.ResetReq{Type: ocpp.ResetSoft}},
		{ocpp.ActionDataTransfer, ocpp.DataTransferReq{VendorId: ocpp.CostMsgVendorID, MessageId: ocpp.CostMsgRunningCost, Data: `{"transactionId":7,"cost":1.23}`}},
		{ocpp.ActionDataTransfer, ocpp.DataTransferReq{VendorId: "com.example", MessageId: "Hello"}},
	}
	for _, call := range calls {
		p, _ := json.Marshal(call.req)
		if cerr := ocpp.ValidateRequest(call.action, p); cerr != nil {
			t.Fatalf("test request %s %s: %v", call.action, p, cerr)
		}
		conf, _, cerr := c.handle(call.action, p)
		if cerr != nil {
			t.Errorf("%s: %v", call.action, cerr)
			continue
		}
		b, _ := json.Marshal(conf)
		if cerr := ocpp.ValidateConfirmation(call.action, b); cerr != nil {
			t.Errorf("%s answer %s: %v", call.action, b, cerr)
		}
	}
	if c.meterInterval != time.Minute {
		t.Errorf("MeterValueSampleInterval not honoured: %v", c.meterInterval)
	}
	if n := f.st.costMessages.Load(); n != 1 {
		t.Errorf("%d cost messages counted, want the one California Pricing message", n)
	}
	for _, tc := range []struct {
		req  ocpp.DataTransferReq
		want ocpp.DataTransferStatus
	}{
		{ocpp.DataTransferReq{VendorId: ocpp.CostMsgVendorID, MessageId: ocpp.CostMsgFinalCost, Data: `{"transactionId":7,"cost":1.23,"priceText":"x"}`}, ocpp.DataTransferAccepted},
		{ocpp.DataTransferReq{VendorId: ocpp.CostMsgVendorID, MessageId: "SetDisplay"}, ocpp.DataTransferUnknownMessageId},
		{ocpp.DataTransferReq{VendorId: ocpp.CostMsgVendorID, MessageId: ocpp.CostMsgSetUserPrice, Data: "not json"}, ocpp.DataTransferRejected},
		{ocpp.DataTransferReq{VendorId: "com.example"}, ocpp.DataTransferUnknownVendorId},
	} {
		p, _ := json.Marshal(tc.req)
		conf, _, cerr := c.handle(ocpp.ActionDataTransfer, p)
		if got, ok := conf.(*ocpp.DataTransferConf); cerr != nil || !ok || got.Status != tc.want {
			t.Errorf("DataTransfer %s: %+v, %v; want %s", p, conf, cerr, tc.want)
		}
	}
	if _, _, cerr := c.handle("ClearCache", []byte("{}")); cerr == nil || cerr.Code != ocpp.NotSupported {
		t.Errorf("ClearCache: %v, want NotSupported", cerr)
	}
	// A fixed interval stays fixed.
	f.cfg.MeterIntervalFixed, f.cfg.MeterInterval = true, 5*time.Second
	c2 := newCharger(f, StationFor(1, 1, "SIM-", 0))
	c2.handle(ocpp.ActionChangeConfiguration, []byte(`{"key":"MeterValueSampleInterval","value":"60"}`))
	if c2.meterInterval != 5*time.Second {
		t.Errorf("a fixed interval changed to %v", c2.meterInterval)
	}
}

// TestTaper: power never rises with the state of charge, never exceeds the
// maximum, and is zero once the car is full.
func TestTaper(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		st := StationFor(3, i, "SIM-", 0.5)
		b := newBattery(r, st)
		if b.pmax > float64(st.MaxPowerW) || b.pmax <= 0 {
			t.Fatalf("pmax %v for a %d W station", b.pmax, st.MaxPowerW)
		}
		prev := math.Inf(1)
		for s := 0.0; s <= 1.0; s += 0.001 {
			p := b.power(s)
			if p > prev+1e-9 || p > b.pmax || p < 0 {
				t.Fatalf("%+v: power %v at SoC %.3f after %v", b, p, s, prev)
			}
			if s >= b.target && p != 0 {
				t.Fatalf("%+v: power %v when full at %.3f", b, p, s)
			}
			prev = p
		}
		if st.DC && b.power(b.knee+0.1) >= b.pmax && b.knee+0.1 < b.target {
			t.Errorf("DC does not taper after the knee: %+v", b)
		}
	}
}

// TestEnergyIsIntegralOfPower: the closed form agrees with a fine
// numerical integration of the power curve, never beats the maximum
// power, and reaches the target exactly at hoursToFull whatever the steps.
func TestEnergyIsIntegralOfPower(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 200 {
		st := StationFor(9, i, "SIM-", 0.5)
		b := newBattery(r, st)
		full := b.hoursToFull()
		// Numerical reference: Euler with 20,000 steps.
		ref := b
		var refWh float64
		dt := full / 2 / 20000
		for range 20000 {
			p := ref.power(ref.soc)
			refWh += p * dt
			ref.soc += p * dt / ref.capWh
		}
		closed := b
		var wh float64
		steps := 1 + r.IntN(50)
		for range steps {
			h := full / 2 / float64(steps)
			e := closed.advance(h)
			if e > b.pmax*h*(1+1e-9) || e < 0 {
				t.Fatalf("%+v: %v Wh in %v h exceeds max power", b, e, h)
			}
			wh += e
		}
		if math.Abs(wh-refWh) > 0.002*refWh+1 {
			t.Errorf("%+v: closed form %v Wh, numerical %v Wh", b, wh, refWh)
		}
		if got := closed.hoursToFull(); math.Abs(got-full/2) > 1e-6 {
			t.Errorf("%+v: %v h left after half of %v", b, got, full)
		}
		closed.advance(closed.hoursToFull() + 1e-9)
		if !closed.full() {
			t.Errorf("%+v: not full at hoursToFull", b)
		}
		if e := closed.advance(1); e != 0 {
			t.Errorf("a full car took %v Wh", e)
		}
	}
}

// TestStationsAreDeterministic: provisioning and simulation compute the
// same station from the same seed and index.
func TestStationsAreDeterministic(t *testing.T) {
	dc := 0
	for i := range 1000 {
		a, b := StationFor(42, i, "SIM-", 0.2), StationFor(42, i, "SIM-", 0.2)
		if a != b {
			t.Fatalf("%+v != %+v", a, b)
		}
		if a.DC {
			dc++
		}
	}
	if dc < 150 || dc > 250 {
		t.Errorf("%d DC stations of 1000 with a share of 0.2", dc)
	}
	if got := StationFor(1, 0, "SIM-", 0).ChargePointID; got != "SIM-00001" {
		t.Errorf("id %s", got)
	}
	if got := (Station{MaxPowerW: 7400}).MaxPowerKW(); got != "7.4" {
		t.Errorf("7400 W is %s kW", got)
	}
}

// TestTimestampsIncrease: timestamps are strictly increasing even when the
// clock has not moved.
func TestTimestampsIncrease(t *testing.T) {
	c := newCharger(testFleet(t, false), StationFor(1, 0, "SIM-", 0))
	prev := int64(0)
	for range 1000 {
		ts := c.stamp()
		if ts <= prev {
			t.Fatalf("%d after %d", ts, prev)
		}
		prev = ts
	}
}

// TestHistogram: quantiles are within a bucket of the truth.
func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(c.q)
		if math.Abs(float64(got-c.want)) > 0.125*float64(c.want) {
			t.Errorf("q%.2f = %v, want about %v", c.q, got, c.want)
		}
	}
	if h.latency().MaxMs != 1000 {
		t.Errorf("max %v", h.latency().MaxMs)
	}
}

// TestMeterValuesPayload holds the hand-written MeterValues payload to
// what encoding/json makes of the same request in the ocpp types.
func TestMeterValuesPayload(t *testing.T) {
	sess := &session{txID: 4711}
	for _, m := range []outMsg{
		{kind: kMeter, connector: 1, ts: 1_700_000_000_123, wh: 12345, powerW: 11000, currentDA: 163, soc: 57, sess: sess},
		{kind: kMeter, connector: 2, ts: 1_700_000_000_000, wh: 0, powerW: 0, currentDA: 0, soc: -1, sess: sess, trigger: true},
		{kind: kMeter, connector: 1, ts: 1_700_000_000_999, wh: 99, currentDA: -5, sess: sess},
		{kind: kMeter, connector: 3, ts: 1_700_000_000_500, wh: 7}, // outside a transaction
	} {
		ctxt := ocpp.ContextSamplePeriodic
		if m.trigger {
			ctxt = ocpp.ContextTrigger
		}
		want := ocpp.MeterValuesReq{ConnectorId: int(m.connector)}
		sv := []ocpp.SampledValue{{Value: strconv.FormatInt(m.wh, 10), Context: ctxt, Measurand: ocpp.MeasurandEnergyActiveImportRegister, Location: ocpp.LocationOutlet, Unit: "Wh"}}
		if m.sess != nil {
			tx := m.sess.txID
			want.TransactionId = &tx
			amps := fmt.Sprintf("%d.%d", m.currentDA/10, m.currentDA%10)
			if m.currentDA < 0 {
				amps = fmt.Sprintf("-%d.%d", -m.currentDA/10, -m.currentDA%10)
			}
			sv = append(sv,
				ocpp.SampledValue{Value: strconv.Itoa(int(m.powerW)), Context: ctxt, Measurand: ocpp.MeasurandPowerActiveImport, Location: ocpp.LocationOutlet, Unit: "W"},
				ocpp.SampledValue{Value: amps, Context: ctxt, Measurand: ocpp.MeasurandCurrentImport, Location: ocpp.LocationOutlet, Unit: "A"},
				ocpp.SampledValue{Value: strconv.Itoa(int(m.soc)), Context: ctxt, Measurand: ocpp.MeasurandSoC, Location: ocpp.LocationEV, Unit: "Percent"})
		}
		want.MeterValue = []ocpp.MeterValue{{Timestamp: ts(m.ts), SampledValue: sv}}
		wantJSON, err := json.Marshal(&want)
		if err != nil {
			t.Fatal(err)
		}
		got := appendMeterValues(nil, &m)
		if string(got) != string(wantJSON) {
			t.Errorf("payload\n got %s\nwant %s", got, wantJSON)
		}
		if err := ocpp.ValidateRequest(ocpp.ActionMeterValues, got); err != nil {
			t.Errorf("payload %s breaks the schema: %v", got, err)
		}
	}
}
