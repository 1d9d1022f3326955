// Package examples holds the example documents shipped with evbill, embedded
// so that the binary can use them (evbill demo prices its sessions under
// Tariff) without the source tree at hand.
package examples

import _ "embed"

// Tariff is examples/tariff.json: an OCPI 2.2.1 time-of-use tariff in EUR
// with a start fee, day and night energy and time prices, and an idle fee
// by day.
//
//go:embed tariff.json
var Tariff []byte
