package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/pricing"
)

// Assignment says that a tariff applies to a site, a station or a
// connector (exactly one), optionally only for one driver group, within
// [valid_from, valid_to). Where several apply, the most specific target
// wins (connector, station, site), then a group's over everybody's, then
// the higher priority, then the most recent.
type Assignment struct {
	ID            string     `json:"id"`
	TariffID      string     `json:"tariff_id"`
	SiteID        string     `json:"site_id,omitempty"`
	StationID     string     `json:"station_id,omitempty"`
	ConnectorID   string     `json:"connector_id,omitempty"`
	DriverGroupID string     `json:"driver_group_id,omitempty" doc:"When set, the assignment applies only to drivers of this group."`
	ValidFrom     *time.Time `json:"valid_from,omitempty" doc:"Inclusive; absent means since always."`
	ValidTo       *time.Time `json:"valid_to,omitempty" doc:"Exclusive; absent means for ever."`
	Priority      int        `json:"priority" doc:"Higher wins among assignments of equal specificity."`
	CreatedAt     time.Time  `json:"created_at"`
}

type assignmentCreate struct {
	TariffID      string     `json:"tariff_id" minLength:"1" maxLength:"64"`
	SiteID        string     `json:"site_id,omitempty" maxLength:"64"`
	StationID     string     `json:"station_id,omitempty" maxLength:"64"`
	ConnectorID   string     `json:"connector_id,omitempty" maxLength:"64"`
	DriverGroupID string     `json:"driver_group_id,omitempty" maxLength:"64"`
	ValidFrom     *time.Time `json:"valid_from,omitempty"`
	ValidTo       *time.Time `json:"valid_to,omitempty"`
	Priority      int        `json:"priority,omitempty" minimum:"-1000000" maximum:"1000000"`
}

func assignmentOut(a evbill.TariffAssignment) Assignment {
	return Assignment{ID: a.ID, TariffID: a.TariffID, SiteID: a.SiteID, StationID: a.StationID, ConnectorID: a.ConnectorID,
		DriverGroupID: a.DriverGroupID, ValidFrom: utcPtr(a.ValidFrom), ValidTo: utcPtr(a.ValidTo), Priority: a.Priority,
		CreatedAt: utc(a.CreatedAt)}
}

// ResolvedTariff is the tariff that applies to a station at an instant,
// with the assignment that made it apply.
type ResolvedTariff struct {
	TariffID     string          `json:"tariff_id"`
	Version      int             `json:"version"`
	Currency     string          `json:"currency"`
	AssignmentID string          `json:"assignment_id"`
	At           time.Time       `json:"at" doc:"The instant the tariff was resolved for."`
	TimeZone     string          `json:"time_zone" doc:"The site's IANA time zone, in which the tariff's restrictions are read."`
	Tariff       json.RawMessage `json:"tariff" doc:"The OCPI 2.2.1 Tariff object of that version, as it was sent."`
}

func (s *server) registerAssignments() {
	register(s, huma.Operation{OperationID: "create-tariff-assignment", Method: http.MethodPost, Path: Prefix + "/tariff-assignments",
		Summary: "Assign a tariff", DefaultStatus: http.StatusCreated, Tags: []string{"Tariff assignments"}, Errors: []int{http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *struct{ Body assignmentCreate }) (*out[Assignment], error) {
			b, ten := in.Body, tenantOf(ctx)
			var fe fieldErrors
			n := 0
			for _, id := range []string{b.SiteID, b.StationID, b.ConnectorID} {
				if id != "" {
					n++
				}
			}
			if n != 1 {
				fe.add("body", "exactly one of site_id, station_id and connector_id must be set")
			}
			if b.ValidFrom != nil && b.ValidTo != nil && !b.ValidTo.After(*b.ValidFrom) {
				fe.add("body.valid_to", "must be after valid_from")
			}
			refs := []struct {
				id, loc, kind string
				get           func(string) error
			}{
				{b.TariffID, "body.tariff_id", "tariff", func(id string) error { _, err := s.store.TariffVersion(ctx, ten, id, 0); return err }},
				{b.SiteID, "body.site_id", "site", func(id string) error { _, err := s.store.Site(ctx, ten, id); return err }},
				{b.StationID, "body.station_id", "station", func(id string) error { _, err := s.store.Station(ctx, ten, id); return err }},
				{b.ConnectorID, "body.connector_id", "connector", func(id string) error { _, err := s.store.Connector(ctx, ten, id); return err }},
				{b.DriverGroupID, "body.driver_group_id", "driver group", func(id string) error { _, err := s.store.DriverGroup(ctx, ten, id); return err }},
			}
			for _, r := range refs {
				if r.id == "" {
					continue
				}
				if err := checkRef(&fe, r.loc, r.kind, r.get(r.id)); err != nil {
					return nil, err
				}
			}
			if err := fe.err(); err != nil {
				return nil, err
			}
			rec := evbill.TariffAssignment{TenantID: ten, TariffID: b.TariffID, SiteID: b.SiteID, StationID: b.StationID,
				ConnectorID: b.ConnectorID, DriverGroupID: b.DriverGroupID, ValidFrom: utcPtr(b.ValidFrom), ValidTo: utcPtr(b.ValidTo),
				Priority: b.Priority}
			if err := s.store.CreateAssignment(ctx, &rec); err != nil {
				return nil, err
			}
			s.resolver.Invalidate(ten)
			return &out[Assignment]{assignmentOut(rec)}, nil
		})

	register(s, huma.Operation{OperationID: "list-tariff-assignments", Method: http.MethodGet, Path: Prefix + "/tariff-assignments",
		Summary: "List tariff assignments", Tags: []string{"Tariff assignments"}}, auth.Read,
		func(ctx context.Context, in *listParams) (*out[ListBody[Assignment]], error) {
			return page(*in, func(p evbill.Page) ([]evbill.TariffAssignment, error) {
				return s.store.ListAssignments(ctx, tenantOf(ctx), p)
			}, func(r evbill.TariffAssignment) string { return r.ID }, assignmentOut)
		})

	register(s, huma.Operation{OperationID: "get-tariff-assignment", Method: http.MethodGet, Path: Prefix + "/tariff-assignments/{id}",
		Summary: "Get a tariff assignment", Tags: []string{"Tariff assignments"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *idParam) (*out[Assignment], error) {
			rec, err := s.store.Assignment(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &out[Assignment]{assignmentOut(rec)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-tariff-assignment", Method: http.MethodDelete, Path: Prefix + "/tariff-assignments/{id}",
		Summary: "Delete a tariff assignment", Description: "Assignments are not changed in place: delete one and create another.",
		DefaultStatus: http.StatusNoContent, Tags: []string{"Tariff assignments"}, Errors: []int{http.StatusNotFound}}, auth.Write,
		func(ctx context.Context, in *idParam) (*struct{}, error) {
			ten := tenantOf(ctx)
			if err := s.store.DeleteAssignment(ctx, ten, in.ID); err != nil {
				return nil, err
			}
			s.resolver.Invalidate(ten)
			return &struct{}{}, nil
		})

	register(s, huma.Operation{OperationID: "resolve-station-tariff", Method: http.MethodGet, Path: Prefix + "/stations/{id}/tariff",
		Summary:     "The tariff that applies at a station",
		Description: "Resolves the tariff that applies to the station (and connector, and driver group, when given) at an instant, by the assignment precedence rules; 404 when none applies.",
		Tags:        []string{"Tariff assignments"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *struct {
			ID        string    `path:"id" maxLength:"64" doc:"The record's ID."`
			At        time.Time `query:"at" doc:"RFC 3339 instant; now when absent."`
			Group     string    `query:"group" maxLength:"64" doc:"The driver group ID."`
			Connector string    `query:"connector" maxLength:"64" doc:"The connector ID, for connector assignments."`
		}) (*out[ResolvedTariff], error) {
			ten := tenantOf(ctx)
			at := in.At
			if at.IsZero() {
				at = time.Now()
			}
			if err := s.checkTarget(ctx, ten, in.ID, in.Connector, in.Group, "query.connector", "query.group"); err != nil {
				return nil, err
			}
			res, err := s.resolver.Resolve(ctx, pricing.Target{TenantID: ten, StationID: in.ID, ConnectorID: in.Connector, GroupID: in.Group}, at)
			if err != nil {
				return nil, err
			}
			return &out[ResolvedTariff]{ResolvedTariff{TariffID: res.Version.TariffID, Version: res.Version.Version, Currency: res.Version.Currency,
				AssignmentID: res.Assignment.ID, At: utc(at), TimeZone: res.Site.TimeZone, Tariff: res.Version.Document}}, nil
		})
}

// checkTarget checks what a tariff is resolved for: the station exists
// (404 otherwise, as it is the path or the thing priced), the connector is
// one of its connectors and the group exists (422 otherwise: a typo would
// otherwise silently resolve the tariff for everybody).
func (s *server) checkTarget(ctx context.Context, ten, stationID, connectorID, groupID, connLoc, groupLoc string) error {
	if _, err := s.store.Station(ctx, ten, stationID); err != nil {
		return err
	}
	var fe fieldErrors
	if connectorID != "" {
		c, err := s.store.Connector(ctx, ten, connectorID)
		if err := checkRef(&fe, connLoc, "connector", err); err != nil {
			return err
		}
		if err == nil && c.StationID != stationID {
			fe.add(connLoc, "the connector is not one of the station's")
		}
	}
	if groupID != "" {
		_, err := s.store.DriverGroup(ctx, ten, groupID)
		if err := checkRef(&fe, groupLoc, "driver group", err); err != nil {
			return err
		}
	}
	return fe.err()
}
