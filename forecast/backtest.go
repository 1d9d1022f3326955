package forecast

import (
	"errors"
	"fmt"
	"math"
)

// MaxOrigins is the most origins Backtest accepts; each one is a fit.
const MaxOrigins = 100

// Accuracy is the result of a rolling-origin backtest: the model is fitted
// on the history up to each origin and scored on the periods after it, as
// it would have been used at the time.
type Accuracy struct {
	// Horizon is the number of periods forecast from each origin.
	Horizon int
	// Origins is the number of origins scored, which can be fewer than
	// asked when the history is too short for the earlier ones.
	Origins int
	// Points is the number of observed periods scored, over all origins.
	Points int
	// MASE is the model's mean absolute scaled error (Hyndman & Koehler,
	// 2006): its mean absolute error over the horizon divided by the
	// in-sample mean absolute error of the one-step seasonal naive forecast
	// (the same weekday, and hour, one week earlier) on the history before
	// the origin, averaged over the origins. Below 1, the model's forecasts
	// err less than last week's values did as forecasts of this week's.
	MASE float64
	// NaiveMASE is the same measure for the seasonal naive forecast itself
	// over the horizon: each forecast period takes the value of the same
	// weekday in the last observed week before the origin. The model is
	// worth having where MASE is clearly below NaiveMASE.
	NaiveMASE float64
	// Coverage80 is the share of the observed values that fell within the
	// 80 % interval; near 0.8 when the intervals are honest.
	Coverage80 float64
}

// errNoScale means every origin's history was flat from week to week, so
// there is no seasonal naive error to scale by.
var errNoScale = errors.New("forecast: the history does not change from one week to the next, so the scaled error (MASE) is undefined")

// Backtest fits the model at up to origins points in the history and
// scores each on the horizon periods after it. The last origin leaves
// exactly horizon periods after it; the others step back from it, a whole
// number of weeks apart, about horizon/origins apart, so that together
// they cover different seasons. An origin with less than two weeks of
// history before it, or with no week-on-week change to scale by, is
// skipped; if none is left Backtest fails with ErrTooShort.
func Backtest(s Series, horizon, origins int) (Accuracy, error) {
	if err := s.check(); err != nil {
		return Accuracy{}, err
	}
	switch {
	case horizon < 1 || horizon > MaxHorizon:
		return Accuracy{}, fmt.Errorf("forecast: the horizon must be from 1 to %d periods, not %d", MaxHorizon, horizon)
	case origins < 1 || origins > MaxOrigins:
		return Accuracy{}, fmt.Errorf("forecast: the origins must number from 1 to %d, not %d", MaxOrigins, origins)
	}
	// MASE is a ratio of errors in the same unit, so it is computed on
	// values divided by their largest magnitude: no sum can overflow.
	n := len(s.Values)
	norm := s
	norm.Values = make([]float64, n)
	var big float64
	for i := range n {
		if s.observed(i) {
			big = math.Max(big, math.Abs(s.Values[i]))
		}
	}
	if big == 0 {
		big = 1
	}
	for i, v := range s.Values {
		norm.Values[i] = v / big
	}

	week := s.Freq.week()
	step := (horizon + origins - 1) / origins
	step = max(week, (step+week-1)/week*week)
	acc := Accuracy{Horizon: horizon}
	var covered int
	var sumModel, sumNaive float64
	flat := false
	for k := range origins {
		o := n - horizon - k*step
		if o < 2*week {
			break
		}
		train := norm
		train.Values = norm.Values[:o]
		if norm.Missing != nil {
			train.Missing = norm.Missing[:o]
		}
		scale := naiveScale(&train)
		if !(scale > 0) {
			flat = true
			continue
		}
		m, err := Fit(train)
		if err != nil {
			continue
		}
		fc := m.Forecast(horizon)
		var errModel, errNaive float64
		var points int
		for j, pt := range fc {
			t := o + j
			if !norm.observed(t) {
				continue
			}
			y := norm.Values[t]
			errModel += math.Abs(y - pt.Forecast)
			errNaive += math.Abs(y - seasonalNaive(&train, t))
			if pt.Lo80 <= y && y <= pt.Hi80 {
				covered++
			}
			points++
		}
		if points == 0 {
			continue
		}
		sumModel += errModel / float64(points) / scale
		sumNaive += errNaive / float64(points) / scale
		acc.Points += points
		acc.Origins++
	}
	if acc.Origins == 0 {
		if flat {
			return Accuracy{}, errNoScale
		}
		return Accuracy{}, ErrTooShort
	}
	acc.MASE = clampFinite(sumModel / float64(acc.Origins))
	acc.NaiveMASE = clampFinite(sumNaive / float64(acc.Origins))
	acc.Coverage80 = float64(covered) / float64(acc.Points)
	return acc, nil
}

// naiveScale is the in-sample mean absolute error of the one-step seasonal
// naive forecast, over the periods that have an observation one week
// earlier; 0 when there is none.
func naiveScale(s *Series) float64 {
	week := s.Freq.week()
	var sum float64
	var n int
	for t := week; t < len(s.Values); t++ {
		if s.observed(t) && s.observed(t-week) {
			sum += math.Abs(s.Values[t] - s.Values[t-week])
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// seasonalNaive forecasts period t (at or after the end of history s) as
// the value of the same weekday and hour in the last week of s that has
// it observed; when no week has, as the last observed value.
func seasonalNaive(s *Series, t int) float64 {
	week := s.Freq.week()
	n := len(s.Values)
	// The latest period of the same phase before the end of the history.
	back := t - n + 1
	src := t - (back+week-1)/week*week
	for ; src >= 0; src -= week {
		if s.observed(src) {
			return s.Values[src]
		}
	}
	for i := n - 1; i >= 0; i-- {
		if s.observed(i) {
			return s.Values[i]
		}
	}
	return 0
}
