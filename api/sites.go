package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/cdr"
)

// Site is a place with chargers. TimeZone is the IANA zone in which tariff
// time-of-day, date and weekday restrictions are read for its stations.
type Site struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Address    string    `json:"address"`
	City       string    `json:"city"`
	PostalCode string    `json:"postal_code"`
	Country    string    `json:"country" doc:"ISO 3166-1 alpha-2 code."`
	TimeZone   string    `json:"time_zone" doc:"IANA time zone, e.g. Europe/Amsterdam."`
	SiteHost   string    `json:"site_host" doc:"Who hosts the site (a parking operator, a hotel), if not the operator."`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

type siteCreate struct {
	Name       string `json:"name" minLength:"1" maxLength:"255"`
	Address    string `json:"address,omitempty" maxLength:"255"`
	City       string `json:"city,omitempty" maxLength:"100"`
	PostalCode string `json:"postal_code,omitempty" maxLength:"20"`
	Country    string `json:"country" pattern:"^[A-Z]{2}$" patternDescription:"an ISO 3166-1 alpha-2 code (two upper-case letters)"`
	TimeZone   string `json:"time_zone" minLength:"1" maxLength:"64" doc:"IANA time zone, e.g. Europe/Amsterdam."`
	SiteHost   string `json:"site_host,omitempty" maxLength:"255"`
}

// sitePatch changes the fields present; absent fields keep their value.
type sitePatch struct {
	Name       *string `json:"name,omitempty" minLength:"1" maxLength:"255"`
	Address    *string `json:"address,omitempty" maxLength:"255"`
	City       *string `json:"city,omitempty" maxLength:"100"`
	PostalCode *string `json:"postal_code,omitempty" maxLength:"20"`
	Country    *string `json:"country,omitempty" pattern:"^[A-Z]{2}$" patternDescription:"an ISO 3166-1 alpha-2 code (two upper-case letters)"`
	TimeZone   *string `json:"time_zone,omitempty" minLength:"1" maxLength:"64"`
	SiteHost   *string `json:"site_host,omitempty" maxLength:"255"`
}

func siteOut(s evbill.Site) Site {
	return Site{ID: s.ID, Name: s.Name, Address: s.Address, City: s.City, PostalCode: s.PostalCode, Country: s.Country,
		TimeZone: s.TimeZone, SiteHost: s.SiteHost, CreatedAt: utc(s.CreatedAt), UpdatedAt: utc(s.UpdatedAt)}
}

// checkTimeZone accepts what time.LoadLocation loads, except "Local" (the
// server's zone, which would move with the server) and "" (UTC by
// accident).
func checkTimeZone(fe *fieldErrors, location, tz string) {
	if tz == "" || tz == "Local" {
		fe.add(location, "must be an IANA time zone such as Europe/Amsterdam")
		return
	}
	if _, err := time.LoadLocation(tz); err != nil {
		fe.add(location, "unknown time zone: must be an IANA time zone such as Europe/Amsterdam")
	}
}

// checkCountry refuses a code ISO 3166-1 does not assign: a site's CDRs
// name its country in alpha-3, which only an assigned code has.
func checkCountry(fe *fieldErrors, code string) {
	if _, ok := cdr.CountryAlpha3(code); !ok {
		fe.add("body.country", "must be an ISO 3166-1 alpha-2 country code such as NL; "+code+" is not assigned")
	}
}

func (s *server) registerSites() {
	register(s, huma.Operation{OperationID: "create-site", Method: http.MethodPost, Path: Prefix + "/sites", Summary: "Create a site",
		DefaultStatus: http.StatusCreated, Tags: []string{"Sites"}, Errors: []int{http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *struct{ Body siteCreate }) (*out[Site], error) {
			b := in.Body
			var fe fieldErrors
			checkTimeZone(&fe, "body.time_zone", b.TimeZone)
			checkCountry(&fe, b.Country)
			if err := fe.err(); err != nil {
				return nil, err
			}
			rec := evbill.Site{TenantID: tenantOf(ctx), Name: b.Name, Address: b.Address, City: b.City, PostalCode: b.PostalCode,
				Country: b.Country, TimeZone: b.TimeZone, SiteHost: b.SiteHost}
			if err := s.store.CreateSite(ctx, &rec); err != nil {
				return nil, err
			}
			s.resolver.Invalidate(rec.TenantID)
			return &out[Site]{siteOut(rec)}, nil
		})

	register(s, huma.Operation{OperationID: "list-sites", Method: http.MethodGet, Path: Prefix + "/sites", Summary: "List sites", Tags: []string{"Sites"}}, auth.Read,
		func(ctx context.Context, in *listParams) (*out[ListBody[Site]], error) {
			return page(*in, func(p evbill.Page) ([]evbill.Site, error) { return s.store.ListSites(ctx, tenantOf(ctx), p) },
				func(r evbill.Site) string { return r.ID }, siteOut)
		})

	register(s, huma.Operation{OperationID: "get-site", Method: http.MethodGet, Path: Prefix + "/sites/{id}", Summary: "Get a site",
		Tags: []string{"Sites"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *idParam) (*out[Site], error) {
			rec, err := s.store.Site(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &out[Site]{siteOut(rec)}, nil
		})

	register(s, huma.Operation{OperationID: "update-site", Method: http.MethodPatch, Path: Prefix + "/sites/{id}", Summary: "Change a site",
		Description: "Changes the fields present in the body; absent fields keep their value.",
		Tags:        []string{"Sites"}, Errors: []int{http.StatusNotFound, http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64" doc:"The record's ID."`
			Body sitePatch
		}) (*out[Site], error) {
			b := in.Body
			var fe fieldErrors
			if b.TimeZone != nil {
				checkTimeZone(&fe, "body.time_zone", *b.TimeZone)
			}
			if b.Country != nil {
				checkCountry(&fe, *b.Country)
			}
			if err := fe.err(); err != nil {
				return nil, err
			}
			defer s.records.lock(tenantOf(ctx) + "\x00" + in.ID)()
			rec, err := s.store.Site(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			set(&rec.Name, b.Name)
			set(&rec.Address, b.Address)
			set(&rec.City, b.City)
			set(&rec.PostalCode, b.PostalCode)
			set(&rec.Country, b.Country)
			set(&rec.TimeZone, b.TimeZone)
			set(&rec.SiteHost, b.SiteHost)
			if err := s.store.UpdateSite(ctx, &rec); err != nil {
				return nil, err
			}
			s.resolver.Invalidate(rec.TenantID)
			return &out[Site]{siteOut(rec)}, nil
		})
}

// set copies a PATCH field that was present.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
