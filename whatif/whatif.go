// Package whatif answers "what would we have earned under this tariff?":
// it re-prices stored sessions under a candidate tariff with the billing
// engine (tariff.PriceInto on each CDR's own charging periods, in its
// site's time zone) and compares the result with what the CDRs charged,
// per site, per local day, in total and as a distribution of the change
// per session.
//
// The package does no I/O. It defines the record the stores keep with
// each CDR (the session, what was charged and the priced periods, a
// hundred bytes; see AppendRecord and Encode). The store reads records
// (evbill.WhatIfStore) and hands them to a Runner in batches, from as
// many goroutines as it reads with; each batch is priced in the goroutine
// that brings it, so reading and pricing share the cores without handing
// rows between goroutines.
//
// Money is exact: amounts are int64 minor units of the candidate's
// currency, summed with overflow checks; percentiles are amounts some
// session's price changed by (nearest rank), never interpolated.
package whatif

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/tariff"
)

// Assumption is what every what-if assumes, stated in its result so that
// nobody reads it as a forecast.
const Assumption = "Same demand: the same sessions, with the same energy, times and charging periods, " +
	"re-priced under the candidate tariff by the billing engine in each site's time zone; " +
	"drivers are assumed not to charge differently under other prices. " +
	"Revenue is the amount charged per session (including VAT when the tariff states VAT). " +
	"The candidate's validity dates are ignored, and each charging period is priced as recorded: " +
	"where the candidate's price would change inside a recorded period, the whole period is priced by its start " +
	"(approximate_sessions counts the sessions this concerns)."

// Config is what a Runner needs.
type Config struct {
	// Candidate is the tariff to re-price under; it must be validated
	// (tariff.Parse does). Sessions whose CDR is in another currency are
	// skipped and counted: evbill never converts between currencies.
	Candidate *tariff.Tariff
	// Zone returns a site's time zone, in which the candidate's time and
	// date restrictions are read and sessions are counted by day. It is
	// called once per site, never twice at once; an error stops the
	// what-if.
	Zone func(siteID string) (*time.Location, error)
}

// Runner re-prices batches of stored CDRs and accumulates the result. Its
// Add may be called from several goroutines at once.
type Runner struct {
	cand     *tariff.Tariff
	bounds   boundaries
	currency money.Currency
	code     []byte // the currency's code, compared with each record's
	zone     func(string) (*time.Location, error)

	zoneMu sync.Mutex
	zones  map[string]*time.Location

	mu     sync.Mutex
	idle   []*state // worker states not in use
	states []*state // every state made

	seen atomic.Int64
}

// New returns a Runner for the candidate.
func New(cfg Config) (*Runner, error) {
	if cfg.Candidate == nil {
		return nil, errors.New("whatif: no candidate tariff")
	}
	if cfg.Zone == nil {
		return nil, errors.New("whatif: no time zone lookup")
	}
	if _, err := cfg.Candidate.Price(&tariff.Session{}); errors.Is(err, tariff.ErrNotValidated) {
		return nil, err
	}
	return &Runner{cand: cfg.Candidate, bounds: boundariesOf(cfg.Candidate), currency: cfg.Candidate.Currency,
		code: []byte(cfg.Candidate.Currency.Code()), zone: cfg.Zone, zones: map[string]*time.Location{}}, nil
}

// Seen returns how many CDRs Add has been given so far, skipped ones
// included: the progress of a what-if.
func (r *Runner) Seen() int64 { return r.seen.Load() }

// maxExamples bounds the sessions a result names as not re-priced.
const maxExamples = 5

// state is what one goroutine accumulates; states are merged at the end,
// so the pricing path takes no lock.
type state struct {
	dec       Decoder
	sess      tariff.Session
	res       tariff.Result
	sites     map[string]*siteAcc
	last      *siteAcc
	changes   []int64
	other     map[string]int64 // skipped sessions by currency
	unpriced  int64
	approx    int64
	examples  []Unpriced
	overflows bool
}

// siteAcc accumulates one site's sessions in one state.
type siteAcc struct {
	id     string
	loc    *time.Location
	zone   zoneCache
	totals Totals
	days   map[int32]*Totals
	day    int32 // the day last counted, whose totals are at
	at     *Totals
}

// zoneCache keeps the UTC offset of the stretch of time last asked about:
// sessions come in time order, so nearly every one falls in it.
type zoneCache struct {
	from, until int64 // Unix seconds; until exclusive, 0 for no end
	offset      int64
	valid       bool
}

// offsetAt returns the zone's UTC offset in seconds at the Unix second.
func (z *zoneCache) offsetAt(sec int64, loc *time.Location) int64 {
	if !z.valid || sec < z.from || (z.until != 0 && sec >= z.until) {
		local := time.Unix(sec, 0).In(loc)
		_, off := local.Zone()
		from, until := local.ZoneBounds()
		z.from, z.until = math.MinInt64, 0
		if !from.IsZero() {
			z.from = from.Unix()
		}
		if !until.IsZero() {
			z.until = until.Unix()
		}
		z.offset, z.valid = int64(off), true
	}
	return z.offset
}

// localDay returns the local date of the instant (Unix microseconds) as
// days since 1970-01-01.
func (z *zoneCache) localDay(micros int64, loc *time.Location) int32 {
	sec := floorDiv(micros, 1e6)
	return int32(floorDiv(sec+z.offsetAt(sec, loc), 86400))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (r *Runner) take() *state {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.idle); n > 0 {
		st := r.idle[n-1]
		r.idle = r.idle[:n-1]
		return st
	}
	st := &state{sites: map[string]*siteAcc{}, other: map[string]int64{}}
	r.states = append(r.states, st)
	return st
}

func (r *Runner) give(st *state) {
	r.mu.Lock()
	r.idle = append(r.idle, st)
	r.mu.Unlock()
}

func (r *Runner) zoneOf(siteID string) (*time.Location, error) {
	r.zoneMu.Lock()
	defer r.zoneMu.Unlock()
	if loc, ok := r.zones[siteID]; ok {
		return loc, nil
	}
	loc, err := r.zone(siteID)
	if err != nil {
		return nil, err
	}
	if loc == nil {
		loc = time.UTC
	}
	r.zones[siteID] = loc
	return loc, nil
}

func (r *Runner) site(st *state, id string) (*siteAcc, error) {
	if st.last != nil && st.last.id == id {
		return st.last, nil
	}
	a := st.sites[id]
	if a == nil {
		loc, err := r.zoneOf(id)
		if err != nil {
			return nil, err
		}
		a = &siteAcc{id: id, loc: loc, days: map[int32]*Totals{}, day: math.MinInt32}
		st.sites[id] = a
	}
	st.last = a
	return a, nil
}

// Add re-prices a batch. It returns an error only when a site's time
// zone cannot be had; a session that cannot be re-priced (periods that
// do not decode, a price the engine refuses) is counted and named in
// the result instead.
func (r *Runner) Add(batch []evbill.WhatIfCDR) error {
	st := r.take()
	defer r.give(st)
	defer r.seen.Add(int64(len(batch)))
	for i := range batch {
		c := &batch[i]
		h, err := st.dec.Header(c.Record)
		if err != nil {
			st.unpriceable(nil, "record: "+err.Error())
			continue
		}
		if !bytes.Equal(h.Currency, r.code) {
			st.other[string(h.Currency)]++
			continue
		}
		site, err := r.site(st, c.SiteID)
		if err != nil {
			return err
		}
		st.sess.Location = site.loc
		if err := st.dec.Periods(&st.sess); err != nil {
			st.unpriceable(h.SessionID, "periods: "+err.Error())
			continue
		}
		if err := r.cand.PriceInto(&st.sess, &st.res); err != nil {
			st.unpriceable(h.SessionID, err.Error())
			continue
		}
		cand := st.res.Charge.Minor
		if !r.bounds.none() && r.bounds.inside(&st.sess, &site.zone, site.loc) {
			st.approx++
		}
		day := site.zone.localDay(h.StartedAt, site.loc)
		if day != site.day || site.at == nil {
			t := site.days[day]
			if t == nil {
				t = &Totals{}
				site.days[day] = t
			}
			site.day, site.at = day, t
		}
		if !site.totals.add(h.Amount, cand) || !site.at.add(h.Amount, cand) {
			st.overflows = true
		}
		change, ok := sub(cand, h.Amount)
		st.overflows = st.overflows || !ok
		st.changes = append(st.changes, change)
	}
	return nil
}

func (st *state) unpriceable(sessionID []byte, reason string) {
	st.unpriced++
	if len(st.examples) < maxExamples {
		st.examples = append(st.examples, Unpriced{SessionID: string(sessionID), Reason: reason})
	}
}

// Totals are the sessions re-priced and their revenue, in minor units of
// the candidate's currency.
type Totals struct {
	// Sessions counts the sessions re-priced.
	Sessions int64
	// Actual is what their CDRs charged.
	Actual int64
	// Candidate is what the candidate would have charged.
	Candidate int64
}

// Change returns Candidate − Actual.
func (t Totals) Change() int64 { return t.Candidate - t.Actual }

// add counts one session; false when a sum overflowed.
func (t *Totals) add(actual, candidate int64) bool {
	var ok1, ok2 bool
	t.Sessions++
	t.Actual, ok1 = sum(t.Actual, actual)
	t.Candidate, ok2 = sum(t.Candidate, candidate)
	return ok1 && ok2
}

func (t *Totals) merge(u Totals) bool {
	var ok1, ok2 bool
	t.Sessions += u.Sessions
	t.Actual, ok1 = sum(t.Actual, u.Actual)
	t.Candidate, ok2 = sum(t.Candidate, u.Candidate)
	return ok1 && ok2
}

func sum(a, b int64) (int64, bool) {
	s := a + b
	return s, (s > a) == (b > 0) || b == 0
}

func sub(a, b int64) (int64, bool) {
	if b == math.MinInt64 {
		return 0, false
	}
	return sum(a, -b)
}

// Day is the sessions that started on one local date.
type Day struct {
	// Date is YYYY-MM-DD in the site's time zone.
	Date string
	Totals
}

// Site is one site's sessions: in total and by local day.
type Site struct {
	// ID is the site's.
	ID string
	// TimeZone is the IANA name of the zone its days are counted in.
	TimeZone string
	Totals
	// Days are the site's local dates, in order.
	Days []Day
}

// Change is the distribution of the change of price per session
// (candidate − actual, minor units) over the sessions re-priced. The
// percentiles are by nearest rank: the smallest change that at least that
// share of sessions do not exceed, always some session's exact change.
type Change struct {
	// P10, P50 and P90 are the 10th, 50th and 90th percentiles.
	P10, P50, P90 int64
	// Min and Max are the largest decrease and increase.
	Min, Max int64
	// Lower, Unchanged and Higher count the sessions the candidate
	// charges less, the same and more.
	Lower, Unchanged, Higher int64
}

// Skipped counts the sessions of one currency that were not re-priced
// because the candidate is in another.
type Skipped struct {
	// Currency is the ISO 4217 code of the skipped CDRs.
	Currency string
	// Sessions counts them.
	Sessions int64
}

// Unpriced names a session that could not be re-priced, and why.
type Unpriced struct {
	// SessionID is the session's ("" when its record is unreadable).
	SessionID string
	// Reason is the error that stopped it.
	Reason string
}

// Result is a what-if's answer.
type Result struct {
	// Assumption is the package's Assumption, to be shown with the result.
	Assumption string
	// Currency is the candidate's: every amount is in its minor units.
	Currency money.Currency
	Totals
	// Sites are the sites of the re-priced sessions, by ID.
	Sites []Site
	// Days adds the sites' days up by date, each session on the local
	// date of its own site.
	Days []Day
	// Change is nil when no session was re-priced.
	Change *Change
	// OtherCurrency counts the sessions skipped for their currency, by
	// currency code.
	OtherCurrency []Skipped
	// Unpriced counts the sessions the candidate could not price;
	// Examples names a few of them.
	Unpriced int64
	Examples []Unpriced
	// FromDocument counts the sessions whose periods were read from their
	// OCPI document (CDRs stored before the compact encoding).
	FromDocument int64
	// Approximate counts the re-priced sessions with a charging period
	// inside which the candidate's price could change (a time of day, a
	// duration or an energy its restrictions name): such a period is
	// priced whole by the element in force at its start, since a CDR's
	// periods were cut where the tariff that priced it could change.
	Approximate int64
}

// ErrOverflow reports revenue that does not fit in int64 minor units.
var ErrOverflow = fmt.Errorf("whatif: %w: revenue does not fit in 64-bit minor units", money.ErrPrecision)

// Result merges what every Add accumulated. Call it once the store has
// returned, when no Add runs any more.
func (r *Runner) Result() (*Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &Result{Assumption: Assumption, Currency: r.currency}
	sites := map[string]*Site{}
	siteDays := map[string]map[int32]*Totals{}
	allDays := map[int32]*Totals{}
	other := map[string]int64{}
	var changes []int64
	n := 0
	for _, st := range r.states {
		n += len(st.changes)
	}
	changes = make([]int64, 0, n)
	ok := true
	for _, st := range r.states {
		if st.overflows {
			return nil, ErrOverflow
		}
		changes = append(changes, st.changes...)
		for code, k := range st.other {
			other[code] += k
		}
		res.Unpriced += st.unpriced
		res.Approximate += st.approx
		res.FromDocument += st.dec.FromDocument
		for _, e := range st.examples {
			if len(res.Examples) < maxExamples {
				res.Examples = append(res.Examples, e)
			}
		}
		for id, a := range st.sites {
			s := sites[id]
			if s == nil {
				s = &Site{ID: id, TimeZone: a.loc.String()}
				sites[id] = s
				siteDays[id] = map[int32]*Totals{}
			}
			ok = s.Totals.merge(a.totals) && ok
			ok = res.Totals.merge(a.totals) && ok
			for day, t := range a.days {
				ok = into(siteDays[id], day, *t) && ok
				ok = into(allDays, day, *t) && ok
			}
		}
	}
	if !ok {
		return nil, ErrOverflow
	}
	for _, id := range sortedKeys(sites) {
		s := sites[id]
		s.Days = days(siteDays[id])
		res.Sites = append(res.Sites, *s)
	}
	res.Days = days(allDays)
	for _, code := range sortedKeys(other) {
		res.OtherCurrency = append(res.OtherCurrency, Skipped{Currency: code, Sessions: other[code]})
	}
	if len(changes) > 0 {
		res.Change = distribution(changes)
	}
	return res, nil
}

func into(m map[int32]*Totals, day int32, t Totals) bool {
	a := m[day]
	if a == nil {
		a = &Totals{}
		m[day] = a
	}
	return a.merge(t)
}

func days(m map[int32]*Totals) []Day {
	keys := make([]int32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]Day, len(keys))
	for i, k := range keys {
		out[i] = Day{Date: time.Unix(int64(k)*86400, 0).UTC().Format(time.DateOnly), Totals: *m[k]}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// distribution sorts the changes (in place) and reads the percentiles.
func distribution(changes []int64) *Change {
	slices.Sort(changes)
	n := len(changes)
	rank := func(p int) int64 {
		// The smallest rank k with k ≥ p·n/100, counted from 1.
		k := (p*n + 99) / 100
		if k < 1 {
			k = 1
		}
		return changes[k-1]
	}
	c := &Change{P10: rank(10), P50: rank(50), P90: rank(90), Min: changes[0], Max: changes[n-1]}
	lo, _ := slices.BinarySearch(changes, 0)
	hi, _ := slices.BinarySearch(changes, 1)
	c.Lower, c.Unchanged, c.Higher = int64(lo), int64(hi-lo), int64(n-hi)
	return c
}
