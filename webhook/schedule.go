package webhook

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// RetrySchedule is how long the worker waits after each failed attempt
// before the next one: the example schedule of the Standard Webhooks
// specification. The first attempt is made at once; a delivery whose
// tenth attempt fails (the schedule exhausted) is dead. Without jitter
// the last attempt comes 75 h 35 min 5 s after the first, a little over
// three days, so a receiver down for a long weekend still gets every
// event; a dead delivery can be replayed through the API after that.
var RetrySchedule = []time.Duration{
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	14 * time.Hour,
	20 * time.Hour,
	24 * time.Hour,
}

// JitterFraction is the most by which Jitter moves a delay, either way:
// a tenth, so that deliveries that failed together (a receiver's outage)
// do not all come back in the same second, while the schedule stays
// recognisable.
const JitterFraction = 10 // percent

// Jitter returns d moved by a uniformly random amount of at most
// JitterFraction percent either way. Integer arithmetic: the result is
// exact, whatever d.
func Jitter(d time.Duration) time.Duration {
	span := int64(d) * JitterFraction / 100
	if span <= 0 {
		return d
	}
	return d - time.Duration(span) + time.Duration(rand.Int64N(2*span+1))
}

// maxRetryAfter bounds how far a receiver's Retry-After can push the
// next attempt: the schedule's longest wait, so a hostile or mistaken
// header cannot park a delivery for a year.
const maxRetryAfter = 24 * time.Hour

// retryAfter reads a Retry-After header of a 429 or 503 answer, which the
// specification asks senders to honour: delta-seconds or an HTTP date.
// It returns 0 when there is none or it cannot be read.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return min(time.Duration(min(n, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}
