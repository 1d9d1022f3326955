package ocpp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/govalues/decimal"
)

// TestCostMessage: each California Pricing message is a DataTransfer the
// 1.6 schema accepts, whose data is the payload's JSON with amounts as
// numbers carrying the exact digits given.
func TestCostMessage(t *testing.T) {
	dec := func(s string) *Decimal { d := Decimal{decimal.MustParse(s)}; return &d }
	for _, tc := range []struct {
		id   string
		data any
		want string
	}{
		{CostMsgSetUserPrice, SetUserPrice{IdToken: "TAG1", PriceText: "EUR 0.45/kWh",
			PriceTextExtra: []CostText{{Format: "UTF8", Language: "nl", Content: "€ 0,45/kWh"}}},
			`{"idToken":"TAG1","priceText":"EUR 0.45/kWh","priceTextExtra":[{"format":"UTF8","language":"nl","content":"€ 0,45/kWh"}]}`},
		{CostMsgRunningCost, RunningCost{TransactionId: 7, Timestamp: time.Date(2027, 3, 12, 18, 0, 0, 0, time.UTC), MeterValue: 9250,
			Cost: *dec("5.10"), State: CostCharging, ChargingPrice: ChargingPrice{KWhPrice: dec("0.5445"), FlatFee: dec("0.4235")},
			IdlePrice: &IdlePrice{HourPrice: *dec("7.26")}},
			`{"transactionId":7,"timestamp":"2027-03-12T18:00:00Z","meterValue":9250,"cost":5.10,"state":"Charging",` +
				`"chargingPrice":{"kWhPrice":0.5445,"flatFee":0.4235},"idlePrice":{"hourPrice":7.26}}`},
		{CostMsgFinalCost, FinalCost{TransactionId: 7, Cost: *dec("12.34"), PriceText: "Total EUR 12.34"},
			`{"transactionId":7,"cost":12.34,"priceText":"Total EUR 12.34"}`},
	} {
		req, err := CostMessage(tc.id, tc.data)
		if err != nil {
			t.Fatal(err)
		}
		if req.VendorId != CostMsgVendorID || req.MessageId != tc.id || req.Data != tc.want {
			t.Errorf("%s: %+v\nwant data %s", tc.id, req, tc.want)
		}
		b, _ := json.Marshal(req)
		if cerr := ValidateRequest(ActionDataTransfer, b); cerr != nil {
			t.Errorf("%s: the DataTransfer schema refuses %s: %v", tc.id, b, cerr)
		}
	}
}

// afterTwice schedules two things after its BootNotification's answer.
type afterTwice struct {
	recorder
	ran chan string
}

func (a *afterTwice) BootNotification(ctx context.Context, c *Conn, req *BootNotificationReq) (*BootNotificationConf, error) {
	c.AfterAnswer(func() { a.ran <- "first" })
	c.AfterAnswer(func() { a.ran <- "second" })
	return a.recorder.BootNotification(ctx, c, req)
}

// TestAfterAnswerAdds: a second AfterAnswer adds to the first instead of
// replacing it; both run after the answer, in order, once.
func TestAfterAnswerAdds(t *testing.T) {
	h := &afterTwice{ran: make(chan string, 8)}
	e := newEnv(t, func(s *Server) { s.Handler = h })
	ws := e.connect(t, "CP1")
	for i := range 3 {
		send(t, ws, fmt.Sprintf(`[2,"b%d","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]`, i))
		if f := recv(t, ws); f.Type != TypeCallResult {
			t.Fatalf("boot %d: %+v", i, f)
		}
		var got bytes.Buffer
		for range 2 {
			select {
			case s := <-h.ran:
				got.WriteString(s + " ")
			case <-time.After(5 * time.Second):
				t.Fatalf("boot %d: ran %q only", i, got.String())
			}
		}
		if got.String() != "first second " {
			t.Fatalf("boot %d: ran %q", i, got.String())
		}
	}
	select {
	case s := <-h.ran:
		t.Errorf("ran %q once more", s)
	default:
	}
}
