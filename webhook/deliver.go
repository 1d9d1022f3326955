package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evbill/evbill"
)

// Defaults of the delivery Worker.
const (
	// DefaultTimeout is how long a receiver has to answer an attempt.
	// The specification suggests 15 to 30 s; 10 s keeps a dead receiver
	// from holding a sender's slots for long, and a receiver should
	// acknowledge first and work afterwards.
	DefaultTimeout = 10 * time.Second
	// DefaultConcurrency is how many requests are in flight at once.
	DefaultConcurrency = 64
	// DefaultBatch is how many due deliveries one round claims.
	DefaultBatch = 256
	// DefaultLease is how long a claimed delivery is kept from other
	// workers. With every receiver timing out, the rounds' claims wait
	// their turn for the shared slots: rounds × batch / concurrency
	// timeouts, 16 × 10 s = 160 s with the defaults, plus the time to
	// record. A worker that dies leaves its deliveries due again after
	// this long.
	DefaultLease = 5 * time.Minute
	// DefaultRounds is how many rounds Run keeps going at once, so one
	// round waiting on a slow receiver does not hold the others up.
	DefaultRounds = 4
)

// MaxResponseRead bounds how much of a receiver's answer is read: enough
// to reuse the connection after a usual answer, while a receiver that
// streams megabytes costs the worker nothing more (the connection is
// dropped instead).
const MaxResponseRead = 64 << 10

// responseExcerpt is how much of the answer the attempt log keeps.
const responseExcerpt = 256

// UserAgent is what deliveries send as User-Agent, so receivers can tell
// evbill's requests in their logs.
const UserAgent = "evbill-webhooks/1"

// errDisabled is the recorded error of a delivery whose endpoint was
// disabled: it was not sent.
const errDisabled = "endpoint disabled: not sent"

// Worker delivers due webhook deliveries: it claims them from the store
// (the store is the queue), posts each to its endpoint signed with the
// endpoint's secrets, and records every attempt with the delivery's next
// state, a round's attempts in one transaction.
//
// Delivery is at least once: a delivery is recorded only after its
// receiver answered, so a worker that dies in between leaves it leased,
// and it is sent again once the lease lapses, with the same webhook-id,
// by which the receiver recognises it.
type Worker struct {
	Store evbill.WebhookStore
	// Client sends the requests; nil means NewClient(). Redirects are
	// never followed, whatever the client says: a 3xx is a failed
	// attempt, as the specification advises, so a delivery never lands
	// on a host the tenant did not name.
	Client *http.Client
	// Now is the clock; time.Now when nil. Tests pass a fake one.
	Now func() time.Time
	// Jitter moves each wait of the schedule; Jitter (±10 %) when nil.
	Jitter func(time.Duration) time.Duration
	// Schedule is the wait after each failed attempt; RetrySchedule when
	// nil. A delivery that fails once more than it has waits is dead.
	Schedule []time.Duration
	// Timeout bounds each attempt; DefaultTimeout when zero.
	Timeout time.Duration
	// Concurrency bounds the requests in flight across all rounds;
	// DefaultConcurrency when zero.
	Concurrency int
	// Batch is how many deliveries a round claims; DefaultBatch when zero.
	Batch int
	// Lease is how long a claim keeps a delivery from other workers;
	// DefaultLease when zero.
	Lease time.Duration
	// Rounds is how many rounds Run keeps going at once; DefaultRounds
	// when zero.
	Rounds int
	Log    *slog.Logger
	// Metrics, when set, counts the attempts.
	Metrics *Metrics

	once   sync.Once
	sem    chan struct{}
	client *http.Client
	wake   chan struct{}
}

// NewClient returns the HTTP client deliveries use by default: keep-alive
// connections enough for the concurrency, the environment's proxy, and no
// redirects.
func NewClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 4 * DefaultConcurrency
	tr.MaxIdleConnsPerHost = DefaultConcurrency
	return &http.Client{Transport: tr, CheckRedirect: noRedirect}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (w *Worker) init() {
	w.once.Do(func() {
		n := w.Concurrency
		if n <= 0 {
			n = DefaultConcurrency
		}
		w.sem = make(chan struct{}, n)
		c := w.Client
		if c == nil {
			c = NewClient()
		}
		cc := *c
		cc.CheckRedirect = noRedirect
		w.client = &cc
		// One token per round, so a Wake starts every waiting round.
		w.wake = make(chan struct{}, w.rounds())
	})
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Worker) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Wake makes Run's waiting rounds start at once instead of at their next
// tick; the dispatcher calls it after making deliveries.
func (w *Worker) Wake() {
	w.init()
	for range cap(w.wake) {
		select {
		case w.wake <- struct{}{}:
		default:
			return
		}
	}
}

func (w *Worker) rounds() int {
	if w.Rounds <= 0 {
		return DefaultRounds
	}
	return w.Rounds
}

// Run delivers until ctx ends: Rounds loops, each claiming and sending
// rounds back to back while there is work, and otherwise waiting for the
// interval or Wake. Errors are logged; a round that failed is retried at
// the next tick.
func (w *Worker) Run(ctx context.Context, interval time.Duration) {
	w.init()
	var wg sync.WaitGroup
	for range w.rounds() {
		wg.Go(func() {
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				for ctx.Err() == nil {
					n, err := w.RunOnce(ctx)
					if err != nil && ctx.Err() == nil {
						w.log().Error("webhook worker", "err", err)
					}
					if err != nil || n == 0 {
						break
					}
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				case <-w.wake:
				}
			}
		})
	}
	wg.Wait()
}

// RunOnce makes one round: it claims up to Batch due deliveries, sends
// them (up to Concurrency at once across rounds), records the attempts in
// one transaction and returns how many it recorded. Attempts cut short
// because ctx ended are not recorded: their deliveries stay leased and
// are sent again later, as after a crash.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.init()
	batch := w.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	lease := w.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	now := w.now()
	due, err := w.Store.ClaimWebhookDeliveries(ctx, now, now.Add(lease), batch)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	endpoints, err := w.endpoints(ctx, due, now)
	if err != nil {
		return 0, err
	}
	results := make([]evbill.WebhookResult, len(due))
	var wg sync.WaitGroup
	for i := range due {
		tg, ok := endpoints[due[i].TenantID+"\x00"+due[i].EndpointID]
		if !ok {
			continue // deleted meanwhile, with its deliveries
		}
		select {
		case w.sem <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		wg.Go(func() {
			defer func() { <-w.sem }()
			results[i] = w.attempt(ctx, &due[i], tg)
		})
	}
	wg.Wait()
	done := results[:0]
	for _, r := range results {
		if r.Delivery != nil {
			done = append(done, r)
		}
	}
	if len(done) == 0 {
		return 0, ctx.Err()
	}
	// What the receivers answered is recorded even when ctx ended
	// meanwhile: those requests were made, and recording them now saves
	// sending them again.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := w.Store.RecordWebhookAttempts(rctx, done); err != nil {
		return 0, err
	}
	recorded := 0
	for _, r := range done {
		switch {
		case r.Err == nil:
			recorded++
			w.Metrics.attempted(r.State)
		case evbill.ErrorCode(r.Err) == evbill.ECONFLICT:
			w.log().Debug("webhook delivery recorded meanwhile", "delivery", r.Delivery.ID, "err", r.Err)
		default:
			w.log().Error("webhook attempt not recorded", "delivery", r.Delivery.ID, "err", r.Err)
		}
	}
	return recorded, nil
}

// target is an endpoint of a round with its signing keys, parsed once
// for all its deliveries of the round.
type target struct {
	ep     evbill.WebhookEndpoint
	keys   [][]byte
	keyErr error // a secret that cannot be read: nothing is signed with it
}

// endpoints reads each endpoint of the claimed deliveries once, with the
// keys that sign its deliveries as of now.
func (w *Worker) endpoints(ctx context.Context, due []evbill.WebhookDelivery, now time.Time) (map[string]*target, error) {
	out := map[string]*target{}
	seen := map[string]bool{}
	for _, d := range due {
		key := d.TenantID + "\x00" + d.EndpointID
		if seen[key] {
			continue
		}
		seen[key] = true
		ep, err := w.Store.WebhookEndpoint(ctx, d.TenantID, d.EndpointID)
		switch evbill.ErrorCode(err) {
		case "":
		case evbill.ENOTFOUND:
			continue
		default:
			return nil, err
		}
		t := &target{ep: ep}
		for _, s := range ep.SigningSecrets(now) {
			k, err := ParseSecret(s)
			if err != nil {
				t.keyErr = err
				break
			}
			t.keys = append(t.keys, k)
		}
		out[key] = t
	}
	return out, nil
}

// attempt sends d to its endpoint once and returns what to record. A
// result whose Delivery is nil records nothing: ctx ended before the
// receiver answered.
func (w *Worker) attempt(ctx context.Context, d *evbill.WebhookDelivery, tg *target) evbill.WebhookResult {
	start := w.now()
	res := evbill.WebhookResult{Delivery: d, Attempt: evbill.WebhookAttempt{TenantID: d.TenantID, DeliveryID: d.ID, At: start}}
	if tg.ep.Disabled {
		res.State, res.NextAttemptAt, res.Attempt.Error = evbill.WebhookDead, start, errDisabled
		return res
	}
	if tg.keyErr != nil {
		// A secret evbill cannot sign with is a configuration error;
		// sending unsigned would teach the receiver to accept that.
		return w.failed(res, 0, nil, "cannot sign: "+tg.keyErr.Error())
	}
	body := Body(d.EventType, d.EventCreatedAt, d.Payload)
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, tg.ep.URL, bytes.NewReader(body))
	if err != nil {
		return w.failed(res, 0, nil, "bad request: "+err.Error())
	}
	req.Header = Headers(tg.keys, d.EventID, start, body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	sent := time.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		res.Attempt.Duration = time.Since(sent)
		if ctx.Err() != nil {
			return evbill.WebhookResult{} // our shutdown, not the receiver's failure
		}
		msg := err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			msg = fmt.Sprintf("no answer within %s", timeout)
		}
		return w.failed(res, 0, nil, msg)
	}
	head := make([]byte, responseExcerpt)
	n, _ := io.ReadFull(resp.Body, head)
	// The rest is read (to reuse the connection) up to the limit.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseRead-int64(n)))
	_ = resp.Body.Close()
	res.Attempt.Duration = time.Since(sent)
	res.Attempt.StatusCode = resp.StatusCode
	res.Attempt.Response = clean(string(head[:n]))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		res.State, res.NextAttemptAt = evbill.WebhookSucceeded, w.now()
		return res
	}
	return w.failed(res, resp.StatusCode, resp.Header, "status "+strconv.Itoa(resp.StatusCode))
}

// failed completes the result of a failed attempt: dead when the
// schedule is exhausted, otherwise pending after the schedule's next wait
// with jitter, or the receiver's Retry-After (429, 503) when longer.
func (w *Worker) failed(res evbill.WebhookResult, status int, h http.Header, msg string) evbill.WebhookResult {
	at := w.now()
	res.Attempt.Error = clean(msg)
	schedule := w.Schedule
	if schedule == nil {
		schedule = RetrySchedule
	}
	k := res.Delivery.Failures // failures before this one: the index of the next wait
	if k >= len(schedule) {
		res.State, res.NextAttemptAt = evbill.WebhookDead, at
		return res
	}
	jitter := w.Jitter
	if jitter == nil {
		jitter = Jitter
	}
	wait := jitter(schedule[k])
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		wait = max(wait, retryAfter(h, at))
	}
	res.State, res.NextAttemptAt = evbill.WebhookPending, at.Add(wait)
	return res
}

// clean makes text from a receiver or an error fit for both stores and a
// log: valid UTF-8, no NUL (which PostgreSQL's text refuses), at most 500
// bytes.
func clean(s string) string {
	if len(s) > 500 {
		s = s[:500]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}

// Body returns the request body of an event in the Standard Webhooks
// format: {"type":…,"timestamp":…,"data":…}, data being the event's
// payload exactly as the outbox holds it (null when it has none), the
// timestamp when the event happened in RFC 3339 UTC. It is the same bytes
// at every attempt, so a receiver may compare them.
func Body(eventType string, at time.Time, data json.RawMessage) []byte {
	t, _ := json.Marshal(eventType) // a string always marshals
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	b := make([]byte, 0, len(t)+len(data)+64)
	b = append(b, `{"type":`...)
	b = append(b, t...)
	b = append(b, `,"timestamp":"`...)
	b = at.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	b = append(b, data...)
	return append(b, '}')
}
