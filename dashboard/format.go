package dashboard

import (
	"strconv"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/money"
)

// Figures are formatted here, in Go, from integers and exact decimals:
// the pages and their scripts only show strings, so no amount is computed
// or rounded in a browser.

// noDatum stands for a figure there is none of (yet).
const noDatum = "—"

// timeFormat shows a time on a site's clock, with the zone's abbreviation
// since a tenant's sites may be in several.
const timeFormat = "2 Jan 2006 15:04 MST"

// amount writes minor units of a currency as the money package does
// ("EUR 12.38"); the bare number for a currency it does not know.
func amount(currency string, minor int64) string {
	c, err := money.ParseCurrency(currency)
	if err != nil {
		return currency + " " + strconv.FormatInt(minor, 10) + " (minor units)"
	}
	return money.Amount{Minor: minor, Currency: c}.String()
}

// kWhOf writes an energy in kWh to two decimals, rounded half away from
// zero as every figure is.
func kWhOf(d decimal.Decimal) string {
	return string(money.FormatDecimal(nil, money.Round(d, 2), 2)) + " kWh"
}

// milliWhText writes thousandths of a Wh in kWh: 10^-6 kWh each.
func milliWhText(mwh int64) string {
	d, err := decimal.New(mwh, 6)
	if err != nil { // beyond 19 digits: not an energy a tenant bills
		return noDatum
	}
	return kWhOf(d)
}

// sessionEnergy is an ended session's energy, meter stop less start, in
// kWh; noDatum for a session still running or with unreadable readings.
func sessionEnergy(s evbill.Session) string {
	if s.MeterStopWh == "" {
		return noDatum
	}
	start, err1 := money.ParseDecimal(s.MeterStartWh)
	stop, err2 := money.ParseDecimal(s.MeterStopWh)
	if err1 != nil || err2 != nil {
		return noDatum
	}
	wh, err := stop.Sub(start)
	if err != nil {
		return noDatum
	}
	kwh, err := money.Thousandth(wh)
	if err != nil {
		return noDatum
	}
	return kWhOf(kwh)
}

// powerText writes a power in kW to one decimal.
func powerText(kw decimal.Decimal) string {
	return string(money.FormatDecimal(nil, money.Round(kw, 1), 1)) + " kW"
}

// durationText writes a duration as people read one: "1 h 05 min",
// "30 min", "45 s".
func durationText(d time.Duration) string {
	d = d.Round(time.Second)
	if d < 0 {
		d = 0
	}
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	switch {
	case h > 0:
		return strconv.Itoa(h) + " h " + twoDigits(m) + " min"
	case m > 0:
		return strconv.Itoa(m) + " min"
	}
	return strconv.Itoa(s) + " s"
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// stateText words a session's state.
func stateText(state string) string {
	switch state {
	case evbill.SessionActive:
		return "Charging"
	case evbill.SessionParking:
		return "Parked"
	case evbill.SessionEnded:
		return "Ended"
	}
	return state
}
