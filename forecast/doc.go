// Package forecast forecasts a daily or hourly series (charging sessions,
// energy or revenue of a site, or of the whole network) with 80 %
// prediction intervals, and measures the forecasts by a rolling-origin
// backtest against the seasonal naive forecast. It is pure: no I/O, no
// clock, no randomness.
//
// # Estimates, never bills
//
// Everything here is a statistical estimate in float64, not an amount of
// money: a forecast of revenue is a guess about the future with an
// interval around it, and evbill never bills, charges or books anything
// from it. Amounts that are billed are computed by the money and tariff
// packages in exact decimal arithmetic.
//
// # The model
//
// A regression on calendar features, fitted by robust, recency-weighted
// least squares:
//
//	value = level + trend·t + weekday + yearly(t) + holiday + noise
//
// with a dummy for each weekday (and, for hourly series, for each hour of
// the day, with their own hours for Saturdays and Sundays), four
// sine/cosine pairs for the yearly shape, and a dummy for the holidays the
// caller names. Counts, energy and revenue that never go negative are
// fitted on a log scale, where these effects multiply (a busier summer has
// a busier Monday), unless the plain scale fits the history better.
//
// Why this and not exponential smoothing (Holt-Winters, ETS, TBATS):
//
//   - Gaps cost nothing. A missing day is a row left out of the
//     regression; a state-space model has to be stepped through it.
//   - Two seasonalities of very different length fit side by side.
//     Holt-Winters has one seasonal cycle; a yearly one of 365 states is
//     slow to learn and noisy, while four harmonics are eight numbers.
//   - Short histories degrade gracefully: terms the history cannot support
//     are left out (the yearly shape under a year, the trend under eight
//     weeks, the weekday pattern under two weeks, leaving the level) and
//     Notes says which.
//   - Holidays are a column, and a holiday in the forecast gets the effect
//     learnt from the past ones.
//   - It is a few dozen coefficients from one linear solve: milliseconds
//     for three years of days, deterministic, and explainable term by term.
//
// What it gives up, exponential smoothing's quick tracking of the level,
// is bought back in three ways. Observations are weighted by age with a
// half-life of 180 days, so a changed weekday pattern takes over within
// months. The median residual of the last four weeks is added to the
// forecast, fading with a two-week half-life, so a recent shift carries
// into the next weeks. And the trend is extrapolated only where doing so
// would have forecast the last eight weeks (or quarter) of the history at
// least about as well as holding it flat; a straight line through a step
// (sites leaving the network) would otherwise run on downhill for a year.
// Beyond the history the trend runs at most as far again as the history
// is long. These settings were chosen on backtests of synthetic series of
// known shape and of one public daily series of a county's chargers.
//
// Outliers — a day of outage, a one-off event — are down-weighted by
// Huber's M-estimator, so they move the fit little.
//
// # The interval
//
// The 80 % interval is the forecast plus the 10th and 90th percentiles of
// the fit's residuals (recent ones weighing more), which keeps the skew of
// real data, scaled up by each period's leverage: the more a forecast
// leans on uncertain coefficients (a trend far out), the wider. It is
// honest when the future behaves like the history; a break the history
// did not contain is not foreseen, which is why the backtest reports the
// coverage that was achieved.
//
// # Accuracy
//
// Backtest refits the model at several origins in the history and scores
// each forecast by its MASE (Hyndman & Koehler, 2006): the mean absolute
// error divided by the in-sample mean absolute error of the seasonal naive
// forecast, the same weekday one week before. The seasonal naive forecast
// is scored the same way alongside, so that the model's figure can be read
// against the simplest forecast that knows the week.
package forecast
