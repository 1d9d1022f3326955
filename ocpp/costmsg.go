package ocpp

import (
	"encoding/json"
	"fmt"
	"time"
)

// The Open Charge Alliance's "OCPP & California Pricing Requirements"
// white paper lets an OCPP 1.6 central system show a driver prices and
// costs on the charger's own display. OCPP 1.6 has no message for it, so
// the paper carries three of its own in DataTransfer: vendorId
// CostMsgVendorID, messageId one of the CostMsg… constants, and data a
// JSON object written into DataTransfer's data string (the 1.6 schema
// types data as a string, so the object travels as its JSON text).
//
// The payloads below hold the fields evbill sends. Fields are as the paper
// names them and as the open implementations that read them (EVerest
// libocpp, MicroOcpp, CitrineOS) agree; the paper's optional extras that
// evbill does not send (RunningCost's nextPeriod and triggerMeterValue,
// FinalCost's qrCodeText) are left out rather than guessed. Amounts are
// Decimal, written as JSON numbers with the engine's exact digits.

// CostMsgVendorID is the DataTransfer vendorId of the California Pricing
// messages.
const CostMsgVendorID = "org.openchargealliance.costmsg"

// The DataTransfer messageIds of the California Pricing messages.
const (
	// CostMsgSetUserPrice carries the price of the driver an idTag
	// identifies, sent once the idTag is authorized.
	CostMsgSetUserPrice = "SetUserPrice"
	// CostMsgRunningCost carries the cost so far of a running transaction.
	CostMsgRunningCost = "RunningCost"
	// CostMsgFinalCost carries the cost of a transaction that ended.
	CostMsgFinalCost = "FinalCost"
)

// CostText is a price text in another language than the main one
// (priceTextExtra), for chargers that show several languages.
type CostText struct {
	// Format is how Content is written; "UTF8" for plain text.
	Format string `json:"format"`
	// Language is an RFC 5646 language tag, such as "nl".
	Language string `json:"language"`
	Content  string `json:"content"`
}

// SetUserPrice is the data of a SetUserPrice message: what the driver of
// IdToken pays, as text to display.
type SetUserPrice struct {
	IdToken        string     `json:"idToken"`
	PriceText      string     `json:"priceText"`
	PriceTextExtra []CostText `json:"priceTextExtra,omitempty"`
}

// CostState is whether a transaction is charging or idle (connected, no
// longer charging) when its running cost is sent.
type CostState string

// The CostState values.
const (
	CostCharging CostState = "Charging"
	CostIdle     CostState = "Idle"
)

// ChargingPrice is the price in force while charging: per kWh, per hour,
// and the session's flat fee. A price that does not apply is left out.
type ChargingPrice struct {
	KWhPrice  *Decimal `json:"kWhPrice,omitempty"`
	HourPrice *Decimal `json:"hourPrice,omitempty"`
	FlatFee   *Decimal `json:"flatFee,omitempty"`
}

// IdlePrice is the price per hour of staying connected once charging has
// finished.
type IdlePrice struct {
	HourPrice Decimal `json:"hourPrice"`
}

// RunningCost is the data of a RunningCost message: the cost of
// transaction TransactionId as of Timestamp, when the energy register read
// MeterValue Wh, and the prices in force then.
type RunningCost struct {
	TransactionId int           `json:"transactionId"`
	Timestamp     time.Time     `json:"timestamp"`
	MeterValue    int64         `json:"meterValue"`
	Cost          Decimal       `json:"cost"`
	State         CostState     `json:"state"`
	ChargingPrice ChargingPrice `json:"chargingPrice"`
	IdlePrice     *IdlePrice    `json:"idlePrice,omitempty"`
}

// FinalCost is the data of a FinalCost message: what the transaction
// costs, and the text to show with it.
type FinalCost struct {
	TransactionId int     `json:"transactionId"`
	Cost          Decimal `json:"cost"`
	PriceText     string  `json:"priceText"`
}

// CostMessage returns the DataTransfer request carrying one California
// Pricing message: data is marshalled and written into the request's data
// string.
func CostMessage(messageID string, data any) (*DataTransferReq, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("ocpp: %s: %w", messageID, err)
	}
	return &DataTransferReq{VendorId: CostMsgVendorID, MessageId: messageID, Data: string(b)}, nil
}
