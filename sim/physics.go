package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/govalues/decimal"
)

// Station is the hardware of one simulated charge point. It is a pure
// function of the seed and the charger's index, so that provisioning (which
// tells the central system each connector's maximum power) and a later
// simulation run with the same seed agree on it: the central system flags a
// session whose energy outruns the connector's recorded power.
type Station struct {
	Index         int
	ChargePointID string
	DC            bool
	MaxPowerW     int    // the connector's maximum power, W
	Model         string // BootNotification chargePointModel, e.g. "AC22", "DC150"
}

// The power ratings a simulated station may have, in W.
var (
	acRatings = []int{7400, 11000, 22000}
	dcRatings = []int{50000, 100000, 150000, 300000, 350000}
)

// StationFor returns the station of charger index (0-based) in a fleet of the
// given seed, id prefix and share of DC chargers. Its charge point id is the
// prefix followed by index+1 in five digits or more: SIM-00001.
func StationFor(seed uint64, index int, prefix string, dcShare float64) Station {
	r := rand.New(rand.NewPCG(seed, uint64(index)^0x9e3779b97f4a7c15))
	st := Station{Index: index, ChargePointID: fmt.Sprintf("%s%05d", prefix, index+1)}
	st.DC = r.Float64() < dcShare
	if st.DC {
		st.MaxPowerW = dcRatings[r.IntN(len(dcRatings))]
		st.Model = "DC" + strconv.Itoa(st.MaxPowerW/1000)
	} else {
		st.MaxPowerW = acRatings[r.IntN(len(acRatings))]
		st.Model = "AC" + strconv.Itoa(st.MaxPowerW/1000)
	}
	return st
}

// MaxPowerKW returns the connector's maximum power in kW as an exact decimal
// ("7.4", "150"): the API takes it as a JSON number, and passing it through
// float64 could write 7.4 as 7.3999….
func (s Station) MaxPowerKW() string {
	return decimal.MustNew(int64(s.MaxPowerW), 3).Trim(0).String()
}

// Standard returns the OCPI connector standard: Type 2 socket for AC, CCS
// (Type 2 combo) for DC.
func (s Station) Standard() string {
	if s.DC {
		return "IEC_62196_T2_COMBO"
	}
	return "IEC_62196_T2"
}

// PowerType returns the OCPI power type of the connector.
func (s Station) PowerType() string {
	if s.DC {
		return "DC"
	}
	return "AC_3_PHASE"
}

// battery is the vehicle of one session. Its charging power depends only on
// its state of charge: constant up to the knee, then falling linearly to
// minFrac of the maximum at 100 %, and zero once the target is reached (the
// car stops drawing). Because power is a function of SoC alone, the charge
// over time has a closed form (exponential in the falling part), so energy
// is exactly the integral of the power the meter reports, whatever the
// sampling interval: the central system's plausibility check compares the
// two.
type battery struct {
	capWh  float64 // usable capacity
	pmax   float64 // W: the smaller of the station's and the car's limit
	knee   float64 // SoC where the taper starts
	minPct float64 // power at 100 % SoC as a fraction of pmax
	soc    float64 // 0…1
	target float64 // SoC at which the car stops charging
}

// newBattery draws a vehicle for a station: 40–100 kWh, arriving at 10–60 %
// and leaving full at 80–100 %. DC cars accept 50–250 kW and taper from
// 50–80 %; AC cars charge at their on-board charger's rate, which may be
// below the station's, almost to the end.
func newBattery(r *rand.Rand, st Station) battery {
	b := battery{
		capWh:  40000 + 60000*r.Float64(),
		soc:    0.10 + 0.50*r.Float64(),
		target: 0.80 + 0.20*r.Float64(),
	}
	var car float64
	if st.DC {
		car = 50000 + 200000*r.Float64()
		b.knee, b.minPct = 0.50+0.30*r.Float64(), 0.08
	} else {
		car = float64(acRatings[r.IntN(len(acRatings))])
		b.knee, b.minPct = 0.90+0.07*r.Float64(), 0.30
	}
	b.pmax = math.Min(car, float64(st.MaxPowerW))
	return b
}

// full reports whether the car has stopped charging.
func (b *battery) full() bool { return b.soc >= b.target }

// slope returns α and β of the taper P(s) = α − β·s beyond the knee.
func (b *battery) slope() (alpha, beta float64) {
	beta = b.pmax * (1 - b.minPct) / (1 - b.knee)
	return b.pmax + beta*b.knee, beta
}

// power returns the power drawn at SoC s, in W.
func (b *battery) power(s float64) float64 {
	switch {
	case s >= b.target:
		return 0
	case s < b.knee:
		return b.pmax
	}
	alpha, beta := b.slope()
	return alpha - beta*s
}

// advance charges for h hours and returns the energy taken in Wh, which is
// at most pmax·h: the exact integral of power over the interval.
func (b *battery) advance(h float64) float64 {
	if h <= 0 || b.full() {
		return 0
	}
	start := b.soc
	// Constant power up to the knee (or the target, if that comes first).
	if b.soc < b.knee {
		stop := math.Min(b.knee, b.target)
		need := b.capWh * (stop - b.soc) / b.pmax
		if h < need {
			b.soc += b.pmax * h / b.capWh
			return b.capWh * (b.soc - start)
		}
		b.soc, h = stop, h-need
		if b.soc >= b.target {
			b.soc = b.target
			return b.capWh * (b.soc - start)
		}
	}
	// The taper: ds/dt = (α − β·s)/C, so s(t) = α/β − (α/β − s₀)·e^(−βt/C).
	alpha, beta := b.slope()
	if tt := b.capWh / beta * math.Log((alpha-beta*b.soc)/(alpha-beta*b.target)); h >= tt {
		b.soc = b.target
	} else {
		eq := alpha / beta
		b.soc = math.Min(eq-(eq-b.soc)*math.Exp(-beta*h/b.capWh), b.target)
	}
	return b.capWh * (b.soc - start)
}

// hoursToFull returns how long the car still charges before it reaches its
// target.
func (b *battery) hoursToFull() float64 {
	if b.full() {
		return 0
	}
	h, s := 0.0, b.soc
	if s < b.knee {
		stop := math.Min(b.knee, b.target)
		h += b.capWh * (stop - s) / b.pmax
		s = stop
		if s >= b.target {
			return h
		}
	}
	alpha, beta := b.slope()
	return h + b.capWh/beta*math.Log((alpha-beta*s)/(alpha-beta*b.target))
}

// current returns the current in A for a power: per phase on a three-phase
// 230 V AC supply, or at a 400 V (800 V above 150 kW) battery for DC.
func current(st Station, w float64) float64 {
	if st.DC {
		if st.MaxPowerW > 150000 {
			return w / 800
		}
		return w / 400
	}
	return w / (3 * 230)
}
