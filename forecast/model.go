package forecast

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Thresholds on the history, in days spanned from the first to the last
// observation. Each set of terms needs enough history to be told apart
// from noise; below the threshold the terms are left out rather than
// guessed, and the model says so in its notes.
const (
	minWeeklyDays = 14  // two of each weekday, so a weekday effect is not one day's noise
	minTrendDays  = 56  // eight weeks, so a trend is not a fortnight's wobble
	minYearlyDays = 365 // a whole year, so every season has been seen once
	minHourlyDays = 2   // two of each hour for an hour-of-day profile
	// yearlyHarmonics is the number of sine/cosine pairs for the yearly
	// shape: four give a smooth curve with spring, summer, autumn and
	// winter of their own, while the sharp days (Christmas) are the
	// holidays' job. More harmonics chase one year's weather.
	yearlyHarmonics = 4
	// ridge is the penalty on every coefficient but the intercept, relative
	// to the total weight. It is too small to bias a well-determined
	// coefficient and keeps a column that the history cannot determine (a
	// holiday never seen) at zero instead of making the system singular.
	ridge = 1e-4
	// huberK is the Huber tuning constant, in robust standard deviations:
	// residuals beyond it are down-weighted, so a day of outage or a
	// one-off event moves the fit little, at a 5 % efficiency cost on
	// clean Gaussian data.
	huberK = 1.345
	// robustPasses is how many times the weights are re-estimated; the
	// fit settles within a few.
	robustPasses = 4
	// logOffset is added to the values (as a share of their mean) before
	// taking logarithms, so that zeros have a finite log and days near
	// zero do not dominate the fit.
	logOffset = 0.1
	// halfLifeDays is the age at which an observation counts half as much
	// as the latest one. Charging networks change: sites open and close,
	// a car park is closed to the public at weekends, prices move. With a
	// half-life of half a year the weekday pattern and the level follow
	// such a change within months, while two years of history still weigh
	// enough (a quarter and a sixteenth) to pin down the yearly shape.
	halfLifeDays = 180
	// levelDays and levelFadeDays set the level correction: the median
	// residual of the last four weeks is added to the forecast and fades
	// with a half-life of two weeks. A recent shift that the smooth terms
	// have not caught up with yet (a site added, a busy spell) is carried
	// into the next weeks, but not assumed to last for a year.
	levelDays     = 28
	levelFadeDays = 14
	// holdoutDays and holdoutShare size the check that decides whether the
	// trend is extrapolated: the model is fitted without the last
	// max(holdoutDays, holdoutShare of the span) days, and the trend is
	// held flat beyond the history unless extrapolating it forecast those
	// days at least about as well (within holdoutMargin). A linear trend
	// through a step — a network that lost half its sites in spring — would
	// otherwise run on downhill for the whole horizon.
	holdoutDays   = 56
	holdoutShare  = 0.25
	holdoutMargin = 0.9
)

// Model is a fitted forecasting model. It is immutable and safe for
// concurrent use.
type Model struct {
	clock    clock
	n        int // periods in the history, observed or not
	lay      layout
	logScale bool
	beta     []float64
	chol     []float64 // Cholesky factor of X'WX + ridge, for leverages
	levScale float64   // turns x'(X'WX)^-1 x into a variance ratio under weights
	q10, q90 float64   // weighted residual quantiles, in the fitted scale
	scale    float64   // values were divided by it before fitting
	shift    float64   // log offset, in the divided scale
	nonneg   bool      // every observed value was >= 0
	tMid     float64   // trend feature = (min(i, tCap) - tMid) / tSpan
	tSpan    float64
	tCap     int
	holidays map[int64]bool
	single   bool // one observation: the interval is a guess
	last     int  // last observed period
	levelAdj float64
	notes    []string
}

// layout is where each group of terms sits among the coefficients; -1
// marks a group left out.
type layout struct {
	p                         int
	trend, dow, hod, sat, sun int
	year, harmonics, hol      int
}

type terms struct {
	trend, weekly, hours bool
	harmonics            int
	holidays             bool
}

func (t terms) layout() layout {
	l := layout{p: 1, trend: -1, dow: -1, hod: -1, sat: -1, sun: -1, year: -1, hol: -1}
	next := func(n int) int { j := l.p; l.p += n; return j }
	if t.trend {
		l.trend = next(1)
	}
	if t.weekly {
		l.dow = next(6) // Monday..Saturday against Sunday
	}
	if t.hours {
		l.hod = next(23) // 01:00..23:00 against midnight
		if t.weekly {
			// Weekends have their own daily shape: no commute peaks.
			l.sat = next(23)
			l.sun = next(23)
		}
	}
	if t.harmonics > 0 {
		l.harmonics = t.harmonics
		l.year = next(2 * t.harmonics)
	}
	if t.holidays {
		l.hol = next(1)
	}
	return l
}

// row fills r with the features of period i.
func (m *Model) row(i int, r *sparseRow) {
	r.reset()
	c := m.clock.calendar(i)
	l := &m.lay
	r.add(0, 1)
	if l.trend >= 0 {
		t := min(i, m.tCap)
		r.add(l.trend, (float64(t)-m.tMid)/m.tSpan)
	}
	if l.dow >= 0 && c.weekday > 0 {
		r.add(l.dow+c.weekday-1, 1)
	}
	if l.hod >= 0 && c.hour > 0 {
		r.add(l.hod+c.hour-1, 1)
		if l.sat >= 0 && c.weekday == 6 {
			r.add(l.sat+c.hour-1, 1)
		}
		if l.sun >= 0 && c.weekday == 0 {
			r.add(l.sun+c.hour-1, 1)
		}
	}
	if l.year >= 0 {
		// The phase counts from a fixed epoch, not from the history's
		// start, so the same date always gets the same features.
		w := 2 * math.Pi * math.Mod(c.years, 365.25) / 365.25
		for k := 1; k <= l.harmonics; k++ {
			s, co := math.Sincos(float64(k) * w)
			r.add(l.year+2*(k-1), s)
			r.add(l.year+2*(k-1)+1, co)
		}
	}
	if l.hol >= 0 && m.holidays[c.day] {
		r.add(l.hol, 1)
	}
}

// Notes say in plain words which parts of the model the history could not
// support and were left out, and which scale the model was fitted on, so
// that a forecast from a short history is not taken for more than it is.
func (m *Model) Notes() []string { return slices.Clone(m.notes) }

// Fit fits the model to a history. It fails only when the series is
// malformed (see Series) or has no observed value; a short history gets a
// simpler model, described in Notes.
func Fit(s Series) (*Model, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return fit(s, true)
}

func fit(s Series, choose bool) (*Model, error) {
	var obs []int
	for i := range s.Values {
		if s.observed(i) {
			obs = append(obs, i)
		}
	}
	if len(obs) == 0 {
		return nil, ErrNoData
	}
	first, last := obs[0], obs[len(obs)-1]
	perDay := s.Freq.perDay()
	spanDays := (last - first + 1) / perDay

	// Values are divided by the largest magnitude so that sums of squares
	// cannot overflow, whatever the unit (Wh or MWh, cents or euros).
	scale, nonneg, mean := 0.0, true, 0.0
	for _, i := range obs {
		v := s.Values[i]
		scale = math.Max(scale, math.Abs(v))
		if v < 0 {
			nonneg = false
		}
	}
	if scale == 0 {
		scale = 1
	}
	for _, i := range obs {
		mean += s.Values[i] / scale / float64(len(obs))
	}

	base := Model{
		clock:  newClock(&s),
		n:      len(s.Values),
		scale:  scale,
		nonneg: nonneg,
		tMid:   float64(first+last) / 2,
		tSpan:  math.Max(1, float64(last-first)),
		tCap:   last + (last - first),
		last:   last,
	}
	var t terms
	var notes []string
	days := fmt.Sprintf("%d day", spanDays)
	if spanDays != 1 {
		days += "s"
	}
	if spanDays >= minWeeklyDays && len(obs) >= s.Freq.week() {
		t.weekly = true
	} else {
		notes = append(notes, fmt.Sprintf("the history spans %s with %d observations; a weekday pattern needs %d days and a week's worth: no weekly seasonality", days, len(obs), minWeeklyDays))
	}
	if s.Freq == Hourly {
		if spanDays >= minHourlyDays {
			t.hours = true
		} else {
			notes = append(notes, fmt.Sprintf("the history spans %s, under the %d needed for an hour-of-day pattern: no daily shape", days, minHourlyDays))
		}
	}
	if spanDays >= minTrendDays {
		t.trend = true
	} else {
		notes = append(notes, fmt.Sprintf("the history spans %s, under the %d needed to estimate a trend: none is assumed", days, minTrendDays))
	}
	if spanDays >= minYearlyDays {
		t.harmonics = yearlyHarmonics
	} else {
		notes = append(notes, fmt.Sprintf("the history spans %s, under the %d needed for a yearly pattern: no yearly seasonality", days, minYearlyDays))
	}
	if len(s.Holidays) > 0 {
		base.holidays = make(map[int64]bool, len(s.Holidays))
		for _, h := range s.Holidays {
			y, m, d := h.Date()
			base.holidays[civilDay(y, m, d)] = true
		}
		clk := base.clock
		for _, i := range obs {
			if base.holidays[clk.calendar(i).day] {
				t.holidays = true
				break
			}
		}
		if !t.holidays {
			notes = append(notes, "no holiday falls on an observed day of the history, so the holidays given cannot be learnt from and are ignored")
		}
	}
	base.lay = t.layout()
	if base.lay.p == 1 {
		notes = append(notes, "the forecast is the history's level, flat")
	}

	// The features do not change between fits, so they are built once.
	rows := make([]sparseRow, len(obs))
	for k, i := range obs {
		base.row(i, &rows[k])
	}
	y := make([]float64, len(obs))
	for k, i := range obs {
		y[k] = s.Values[i] / scale
	}

	rec := make([]float64, len(obs))
	for k, i := range obs {
		rec[k] = math.Exp2(-float64(last-i) / float64(halfLifeDays*perDay))
	}
	recent := len(obs) // the observations the level correction looks at
	for recent > 0 && obs[recent-1] > last-levelDays*perDay {
		recent--
	}
	if len(obs)-recent < 7 || spanDays < minTrendDays {
		// Too few to tell a shift from noise, or a history so short that
		// its last four weeks are most of it.
		recent = len(obs)
	}

	// Counts, energy and revenue grow and shrink in proportion: a busier
	// season has a busier Monday. Such series are fitted on a log scale,
	// where weekly and yearly effects multiply; a series with negative
	// values (net revenue after refunds) only on the plain one. Where both
	// apply, the one that fits the history better on the original scale
	// wins.
	best, err := fitScale(&base, rows, y, rec, false, recent)
	if nonneg && mean > 0 {
		lg, lerr := fitScale(&base, rows, y, rec, true, recent)
		if lerr == nil && (err != nil || lg.mae < best.mae) {
			best, err = lg, nil
		}
	}
	if err != nil {
		// Only numerically hopeless input gets here; the level alone is
		// always computable.
		base.lay = terms{}.layout()
		for k, i := range obs {
			base.row(i, &rows[k])
		}
		if best, err = fitScale(&base, rows, y, rec, false, recent); err != nil {
			return nil, err
		}
		notes = append(notes, "the full model could not be fitted to this history: the forecast is its level, flat")
	}
	m := best.m
	hold := max(holdoutDays, int(holdoutShare*float64(spanDays)))
	if choose && m.lay.trend >= 0 && spanDays-hold >= minTrendDays {
		hold *= perDay
		cut := last - hold + 1
		sub := s
		sub.Values = s.Values[:cut]
		if s.Missing != nil {
			sub.Missing = s.Missing[:cut]
		}
		if mm, err := fit(sub, false); err == nil && mm.lay.trend >= 0 {
			fc := mm.Forecast(hold)
			mm.tCap = mm.last
			flat := mm.Forecast(hold)
			var eT, eF float64
			for j := range fc {
				if i := cut + j; s.observed(i) {
					eT += math.Abs(s.Values[i] - fc[j].Forecast)
					eF += math.Abs(s.Values[i] - flat[j].Forecast)
				}
			}
			if eF < holdoutMargin*eT {
				m.tCap = m.last
				notes = append(notes, fmt.Sprintf("the trend is held flat beyond the history: continuing it would have forecast the last %d days of the history clearly worse", hold/perDay))
			}
		}
	}
	if len(obs) == 1 {
		// One value says nothing about spread; rather than a zero-width
		// interval, admit anything from none to twice as much.
		m.single = true
		notes = append(notes, "a single observation: the interval is a guess, from zero to twice its value")
	}
	if m.logScale {
		notes = append(notes, "fitted on a log scale: weekly, yearly and holiday effects are proportional to the level")
	}
	m.notes = notes
	return m, nil
}

type fitted struct {
	m   *Model
	mae float64
}

// fitScale fits base's terms to y on the plain or the log scale by
// iteratively reweighted least squares with Huber weights.
func fitScale(base *Model, rows []sparseRow, y, rec []float64, logScale bool, recent int) (fitted, error) {
	m := *base
	m.logScale = logScale
	n, p := len(y), m.lay.p
	z := y
	if logScale {
		var mean float64
		for _, v := range y {
			mean += v / float64(n)
		}
		m.shift = logOffset * mean
		z = make([]float64, n)
		for k, v := range y {
			z[k] = math.Log(v + m.shift)
		}
	}

	w := slices.Clone(rec)
	a := make([]float64, p*p)
	b := make([]float64, p)
	beta := make([]float64, p)
	l := make([]float64, p*p)
	resid := make([]float64, n)
	absr := make([]float64, n)
	for pass := 0; ; pass++ {
		clear(a)
		clear(b)
		var wsum float64
		for k := range rows {
			r := &rows[k]
			wk := w[k]
			wsum += wk
			for u, i := range r.idx {
				xi := wk * r.val[u]
				b[i] += xi * z[k]
				for v, j := range r.idx[:u+1] {
					a[i*p+j] += xi * r.val[v]
				}
			}
		}
		for i := 0; i < p; i++ {
			for j := 0; j < i; j++ {
				a[j*p+i] = a[i*p+j]
			}
		}
		for j := 1; j < p; j++ {
			a[j*p+j] += ridge * wsum
		}
		if !solveSPD(a, p, b, beta, l) {
			return fitted{}, fmt.Errorf("forecast: the normal equations are singular")
		}
		for k := range rows {
			resid[k] = z[k] - rows[k].dot(beta)
			absr[k] = math.Abs(resid[k])
		}
		if pass == robustPasses {
			var w1, w2 float64
			for _, wk := range w {
				w1 += wk
				w2 += wk * wk
			}
			m.levScale = w2 / w1
			break
		}
		sigma := 1.4826 * median(absr)
		if !(sigma > 0) {
			// An exact fit (a constant series): nothing to reweight.
			m.levScale = 1
			break
		}
		for k := range w {
			w[k] = rec[k]
			if absr[k] > huberK*sigma {
				w[k] *= huberK * sigma / absr[k]
			}
		}
	}
	m.beta = beta
	m.chol = l
	// The interval comes from the residuals themselves, not from a normal
	// approximation: charging data is skewed (a quiet day is closer to the
	// typical one than a busy day is), and empirical quantiles keep that.
	// Residuals of a fit understate the error of a new period by about
	// sqrt(n/(n-p)), since p coefficients were fitted to these very points;
	// n is the effective number of observations under the recency weights.
	// The recent residuals count more, as the recent fit does.
	var r1, r2 float64
	for _, v := range rec {
		r1 += v
		r2 += v * v
	}
	neff := r1 * r1 / r2
	inflate := math.Sqrt(neff / math.Max(neff-float64(p), neff/4))
	m.q10 = inflate * weightedQuantile(resid, rec, 0.1)
	m.q90 = inflate * weightedQuantile(resid, rec, 0.9)
	if recent < n {
		m.levelAdj = median(resid[recent:])
	}

	var mae float64
	for k := range rows {
		f := m.back(z[k] - resid[k])
		mae += math.Abs(y[k] - f)
	}
	mae /= float64(n)
	if math.IsNaN(mae) || math.IsInf(mae, 0) {
		return fitted{}, fmt.Errorf("forecast: the fit is not finite")
	}
	return fitted{m: &m, mae: mae}, nil
}

// back turns a value on the fitted scale into the divided original scale.
func (m *Model) back(f float64) float64 {
	if m.logScale {
		return math.Exp(math.Min(f, 700)) - m.shift
	}
	return f
}

// Forecast returns the next h periods after the history, h capped at
// MaxHorizon; nil for h < 1. Each point's interval widens with the
// uncertainty of the coefficients it depends on, the trend's most, so it
// grows with the horizon.
func (m *Model) Forecast(h int) []Point {
	if h < 1 {
		return nil
	}
	h = min(h, MaxHorizon)
	out := make([]Point, h)
	p := m.lay.p
	x := make([]float64, p)
	var r sparseRow
	for k := range out {
		i := m.n + k
		m.row(i, &r)
		adj := m.levelAdj
		adj *= math.Exp2(-float64(k) / float64(levelFadeDays*m.clock.freq.perDay()))
		f := r.dot(m.beta) + adj
		clear(x)
		for u, j := range r.idx {
			x[j] = r.val[u]
		}
		forward(m.chol, p, x)
		var lev float64
		for _, v := range x {
			lev += v * v
		}
		widen := math.Sqrt(1 + lev*m.levScale)
		if math.IsNaN(widen) || math.IsInf(widen, 0) {
			widen = 1
		}
		out[k] = m.point(i, f, f+m.q10*widen, f+m.q90*widen)
	}
	return out
}

// point turns fitted-scale values into a Point on the original scale,
// clamped to finite numbers and, for a series that never went negative,
// to zero and above.
func (m *Model) point(i int, f, lo, hi float64) Point {
	conv := func(v float64) float64 {
		v = clampFinite(m.back(v) * m.scale)
		if m.nonneg && v < 0 {
			v = 0
		}
		return v
	}
	pt := Point{Time: m.clock.at(i), Forecast: conv(f), Lo80: conv(lo), Hi80: conv(hi)}
	if m.single {
		d := math.Abs(pt.Forecast)
		pt.Lo80, pt.Hi80 = clampFinite(pt.Forecast-d), clampFinite(pt.Forecast+d)
		if m.nonneg {
			pt.Lo80 = max(pt.Lo80, 0)
		}
	}
	pt.Lo80 = math.Min(pt.Lo80, pt.Forecast)
	pt.Hi80 = math.Max(pt.Hi80, pt.Forecast)
	return pt
}

// clampFinite maps NaN to 0 and the infinities to the largest finite
// values, the last guard between arithmetic on extreme input and a caller
// who was promised finite numbers.
func clampFinite(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return 0
	case v > math.MaxFloat64:
		return math.MaxFloat64
	case v < -math.MaxFloat64:
		return -math.MaxFloat64
	}
	return v
}

// median returns the median of v, reordering a copy.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := slices.Clone(v)
	sort.Float64s(c)
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

// weightedQuantile returns the q-quantile of v under weights w: the
// smallest value at which the share of weight at or below it reaches q.
func weightedQuantile(v, w []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	order := make([]int, len(v))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return v[order[a]] < v[order[b]] })
	var total float64
	for _, x := range w {
		total += x
	}
	var cum float64
	for _, i := range order {
		cum += w[i]
		if cum >= q*total {
			return v[i]
		}
	}
	return v[order[len(order)-1]]
}
