// Package pricing connects stored records to the tariff engine: it finds
// the tariff that applies to a station, connector and driver group at an
// instant, keeps the answer in a cache that is dropped whenever an
// operator changes a tariff, an assignment, a station or a site, and
// quotes the price of a planned session.
package pricing

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/tariff"
)

// Target is what a tariff is looked up for.
type Target struct {
	TenantID    string
	StationID   string
	ConnectorID string // optional: connector-level assignments apply only when given
	GroupID     string // optional: the driver's group
}

// Resolved is the tariff that applies, with where it came from.
type Resolved struct {
	Assignment evbill.TariffAssignment
	Version    evbill.TariffVersion
	Tariff     *tariff.Tariff
	Station    evbill.Station
	Site       evbill.Site
	Location   *time.Location // the site's time zone
}

// Resolver answers "which tariff applies" from a Store, with a cache.
//
// The cache is per station and is dropped for a whole tenant by
// Invalidate, which every write to tariffs, assignments, stations,
// connectors and sites must call, and an entry lives at most cacheTTL, so
// writes through another instance are seen too. A generation number per
// tenant makes a lookup that raced with an invalidation reload rather than
// keep a stale answer.
type Resolver struct {
	store evbill.Store

	mu      sync.RWMutex
	gen     map[string]uint64            // tenant → generation
	entries map[string]map[string]*entry // tenant → station → loaded records
	now     func() time.Time

	// parsed holds one parsed copy of each tariff version in use, shared
	// by every station entry (see shared).
	parsedMu sync.Mutex
	parsed   map[versionKey]version
}

type versionKey struct {
	tenantID, tariffID string
	version            int
}

// maxParsed bounds the shared parsed versions.
const maxParsed = 4096

// cacheTTL bounds how long a cached answer lives even without an
// invalidation. One instance invalidates its own cache on every write; a
// write made through another instance reaches this one within cacheTTL.
const cacheTTL = 30 * time.Second

type entry struct {
	gen         uint64
	loadedAt    time.Time
	station     evbill.Station
	site        evbill.Site
	loc         *time.Location
	connectors  []evbill.Connector
	assignments []evbill.TariffAssignment
	versions    map[string][]version // tariff ID → versions, oldest first
}

type version struct {
	stored evbill.TariffVersion
	parsed *tariff.Tariff
}

// NewResolver returns a resolver reading from store.
func NewResolver(store evbill.Store) *Resolver {
	return &Resolver{store: store, gen: map[string]uint64{}, entries: map[string]map[string]*entry{}, now: time.Now,
		parsed: map[versionKey]version{}}
}

// Invalidate drops everything cached for the tenant.
func (r *Resolver) Invalidate(tenantID string) {
	r.mu.Lock()
	r.gen[tenantID]++
	delete(r.entries, tenantID)
	r.mu.Unlock()
}

// Resolve returns the tariff that applies to the target at the instant:
// among the assignments whose target, group and validity match, and whose
// tariff had a version in force then (the latest version created at or
// before the instant, whose own start/end_date_time cover it), the most
// specific target wins (connector, then station, then site), then an
// assignment for the driver's group over one for everybody, then the
// higher priority, then the most recent assignment.
func (r *Resolver) Resolve(ctx context.Context, t Target, at time.Time) (Resolved, error) {
	e, err := r.load(ctx, t.TenantID, t.StationID)
	if err != nil {
		return Resolved{}, err
	}
	a, v, ok := choose(e, t, at)
	if !ok {
		return Resolved{}, evbill.Errorf(evbill.ENOTFOUND, "no tariff is assigned to station %q at %s", t.StationID, at.UTC().Format(time.RFC3339))
	}
	return Resolved{Assignment: a, Version: v.stored, Tariff: v.parsed, Station: e.station, Site: e.site, Location: e.loc}, nil
}

// StationContext is what the OCPP path needs to know of a station, as
// cached with its tariffs: the station, its site and time zone, and its
// connectors.
type StationContext struct {
	Station    evbill.Station
	Site       evbill.Site
	Location   *time.Location
	Connectors []evbill.Connector
}

// Connector returns the station's connector with an OCPP connector id.
func (c StationContext) Connector(number int) (evbill.Connector, bool) {
	for _, conn := range c.Connectors {
		if conn.ConnectorNumber == number {
			return conn, true
		}
	}
	return evbill.Connector{}, false
}

// Station returns the station's context from the cache, loading it (and
// its tariffs) on a miss. It is as fresh as Resolve's answers: dropped by
// Invalidate, and at most cacheTTL old.
func (r *Resolver) Station(ctx context.Context, tenantID, stationID string) (StationContext, error) {
	e, err := r.load(ctx, tenantID, stationID)
	if err != nil {
		return StationContext{}, err
	}
	return StationContext{Station: e.station, Site: e.site, Location: e.loc, Connectors: e.connectors}, nil
}

// Version returns a stored tariff version and its parsed tariff, parsed
// once and shared with every station's entry (see shared). A session is
// priced under the version in force at its start, which may no longer be
// assigned to anything by its end.
func (r *Resolver) Version(ctx context.Context, tenantID, tariffID string, number int) (evbill.TariffVersion, *tariff.Tariff, error) {
	r.parsedMu.Lock()
	v, ok := r.parsed[versionKey{tenantID, tariffID, number}]
	r.parsedMu.Unlock()
	if ok {
		return v.stored, v.parsed, nil
	}
	stored, err := r.store.TariffVersion(ctx, tenantID, tariffID, number)
	if err != nil {
		return evbill.TariffVersion{}, nil, err
	}
	v, err = r.shared(stored)
	if err != nil {
		return evbill.TariffVersion{}, nil, err
	}
	return v.stored, v.parsed, nil
}

// shared returns the one parsed copy of a stored tariff version: a tariff
// assigned to a site is the same for each of its thousands of stations,
// and a parsed tariff with its compiled tables weighs kilobytes. Versions
// never change, so a copy is never stale; the map is emptied when it
// reaches maxParsed, after which stations loaded later get new copies.
func (r *Resolver) shared(stored evbill.TariffVersion) (version, error) {
	key := versionKey{stored.TenantID, stored.TariffID, stored.Version}
	r.parsedMu.Lock()
	v, ok := r.parsed[key]
	r.parsedMu.Unlock()
	if ok {
		return v, nil
	}
	parsed, err := tariff.Parse(stored.Document)
	if err != nil {
		return version{}, evbill.Errorf(evbill.EINTERNAL, "stored tariff %s version %d no longer parses: %v", stored.TariffID, stored.Version, err)
	}
	v = version{stored: stored, parsed: parsed}
	r.parsedMu.Lock()
	if len(r.parsed) >= maxParsed {
		clear(r.parsed)
	}
	r.parsed[key] = v
	r.parsedMu.Unlock()
	return v, nil
}

func (r *Resolver) load(ctx context.Context, tenantID, stationID string) (*entry, error) {
	now := r.now()
	r.mu.RLock()
	e, ok := r.entries[tenantID][stationID]
	gen := r.gen[tenantID]
	r.mu.RUnlock()
	if ok && e.gen == gen && now.Sub(e.loadedAt) < cacheTTL {
		return e, nil
	}
	e, err := r.fetch(ctx, tenantID, stationID)
	if err != nil {
		return nil, err
	}
	e.gen, e.loadedAt = gen, now
	r.mu.Lock()
	if r.gen[tenantID] == gen { // no invalidation while we read
		stations := r.entries[tenantID]
		if stations == nil {
			stations = map[string]*entry{}
			r.entries[tenantID] = stations
		}
		stations[stationID] = e
	}
	r.mu.Unlock()
	return e, nil
}

func (r *Resolver) fetch(ctx context.Context, tenantID, stationID string) (*entry, error) {
	st, err := r.store.Station(ctx, tenantID, stationID)
	if err != nil {
		return nil, err
	}
	site, err := r.store.Site(ctx, tenantID, st.SiteID)
	if err != nil {
		return nil, err
	}
	loc, err := location(site.TimeZone)
	if err != nil {
		return nil, evbill.Errorf(evbill.EINVALID, "site %q has time zone %q, which is not an IANA zone", site.ID, site.TimeZone)
	}
	conns, err := r.store.ListConnectors(ctx, tenantID, stationID, evbill.Page{Limit: evbill.MaxPageLimit})
	if err != nil {
		return nil, err
	}
	as, err := r.store.AssignmentsForStation(ctx, tenantID, stationID)
	if err != nil {
		return nil, err
	}
	e := &entry{station: st, site: site, loc: loc, connectors: conns, assignments: as, versions: map[string][]version{}}
	for _, a := range as {
		if _, done := e.versions[a.TariffID]; done {
			continue
		}
		stored, err := r.store.ListTariffVersions(ctx, tenantID, a.TariffID)
		if err != nil {
			return nil, err
		}
		vs := make([]version, 0, len(stored))
		for _, s := range stored {
			v, err := r.shared(s)
			if err != nil {
				return nil, err
			}
			vs = append(vs, v)
		}
		sort.Slice(vs, func(i, j int) bool { return vs[i].stored.Version < vs[j].stored.Version })
		e.versions[a.TariffID] = vs
	}
	return e, nil
}

// locations holds one *time.Location per zone name: time.LoadLocation
// parses the zone's data anew on every call, about 3 KiB each, and every
// station of a site asks for the same zone.
var locations sync.Map // name → *time.Location

func location(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	actual, _ := locations.LoadOrStore(name, l)
	return actual.(*time.Location), nil
}

// choose ranks the applicable assignments of a loaded station.
func choose(e *entry, t Target, at time.Time) (evbill.TariffAssignment, version, bool) {
	var best evbill.TariffAssignment
	var bestV version
	found := false
	for _, a := range e.assignments {
		switch {
		case a.ConnectorID != "" && a.ConnectorID != t.ConnectorID:
			continue
		case a.StationID != "" && a.StationID != e.station.ID:
			continue
		case a.SiteID != "" && a.SiteID != e.site.ID:
			continue
		case a.DriverGroupID != "" && a.DriverGroupID != t.GroupID:
			continue
		case a.ValidFrom != nil && at.Before(*a.ValidFrom):
			continue
		case a.ValidTo != nil && !at.Before(*a.ValidTo):
			continue
		}
		v, ok := inForce(e.versions[a.TariffID], at)
		if !ok {
			continue
		}
		if !found || better(a, best) {
			best, bestV, found = a, v, true
		}
	}
	return best, bestV, found
}

// inForce returns the version in force at the instant: the latest version
// created at or before it whose own start_date_time has come. A version
// dated to start later is skipped, so the one before it still applies;
// but if that version's end_date_time has passed, the tariff has ended and
// no older price comes back.
func inForce(vs []version, at time.Time) (version, bool) {
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		if v.stored.CreatedAt.After(at) {
			continue
		}
		if start := v.parsed.StartDateTime; !start.IsZero() && at.Before(start) {
			continue
		}
		if !v.parsed.ValidAt(at) {
			return version{}, false
		}
		return v, true
	}
	return version{}, false
}

func specificity(a evbill.TariffAssignment) int {
	switch {
	case a.ConnectorID != "":
		return 3
	case a.StationID != "":
		return 2
	}
	return 1
}

// better reports whether a outranks b.
func better(a, b evbill.TariffAssignment) bool {
	if sa, sb := specificity(a), specificity(b); sa != sb {
		return sa > sb
	}
	if ga, gb := a.DriverGroupID != "", b.DriverGroupID != ""; ga != gb {
		return ga
	}
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}
