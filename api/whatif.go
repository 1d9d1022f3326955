package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/tariff"
	"github.com/evbill/evbill/whatif"
)

// WhatIf is the answer to a what-if: the stored sessions of the range and
// scope re-priced under the candidate tariff, against what their CDRs
// charged. Every amount is in Currency, the candidate's; sessions in
// another currency are skipped and counted, never converted.
type WhatIf struct {
	Assumption string          `json:"assumption" doc:"What the comparison assumes: the same demand under other prices."`
	Tariff     WhatIfCandidate `json:"candidate_tariff" doc:"The tariff the sessions were re-priced under."`
	From       time.Time       `json:"from" doc:"Sessions that started at or after this instant…"`
	To         time.Time       `json:"to" doc:"…and before this one."`
	Scope      WhatIfScope     `json:"scope"`
	Currency   string          `json:"currency" doc:"ISO 4217 code of the candidate, in which every amount is."`
	WhatIfTotals
	ChangePerSession *WhatIfChange `json:"change_per_session,omitempty" doc:"Absent when no session was re-priced."`
	Sites            []WhatIfSite  `json:"sites" nullable:"false" doc:"Per site, ordered by ID."`
	Days             []WhatIfDay   `json:"days" nullable:"false" doc:"Per local date, each session counted on the date it started in its site's time zone."`
	Skipped          WhatIfSkipped `json:"skipped"`
	// SessionsFromDocument counts sessions whose periods were read from
	// the OCPI document: CDRs stored before evbill kept them compact.
	SessionsFromDocument int64 `json:"sessions_from_document" doc:"Sessions whose periods were read from their OCPI document (CDRs stored before the compact form existed); slower, the same result."`
	// ApproximateSessions counts sessions priced approximately.
	ApproximateSessions int64 `json:"approximate_sessions" doc:"Re-priced sessions with a charging period inside which the candidate's price could change (a time of day, a duration or an energy its restrictions name, where the tariff that priced the session had no boundary): such a period is priced whole by the element in force at its start. 0 means every session was re-priced exactly as the engine would price it."`
}

// WhatIfCandidate says which tariff the sessions were re-priced under.
type WhatIfCandidate struct {
	TariffID string `json:"tariff_id,omitempty" doc:"The stored tariff, when one was referenced."`
	Version  int    `json:"version,omitempty"`
	OCPIID   string `json:"ocpi_id" doc:"The tariff document's own id."`
	Currency string `json:"currency"`
}

// WhatIfScope narrows a what-if; empty fields do not narrow it.
type WhatIfScope struct {
	SiteID    string `json:"site_id,omitempty" maxLength:"64" doc:"Only the sessions of this site's stations."`
	StationID string `json:"station_id,omitempty" maxLength:"64" doc:"Only this station's sessions."`
	TariffID  string `json:"tariff_id,omitempty" maxLength:"64" doc:"Only the sessions that were priced under this stored tariff, at any of its versions."`
}

// WhatIfTotals are re-priced sessions and their revenue.
type WhatIfTotals struct {
	Sessions  int64       `json:"sessions" doc:"Sessions re-priced."`
	Actual    WhatIfMoney `json:"actual" doc:"What their CDRs charged."`
	Candidate WhatIfMoney `json:"candidate" doc:"What the candidate would have charged."`
	Change    WhatIfMoney `json:"change" doc:"candidate − actual."`
	// ChangePercent is nil when the actual revenue is zero.
	ChangePercent *Decimal `json:"change_percent,omitempty" doc:"change / actual × 100, rounded half away from zero to 2 decimals; absent when actual is 0."`
}

// WhatIfMoney is an exact amount as a decimal string in major units and
// as integer minor units.
type WhatIfMoney struct {
	Amount     string `json:"amount" doc:"Decimal string in major units, e.g. \"-12.38\"."`
	MinorUnits int64  `json:"minor_units" doc:"Integer minor units, e.g. -1238."`
}

// WhatIfSite is one site's sessions, in total and by local date.
type WhatIfSite struct {
	SiteID   string `json:"site_id"`
	TimeZone string `json:"time_zone"`
	WhatIfTotals
	Days []WhatIfDay `json:"days" nullable:"false"`
}

// WhatIfDay is the sessions that started on one local date.
type WhatIfDay struct {
	Date string `json:"date" doc:"YYYY-MM-DD in the site's time zone."`
	WhatIfTotals
}

// WhatIfChange is the distribution of the change per session (candidate −
// actual). Percentiles are by nearest rank: each is the exact change of
// some session, never interpolated.
type WhatIfChange struct {
	P10       WhatIfMoney `json:"p10"`
	P50       WhatIfMoney `json:"p50"`
	P90       WhatIfMoney `json:"p90"`
	Min       WhatIfMoney `json:"min"`
	Max       WhatIfMoney `json:"max"`
	Lower     int64       `json:"lower" doc:"Sessions the candidate charges less."`
	Unchanged int64       `json:"unchanged"`
	Higher    int64       `json:"higher" doc:"Sessions the candidate charges more."`
}

// WhatIfSkipped counts the sessions in range and scope that were not
// re-priced.
type WhatIfSkipped struct {
	OtherCurrency []WhatIfCurrencyCount `json:"other_currency" nullable:"false" doc:"Sessions whose CDR is in another currency than the candidate: evbill does not convert."`
	Unpriced      int64                 `json:"unpriced" doc:"Sessions the candidate could not price (the engine refused them)."`
	Examples      []WhatIfUnpriced      `json:"examples,omitempty" doc:"A few of the unpriced sessions, with the reason."`
}

// WhatIfCurrencyCount is a number of sessions in one currency.
type WhatIfCurrencyCount struct {
	Currency string `json:"currency"`
	Sessions int64  `json:"sessions"`
}

// WhatIfUnpriced names a session the candidate could not price.
type WhatIfUnpriced struct {
	SessionID string `json:"session_id"`
	Reason    string `json:"reason"`
}

// whatIfRequest is the body of POST /whatif.
type whatIfRequest struct {
	Candidate whatIfCandidateIn `json:"candidate"`
	From      time.Time         `json:"from" doc:"Re-price the sessions that started at or after this instant (RFC 3339)…"`
	To        time.Time         `json:"to" doc:"…and before this one."`
	Scope     WhatIfScope       `json:"scope,omitempty" doc:"Narrows the sessions; the fields combine. Tenant-wide when absent."`
}

// whatIfCandidateIn is the candidate tariff: a document, or a stored
// tariff's version.
type whatIfCandidateIn struct {
	Tariff   candidateTariff `json:"tariff,omitempty"`
	TariffID string          `json:"tariff_id,omitempty" maxLength:"64" doc:"A stored tariff, instead of a document."`
	Version  int             `json:"version,omitempty" minimum:"1" maximum:"2147483647" doc:"The stored tariff's version; the latest when absent."`
}

// candidateTariff is an OCPI tariff inside the request, kept as sent so
// that tariff.Parse validates it exactly as tariff creation does.
type candidateTariff struct{ raw []byte }

// Schema describes the document as any JSON object, as tariff writes do.
func (candidateTariff) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true,
		Description: "An OCPI 2.2.1 Tariff object, validated as POST /tariffs validates it; its problems are located at body.candidate.tariff.<JSON path>. Nothing is stored."}
}

// UnmarshalJSON keeps the document's bytes.
func (c *candidateTariff) UnmarshalJSON(b []byte) error {
	c.raw = append([]byte(nil), b...)
	return nil
}

// WhatIfRequest is the domain side of a what-if, shared by the API and
// the command line: whom, which CDRs, under which tariff.
type WhatIfRequest struct {
	Filter    evbill.WhatIfFilter
	Candidate *tariff.Tariff
	// Ref names the stored tariff version the candidate is, if it is one.
	Ref evbill.TariffVersion
	// Progress, when set, receives the Runner once it exists, so that a
	// caller can follow Runner.Seen.
	Progress func(*whatif.Runner)
}

// RunWhatIf re-prices the CDRs of the request's filter under its
// candidate, reading them from the store, with each site's time zone
// from the store, and returns the answer as the API gives it.
func RunWhatIf(ctx context.Context, store evbill.Store, ws evbill.WhatIfStore, req WhatIfRequest) (WhatIf, error) {
	ten := req.Filter.TenantID
	r, err := whatif.New(whatif.Config{Candidate: req.Candidate, Zone: func(siteID string) (*time.Location, error) {
		site, err := store.Site(ctx, ten, siteID)
		if err != nil {
			return nil, err
		}
		loc, err := time.LoadLocation(site.TimeZone)
		if err != nil {
			return nil, evbill.Errorf(evbill.EINVALID, "site %q has time zone %q, which is not an IANA zone", site.ID, site.TimeZone)
		}
		return loc, nil
	}})
	if err != nil {
		return WhatIf{}, err
	}
	if req.Progress != nil {
		req.Progress(r)
	}
	if err := ws.WhatIfCDRs(ctx, req.Filter, r.Add); err != nil {
		return WhatIf{}, err
	}
	res, err := r.Result()
	if err != nil {
		return WhatIf{}, err
	}
	return whatIfOut(req, res), nil
}

func whatIfOut(req WhatIfRequest, res *whatif.Result) WhatIf {
	cur := res.Currency
	o := WhatIf{
		Assumption: res.Assumption,
		Tariff: WhatIfCandidate{TariffID: req.Ref.TariffID, Version: req.Ref.Version, OCPIID: req.Candidate.ID,
			Currency: cur.Code()},
		From: utc(req.Filter.From), To: utc(req.Filter.To),
		Scope:    WhatIfScope{SiteID: req.Filter.SiteID, StationID: req.Filter.StationID, TariffID: req.Filter.TariffID},
		Currency: cur.Code(), WhatIfTotals: totalsOut(res.Totals, cur),
		Sites: make([]WhatIfSite, len(res.Sites)), Days: daysOut(res.Days, cur),
		Skipped:              WhatIfSkipped{OtherCurrency: make([]WhatIfCurrencyCount, len(res.OtherCurrency)), Unpriced: res.Unpriced},
		SessionsFromDocument: res.FromDocument, ApproximateSessions: res.Approximate,
	}
	for i, s := range res.Sites {
		o.Sites[i] = WhatIfSite{SiteID: s.ID, TimeZone: s.TimeZone, WhatIfTotals: totalsOut(s.Totals, cur), Days: daysOut(s.Days, cur)}
	}
	for i, k := range res.OtherCurrency {
		o.Skipped.OtherCurrency[i] = WhatIfCurrencyCount{Currency: k.Currency, Sessions: k.Sessions}
	}
	for _, e := range res.Examples {
		o.Skipped.Examples = append(o.Skipped.Examples, WhatIfUnpriced{SessionID: e.SessionID, Reason: e.Reason})
	}
	if c := res.Change; c != nil {
		o.ChangePerSession = &WhatIfChange{P10: moneyOut(c.P10, cur), P50: moneyOut(c.P50, cur), P90: moneyOut(c.P90, cur),
			Min: moneyOut(c.Min, cur), Max: moneyOut(c.Max, cur), Lower: c.Lower, Unchanged: c.Unchanged, Higher: c.Higher}
	}
	return o
}

func daysOut(ds []whatif.Day, cur money.Currency) []WhatIfDay {
	out := make([]WhatIfDay, len(ds))
	for i, d := range ds {
		out[i] = WhatIfDay{Date: d.Date, WhatIfTotals: totalsOut(d.Totals, cur)}
	}
	return out
}

func moneyOut(minor int64, cur money.Currency) WhatIfMoney {
	a := money.Amount{Minor: minor, Currency: cur}
	return WhatIfMoney{Amount: string(money.FormatDecimal(nil, a.Decimal(), cur.Exponent())), MinorUnits: minor}
}

var hundred = decimal.MustNew(100, 0)

func totalsOut(t whatif.Totals, cur money.Currency) WhatIfTotals {
	o := WhatIfTotals{Sessions: t.Sessions, Actual: moneyOut(t.Actual, cur), Candidate: moneyOut(t.Candidate, cur),
		Change: moneyOut(t.Change(), cur)}
	if t.Actual > 0 {
		// change × 100 / actual, computed exactly and rounded once.
		if num, err := decimal.New(t.Change(), 0); err == nil {
			if num, err = num.Mul(hundred); err == nil {
				if pct, err := money.QuoRound(num, t.Actual, 2); err == nil {
					o.ChangePercent = &Decimal{Decimal: pct}
				}
			}
		}
	}
	return o
}

// whatIfSlots admits one what-if at a time per process: a what-if takes
// every core for a moment, and the charging path must keep its share.
var whatIfSlots = make(chan struct{}, 1)

func (s *server) registerWhatIf() {
	ws, ok := s.store.(evbill.WhatIfStore)
	if !ok {
		return
	}
	register(s, huma.Operation{OperationID: "create-what-if", Method: http.MethodPost, Path: Prefix + "/whatif",
		Summary: "Re-price past sessions under a candidate tariff",
		Description: "Re-prices every stored CDR of the sessions that started in [from, to), tenant-wide or narrowed by scope, under the candidate " +
			"(an OCPI 2.2.1 Tariff document, or a stored tariff's version), with the billing engine on each CDR's own charging periods in its site's time zone, " +
			"and compares the result with what the CDRs charged: per site, per local day, in total, and as the distribution of the change per session. " +
			"It assumes the same demand (the same sessions, energy and times), which the answer states. Sessions whose CDR is in another currency " +
			"than the candidate are skipped and counted, never converted. Nothing is stored, so read-only keys may ask. One what-if runs at a time; " +
			"others wait for it.",
		Tags: []string{"What-if"}}, auth.Read,
		func(ctx context.Context, in *struct{ Body whatIfRequest }) (*out[WhatIf], error) {
			b, ten := in.Body, tenantOf(ctx)
			req := WhatIfRequest{Filter: evbill.WhatIfFilter{TenantID: ten, From: b.From.UTC(), To: b.To.UTC(),
				SiteID: b.Scope.SiteID, StationID: b.Scope.StationID, TariffID: b.Scope.TariffID}}
			var fe fieldErrors
			if !b.To.After(b.From) {
				fe.add("body.to", "must be after from")
			}
			c := b.Candidate
			switch hasDoc := c.Tariff.raw != nil && string(c.Tariff.raw) != "null"; {
			case hasDoc && c.TariffID != "":
				fe.add("body.candidate", "give either tariff or tariff_id, not both")
			case hasDoc:
				if c.Version != 0 {
					fe.add("body.candidate.version", "only with tariff_id")
				}
				t, err := tariff.Parse(c.Tariff.raw)
				if err != nil {
					if !tariffProblems(&fe, "body.candidate.tariff", err) {
						return nil, err
					}
				}
				req.Candidate = t
			case c.TariffID != "":
				v, err := s.store.TariffVersion(ctx, ten, c.TariffID, c.Version)
				if err := checkRef(&fe, "body.candidate.tariff_id", "tariff (version)", err); err != nil {
					return nil, err
				}
				if err == nil {
					t, err := tariff.Parse(v.Document)
					if err != nil {
						return nil, evbill.Errorf(evbill.EINTERNAL, "stored tariff %s version %d does not parse: %w", v.TariffID, v.Version, err)
					}
					req.Candidate, req.Ref = t, v
				}
			default:
				fe.add("body.candidate", "give a tariff document (tariff) or a stored tariff (tariff_id)")
			}
			if id := b.Scope.SiteID; id != "" {
				_, err := s.store.Site(ctx, ten, id)
				if err := checkRef(&fe, "body.scope.site_id", "site", err); err != nil {
					return nil, err
				}
			}
			if id := b.Scope.StationID; id != "" {
				_, err := s.store.Station(ctx, ten, id)
				if err := checkRef(&fe, "body.scope.station_id", "station", err); err != nil {
					return nil, err
				}
			}
			if id := b.Scope.TariffID; id != "" {
				_, err := s.store.TariffVersion(ctx, ten, id, 0)
				if err := checkRef(&fe, "body.scope.tariff_id", "tariff", err); err != nil {
					return nil, err
				}
			}
			if err := fe.err(); err != nil {
				return nil, err
			}
			select {
			case whatIfSlots <- struct{}{}:
				defer func() { <-whatIfSlots }()
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			o, err := RunWhatIf(ctx, s.store, ws, req)
			if err != nil {
				return nil, err
			}
			return &out[WhatIf]{o}, nil
		})
}

// tariffProblems adds a tariff's validation problems at their JSON paths
// under prefix, as tariff creation reports them under body; false when
// err is not a validation error.
func tariffProblems(fe *fieldErrors, prefix string, err error) bool {
	var ve *tariff.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, p := range ve.Problems {
		loc := prefix
		if p.Path != "" {
			loc += "." + p.Path
		}
		fe.add(loc, p.Rule)
	}
	return true
}
