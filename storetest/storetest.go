// Package storetest is the conformance suite of evbill.Store: one set of
// tests that every storage engine runs, so that the engines cannot drift
// apart in what they accept, reject or return.
//
// An engine's test calls Run with a function that opens a store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) evbill.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "evbill.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// RunSessions does the same for evbill.SessionStore, the OCPP path, on a
// store that offers both (FullStore); BenchmarkApplySessionWrites measures
// its group commit.
//
// Every test makes its own tenants, with unique names, so the suite can
// run in parallel against one shared database that is never truncated.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbill/evbill"
)

// Run runs the whole suite as subtests of t. open is called once per
// subtest and must return a store ready for use, closed by a t.Cleanup of
// its own; the store may be shared with other subtests running at the same
// time.
func Run(t *testing.T, open func(t *testing.T) evbill.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s evbill.Store)
	}{
		{"Ping", testPing},
		{"Tenants", testTenants},
		{"CountTenants", testCountTenants},
		{"AutoRegister", testAutoRegister},
		{"TenantPayments", testTenantPayments},
		{"CreateTenantPayments", testCreateTenantPayments},
		{"APIKeys", testAPIKeys},
		{"Sites", testSites},
		{"Stations", testStations},
		{"StationsAcrossTenants", testStationsAcrossTenants},
		{"StationPassword", testStationPassword},
		{"StationCostDisplay", testStationCostDisplay},
		{"Connectors", testConnectors},
		{"Tariffs", testTariffs},
		{"ConcurrentTariffVersions", testConcurrentTariffVersions},
		{"Assignments", testAssignments},
		{"AssignmentsForStation", testAssignmentsForStation},
		{"DriverGroups", testDriverGroups},
		{"Drivers", testDrivers},
		{"Tokens", testTokens},
		{"IdempotentResponses", testIdempotentResponses},
		{"Pagination", testPagination},
		{"PageLimits", testPageLimits},
		{"TenantIsolation", testTenantIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// Helpers.

// uniq returns a name no other test, run or process uses, so tests can
// share a database.
func uniq(prefix string) string { return evbill.NewID(prefix) }

func newTenant(t testing.TB, s evbill.Store) evbill.Tenant {
	t.Helper()
	tn := evbill.Tenant{Name: uniq("tenant")}
	if err := s.CreateTenant(context.Background(), &tn); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	return tn
}

func newSite(t testing.TB, s evbill.Store, tenantID string) evbill.Site {
	t.Helper()
	st := evbill.Site{
		TenantID: tenantID, Name: "Depot", Address: "Keizersgracht 1", City: "Amsterdam",
		PostalCode: "1015 CJ", Country: "NL", TimeZone: "Europe/Amsterdam", SiteHost: "Host BV",
	}
	if err := s.CreateSite(context.Background(), &st); err != nil {
		t.Fatalf("CreateSite: %v", err)
	}
	return st
}

func newStation(t testing.TB, s evbill.Store, tenantID, siteID string) evbill.Station {
	t.Helper()
	st := evbill.Station{TenantID: tenantID, SiteID: siteID, ChargePointID: uniq("CP"), Vendor: "Alfen", Model: "Eve"}
	if err := s.CreateStation(context.Background(), &st); err != nil {
		t.Fatalf("CreateStation: %v", err)
	}
	return st
}

func newConnector(t testing.TB, s evbill.Store, tenantID, stationID string, number int) evbill.Connector {
	t.Helper()
	c := evbill.Connector{
		TenantID: tenantID, StationID: stationID, ConnectorNumber: number,
		Standard: "IEC_62196_T2", PowerType: "AC_3_PHASE", MaxPowerKW: "22",
	}
	if err := s.CreateConnector(context.Background(), &c); err != nil {
		t.Fatalf("CreateConnector: %v", err)
	}
	return c
}

func newTariff(t testing.TB, s evbill.Store, tenantID string) evbill.TariffVersion {
	t.Helper()
	v := evbill.TariffVersion{TenantID: tenantID, Currency: "EUR", Document: json.RawMessage(`{"id":"T1"}`)}
	if err := s.CreateTariff(context.Background(), &v); err != nil {
		t.Fatalf("CreateTariff: %v", err)
	}
	return v
}

func newGroup(t testing.TB, s evbill.Store, tenantID string) evbill.DriverGroup {
	t.Helper()
	g := evbill.DriverGroup{TenantID: tenantID, Name: "Fleet"}
	if err := s.CreateDriverGroup(context.Background(), &g); err != nil {
		t.Fatalf("CreateDriverGroup: %v", err)
	}
	return g
}

func newDriver(t testing.TB, s evbill.Store, tenantID, groupID string) evbill.Driver {
	t.Helper()
	d := evbill.Driver{TenantID: tenantID, Name: "Ada", Email: "ada@example.com", GroupID: groupID}
	if err := s.CreateDriver(context.Background(), &d); err != nil {
		t.Fatalf("CreateDriver: %v", err)
	}
	return d
}

func newToken(t testing.TB, s evbill.Store, tenantID, driverID, groupID string) evbill.Token {
	t.Helper()
	tk := evbill.Token{
		TenantID: tenantID, UID: uniq("UID"), Type: "RFID", DriverID: driverID, GroupID: groupID,
		Status: evbill.TokenAccepted,
	}
	if err := s.CreateToken(context.Background(), &tk); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	return tk
}

func newAssignment(t testing.TB, s evbill.Store, a evbill.TariffAssignment) evbill.TariffAssignment {
	t.Helper()
	if err := s.CreateAssignment(context.Background(), &a); err != nil {
		t.Fatalf("CreateAssignment: %v", err)
	}
	return a
}

// wantCode fails t unless err is an *evbill.Error with the code, and, when
// contains is not empty, a message containing it.
func wantCode(t testing.TB, what string, err error, code, contains string) {
	t.Helper()
	var e *evbill.Error
	if !errors.As(err, &e) {
		t.Errorf("%s: error = %v (%T), want an *evbill.Error with code %s", what, err, err, code)
		return
	}
	if got := evbill.ErrorCode(err); got != code {
		t.Errorf("%s: code = %s (%q), want %s", what, got, e.Message, code)
	}
	if contains != "" && !strings.Contains(e.Message, contains) {
		t.Errorf("%s: message %q does not contain %q", what, e.Message, contains)
	}
}

func noErr(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// equal fails t unless got and want are deeply equal, times included: the
// store must return exactly the values it filled in.
func equal[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// storeTime checks that a time set by the store is how stores keep time:
// UTC, to the microsecond, and recent.
func storeTime(t testing.TB, what string, tm time.Time) {
	t.Helper()
	switch {
	case tm.IsZero():
		t.Errorf("%s is zero", what)
	case tm.Location() != time.UTC:
		t.Errorf("%s = %v is not in UTC", what, tm)
	case tm.Nanosecond()%1000 != 0:
		t.Errorf("%s = %v has sub-microsecond digits", what, tm)
	case time.Since(tm) > time.Hour || time.Until(tm) > time.Minute:
		t.Errorf("%s = %v is not now", what, tm)
	}
}

func hasPrefix(t testing.TB, what, id, prefix string) {
	t.Helper()
	if !strings.HasPrefix(id, prefix+"_") {
		t.Errorf("%s = %q, want an ID with prefix %s_", what, id, prefix)
	}
}

func ptr[T any](v T) *T { return &v }

// sortBy returns xs in the order of their IDs, the order of every list.
// IDs sort by creation time only to the millisecond, so records made in
// one millisecond may list in either order.
func sortBy[T any](id func(T) string, xs ...T) []T {
	slices.SortFunc(xs, func(a, b T) int { return strings.Compare(id(a), id(b)) })
	return xs
}

func assignmentID(a evbill.TariffAssignment) string { return a.ID }

// Tests.

func testPing(t *testing.T, s evbill.Store) {
	noErr(t, "Ping", s.Ping(t.Context()))
}

func testTenants(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn := evbill.Tenant{ID: "ignored", Name: uniq("Operator")}
	noErr(t, "CreateTenant", s.CreateTenant(ctx, &tn))
	hasPrefix(t, "ID", tn.ID, evbill.PrefixTenant)
	storeTime(t, "CreatedAt", tn.CreatedAt)

	got, err := s.TenantByName(ctx, tn.Name)
	noErr(t, "TenantByName", err)
	equal(t, "TenantByName", got, tn)

	dup := evbill.Tenant{Name: tn.Name}
	wantCode(t, "CreateTenant with a used name", s.CreateTenant(ctx, &dup), evbill.ECONFLICT, `name "`+tn.Name+`" is already used`)

	wantCode(t, "CreateTenant without a name", s.CreateTenant(ctx, &evbill.Tenant{}), evbill.EINVALID, "name")

	_, err = s.TenantByName(ctx, uniq("nobody"))
	wantCode(t, "TenantByName of a missing tenant", err, evbill.ENOTFOUND, "not found")
}

func testCountTenants(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	before, err := s.CountTenants(ctx)
	noErr(t, "CountTenants", err)
	newTenant(t, s)
	newTenant(t, s)
	after, err := s.CountTenants(ctx)
	noErr(t, "CountTenants", err)
	// Other tests may add tenants at the same time, never remove any.
	if after < before+2 {
		t.Errorf("CountTenants = %d after adding 2 to %d", after, before)
	}
}

func testAPIKeys(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	hash := []byte(uniq("hash"))
	k := evbill.APIKey{TenantID: tn.ID, Name: "CI", Role: evbill.RoleOperator, Prefix: "evb_abc"}
	noErr(t, "CreateAPIKey", s.CreateAPIKey(ctx, &k, hash))
	hasPrefix(t, "ID", k.ID, evbill.PrefixAPIKey)
	storeTime(t, "CreatedAt", k.CreatedAt)

	got, err := s.APIKeyByHash(ctx, hash)
	noErr(t, "APIKeyByHash", err)
	equal(t, "APIKeyByHash", got, k)

	_, err = s.APIKeyByHash(ctx, []byte(uniq("other")))
	wantCode(t, "APIKeyByHash of an unknown hash", err, evbill.ENOTFOUND, "")

	// The hash is unique across tenants: it alone finds the key.
	dup := evbill.APIKey{TenantID: other.ID, Name: "dup", Role: evbill.RoleAdmin, Prefix: "evb_def"}
	wantCode(t, "CreateAPIKey with a used hash", s.CreateAPIKey(ctx, &dup, hash), evbill.ECONFLICT, "")

	bad := evbill.APIKey{TenantID: tn.ID, Name: "bad", Role: "root", Prefix: "evb_x"}
	wantCode(t, "CreateAPIKey with an unknown role", s.CreateAPIKey(ctx, &bad, []byte(uniq("h"))), evbill.EINVALID, "role")

	missing := evbill.APIKey{TenantID: uniq(evbill.PrefixTenant), Name: "x", Role: evbill.RoleReadonly, Prefix: "evb_y"}
	wantCode(t, "CreateAPIKey for a missing tenant", s.CreateAPIKey(ctx, &missing, []byte(uniq("h"))), evbill.EINVALID, "tenant_id")

	for _, role := range []evbill.Role{evbill.RoleAdmin, evbill.RoleFinance, evbill.RoleReadonly} {
		h := []byte(uniq("h"))
		k := evbill.APIKey{TenantID: tn.ID, Name: string(role), Role: role, Prefix: "evb_" + string(role)}
		noErr(t, "CreateAPIKey "+string(role), s.CreateAPIKey(ctx, &k, h))
		got, err := s.APIKeyByHash(ctx, h)
		noErr(t, "APIKeyByHash", err)
		equal(t, "APIKeyByHash "+string(role), got, k)
	}

	// Listing: the tenant's four keys in ID order, in pages; none of the
	// other tenant's.
	var listed []evbill.APIKey
	for p := (evbill.Page{Limit: 3}); ; {
		keys, err := s.ListAPIKeys(ctx, tn.ID, p)
		noErr(t, "ListAPIKeys", err)
		listed = append(listed, keys...)
		if len(keys) < p.Limit {
			break
		}
		p.After = keys[len(keys)-1].ID
	}
	if len(listed) != 4 {
		t.Fatalf("ListAPIKeys listed %d keys, want 4", len(listed))
	}
	for i, k := range listed {
		if k.TenantID != tn.ID || (i > 0 && k.ID <= listed[i-1].ID) {
			t.Fatalf("ListAPIKeys: %+v out of order or of another tenant", k)
		}
	}
	// IDs made in the same millisecond sort randomly, so look the first
	// key up rather than expect it first.
	found := false
	for _, l := range listed {
		if l.ID == k.ID {
			equal(t, "ListAPIKeys", l, k)
			found = true
		}
	}
	if !found {
		t.Fatalf("ListAPIKeys does not list %s", k.ID)
	}
	others, err := s.ListAPIKeys(ctx, other.ID, evbill.Page{})
	noErr(t, "ListAPIKeys of the other tenant", err)
	if len(others) != 0 {
		t.Fatalf("the other tenant lists %d keys; its only key creation failed", len(others))
	}
}

func testSites(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	st := newSite(t, s, tn.ID)
	hasPrefix(t, "ID", st.ID, evbill.PrefixSite)
	storeTime(t, "CreatedAt", st.CreatedAt)
	equal(t, "UpdatedAt of a new site", st.UpdatedAt, st.CreatedAt)

	got, err := s.Site(ctx, tn.ID, st.ID)
	noErr(t, "Site", err)
	equal(t, "Site", got, st)

	upd := evbill.Site{
		ID: st.ID, TenantID: tn.ID, Name: "Hub", Address: "Coolsingel 40", City: "Rotterdam",
		PostalCode: "3011 AD", Country: "BE", TimeZone: "Europe/Brussels", SiteHost: "Other BV",
	}
	time.Sleep(2 * time.Microsecond)
	noErr(t, "UpdateSite", s.UpdateSite(ctx, &upd))
	equal(t, "CreatedAt after update", upd.CreatedAt, st.CreatedAt)
	storeTime(t, "UpdatedAt", upd.UpdatedAt)
	if !upd.UpdatedAt.After(st.UpdatedAt) {
		t.Errorf("UpdatedAt %v not after %v", upd.UpdatedAt, st.UpdatedAt)
	}
	got, err = s.Site(ctx, tn.ID, st.ID)
	noErr(t, "Site", err)
	equal(t, "Site after update", got, upd)

	missing := evbill.Site{ID: uniq(evbill.PrefixSite), TenantID: tn.ID, Name: "x"}
	wantCode(t, "UpdateSite of a missing site", s.UpdateSite(ctx, &missing), evbill.ENOTFOUND, missing.ID)
	_, err = s.Site(ctx, tn.ID, missing.ID)
	wantCode(t, "Site of a missing site", err, evbill.ENOTFOUND, `site "`+missing.ID+`" not found`)

	bad := evbill.Site{TenantID: uniq(evbill.PrefixTenant), Name: "x"}
	wantCode(t, "CreateSite for a missing tenant", s.CreateSite(ctx, &bad), evbill.EINVALID, "tenant_id")

	list, err := s.ListSites(ctx, tn.ID, evbill.Page{})
	noErr(t, "ListSites", err)
	equal(t, "ListSites", list, []evbill.Site{upd})
	list, err = s.ListSites(ctx, other.ID, evbill.Page{})
	noErr(t, "ListSites of another tenant", err)
	if len(list) != 0 {
		t.Errorf("ListSites of a tenant without sites = %v", list)
	}
}

func testStations(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	site, site2, otherSite := newSite(t, s, tn.ID), newSite(t, s, tn.ID), newSite(t, s, other.ID)

	st := evbill.Station{TenantID: tn.ID, SiteID: site.ID, ChargePointID: "CP-1", Vendor: "ABB", Model: "Terra 54", HasPassword: true}
	noErr(t, "CreateStation", s.CreateStation(ctx, &st))
	hasPrefix(t, "ID", st.ID, evbill.PrefixStation)
	storeTime(t, "CreatedAt", st.CreatedAt)
	equal(t, "UpdatedAt of a new station", st.UpdatedAt, st.CreatedAt)
	if st.HasPassword {
		t.Errorf("a new station HasPassword")
	}

	got, err := s.Station(ctx, tn.ID, st.ID)
	noErr(t, "Station", err)
	equal(t, "Station", got, st)
	got, err = s.StationByChargePointID(ctx, tn.ID, "CP-1")
	noErr(t, "StationByChargePointID", err)
	equal(t, "StationByChargePointID", got, st)
	_, err = s.StationByChargePointID(ctx, tn.ID, "CP-404")
	wantCode(t, "StationByChargePointID of a missing station", err, evbill.ENOTFOUND, "CP-404")
	_, err = s.StationByChargePointID(ctx, other.ID, "CP-1")
	wantCode(t, "StationByChargePointID through another tenant", err, evbill.ENOTFOUND, "")

	dup := evbill.Station{TenantID: tn.ID, SiteID: site2.ID, ChargePointID: "CP-1"}
	wantCode(t, "CreateStation with a used charge point ID", s.CreateStation(ctx, &dup), evbill.ECONFLICT, `charge_point_id "CP-1" is already used`)
	// Charge point IDs are unique per tenant, not across tenants.
	same := evbill.Station{TenantID: other.ID, SiteID: otherSite.ID, ChargePointID: "CP-1"}
	noErr(t, "CreateStation with another tenant's charge point ID", s.CreateStation(ctx, &same))

	missingSite := uniq(evbill.PrefixSite)
	bad := evbill.Station{TenantID: tn.ID, SiteID: missingSite, ChargePointID: "CP-2"}
	wantCode(t, "CreateStation at a missing site", s.CreateStation(ctx, &bad), evbill.EINVALID, `site_id "`+missingSite+`" does not exist`)
	bad = evbill.Station{TenantID: tn.ID, SiteID: otherSite.ID, ChargePointID: "CP-2"}
	wantCode(t, "CreateStation at another tenant's site", s.CreateStation(ctx, &bad), evbill.EINVALID, `site_id "`+otherSite.ID+`" does not exist`)
	bad = evbill.Station{TenantID: tn.ID, ChargePointID: "CP-2"}
	wantCode(t, "CreateStation without a site", s.CreateStation(ctx, &bad), evbill.EINVALID, "site_id")

	second := evbill.Station{TenantID: tn.ID, SiteID: site.ID, ChargePointID: "CP-2"}
	noErr(t, "CreateStation", s.CreateStation(ctx, &second))

	upd := evbill.Station{ID: st.ID, TenantID: tn.ID, SiteID: site2.ID, ChargePointID: "CP-1b", Vendor: "Kempower", Model: "S"}
	time.Sleep(2 * time.Microsecond)
	noErr(t, "UpdateStation", s.UpdateStation(ctx, &upd))
	equal(t, "CreatedAt after update", upd.CreatedAt, st.CreatedAt)
	if !upd.UpdatedAt.After(st.UpdatedAt) {
		t.Errorf("UpdatedAt %v not after %v", upd.UpdatedAt, st.UpdatedAt)
	}
	got, err = s.Station(ctx, tn.ID, st.ID)
	noErr(t, "Station", err)
	equal(t, "Station after update", got, upd)
	_, err = s.StationByChargePointID(ctx, tn.ID, "CP-1")
	wantCode(t, "StationByChargePointID of the old charge point ID", err, evbill.ENOTFOUND, "")

	clash := upd
	clash.ChargePointID = "CP-2"
	wantCode(t, "UpdateStation to a used charge point ID", s.UpdateStation(ctx, &clash), evbill.ECONFLICT, `charge_point_id "CP-2" is already used`)
	moved := upd
	moved.SiteID = otherSite.ID
	wantCode(t, "UpdateStation to another tenant's site", s.UpdateStation(ctx, &moved), evbill.EINVALID, `site_id "`+otherSite.ID+`" does not exist`)
	got, err = s.Station(ctx, tn.ID, st.ID)
	noErr(t, "Station", err)
	equal(t, "Station after failed updates", got, upd)

	missing := evbill.Station{ID: uniq(evbill.PrefixStation), TenantID: tn.ID, SiteID: site.ID, ChargePointID: "CP-9"}
	wantCode(t, "UpdateStation of a missing station", s.UpdateStation(ctx, &missing), evbill.ENOTFOUND, `station "`+missing.ID+`" not found`)
	_, err = s.Station(ctx, tn.ID, missing.ID)
	wantCode(t, "Station of a missing station", err, evbill.ENOTFOUND, `station "`+missing.ID+`" not found`)

	list, err := s.ListStations(ctx, tn.ID, evbill.Page{})
	noErr(t, "ListStations", err)
	equal(t, "ListStations", list, sortBy(func(x evbill.Station) string { return x.ID }, upd, second))
}

func testStationPassword(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	st := newStation(t, s, tn.ID, newSite(t, s, tn.ID).ID)

	h, err := s.StationPasswordHash(ctx, tn.ID, st.ID)
	noErr(t, "StationPasswordHash", err)
	if h != nil {
		t.Errorf("StationPasswordHash of a station without password = %x, want nil", h)
	}

	hash := []byte{0, 1, 2, 0xff, 'x'}
	noErr(t, "SetStationPassword", s.SetStationPassword(ctx, tn.ID, st.ID, hash))
	h, err = s.StationPasswordHash(ctx, tn.ID, st.ID)
	noErr(t, "StationPasswordHash", err)
	equal(t, "StationPasswordHash", h, hash)
	got, err := s.Station(ctx, tn.ID, st.ID)
	noErr(t, "Station", err)
	if !got.HasPassword {
		t.Errorf("Station.HasPassword = false after SetStationPassword")
	}
	list, err := s.ListStations(ctx, tn.ID, evbill.Page{})
	noErr(t, "ListStations", err)
	if len(list) != 1 || !list[0].HasPassword {
		t.Errorf("ListStations = %+v, want one station with HasPassword", list)
	}
	// An update of the station's fields keeps its password.
	upd := got
	upd.Vendor = "Other"
	noErr(t, "UpdateStation", s.UpdateStation(ctx, &upd))
	if !upd.HasPassword {
		t.Errorf("UpdateStation returned HasPassword = false")
	}
	h, err = s.StationPasswordHash(ctx, tn.ID, st.ID)
	noErr(t, "StationPasswordHash", err)
	equal(t, "StationPasswordHash after UpdateStation", h, hash)

	wantCode(t, "SetStationPassword through another tenant", s.SetStationPassword(ctx, other.ID, st.ID, []byte("evil")), evbill.ENOTFOUND, "")
	_, err = s.StationPasswordHash(ctx, other.ID, st.ID)
	wantCode(t, "StationPasswordHash through another tenant", err, evbill.ENOTFOUND, "")
	h, err = s.StationPasswordHash(ctx, tn.ID, st.ID)
	noErr(t, "StationPasswordHash", err)
	equal(t, "StationPasswordHash after another tenant tried", h, hash)

	missing := uniq(evbill.PrefixStation)
	wantCode(t, "SetStationPassword of a missing station", s.SetStationPassword(ctx, tn.ID, missing, hash), evbill.ENOTFOUND, missing)
	_, err = s.StationPasswordHash(ctx, tn.ID, missing)
	wantCode(t, "StationPasswordHash of a missing station", err, evbill.ENOTFOUND, missing)

	// A nil hash removes the password.
	noErr(t, "SetStationPassword nil", s.SetStationPassword(ctx, tn.ID, st.ID, nil))
	got, err = s.Station(ctx, tn.ID, st.ID)
	noErr(t, "Station", err)
	if got.HasPassword {
		t.Errorf("Station.HasPassword = true after removing the password")
	}
}

func testConnectors(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	site := newSite(t, s, tn.ID)
	st, st2 := newStation(t, s, tn.ID, site.ID), newStation(t, s, tn.ID, site.ID)
	otherSt := newStation(t, s, other.ID, newSite(t, s, other.ID).ID)

	c := evbill.Connector{TenantID: tn.ID, StationID: st.ID, ConnectorNumber: 1, Standard: "IEC_62196_T2_COMBO", PowerType: "DC", MaxPowerKW: "7.4"}
	noErr(t, "CreateConnector", s.CreateConnector(ctx, &c))
	hasPrefix(t, "ID", c.ID, evbill.PrefixConnector)
	storeTime(t, "CreatedAt", c.CreatedAt)
	equal(t, "UpdatedAt of a new connector", c.UpdatedAt, c.CreatedAt)
	got, err := s.Connector(ctx, tn.ID, c.ID)
	noErr(t, "Connector", err)
	equal(t, "Connector", got, c)

	dup := evbill.Connector{TenantID: tn.ID, StationID: st.ID, ConnectorNumber: 1}
	wantCode(t, "CreateConnector with a used number", s.CreateConnector(ctx, &dup), evbill.ECONFLICT, `connector_number "1" is already used`)
	if strconv.IntSize == 64 {
		// Both engines keep numbers as PostgreSQL's 32-bit integer does.
		big := evbill.Connector{TenantID: tn.ID, StationID: st.ID, ConnectorNumber: int(int64(math.MaxInt32) + 1)}
		wantCode(t, "CreateConnector with a number past 32 bits", s.CreateConnector(ctx, &big), evbill.EINVALID, "connector_number")
	}
	c2 := newConnector(t, s, tn.ID, st.ID, 2)
	c3 := newConnector(t, s, tn.ID, st2.ID, 1) // numbers are per station

	missing := uniq(evbill.PrefixStation)
	bad := evbill.Connector{TenantID: tn.ID, StationID: missing, ConnectorNumber: 1}
	wantCode(t, "CreateConnector of a missing station", s.CreateConnector(ctx, &bad), evbill.EINVALID, `station_id "`+missing+`" does not exist`)
	bad = evbill.Connector{TenantID: tn.ID, StationID: otherSt.ID, ConnectorNumber: 7}
	wantCode(t, "CreateConnector of another tenant's station", s.CreateConnector(ctx, &bad), evbill.EINVALID, `station_id "`+otherSt.ID+`" does not exist`)

	list, err := s.ListConnectors(ctx, tn.ID, st.ID, evbill.Page{})
	noErr(t, "ListConnectors", err)
	equal(t, "ListConnectors", list, sortBy(func(x evbill.Connector) string { return x.ID }, c, c2))
	list, err = s.ListConnectors(ctx, tn.ID, st2.ID, evbill.Page{})
	noErr(t, "ListConnectors", err)
	equal(t, "ListConnectors of the second station", list, []evbill.Connector{c3})
	list, err = s.ListConnectors(ctx, other.ID, st.ID, evbill.Page{})
	noErr(t, "ListConnectors through another tenant", err)
	if len(list) != 0 {
		t.Errorf("ListConnectors through another tenant = %v", list)
	}

	upd := evbill.Connector{ID: c.ID, TenantID: tn.ID, StationID: st2.ID, ConnectorNumber: 3, Standard: "CHADEMO", PowerType: "DC", MaxPowerKW: "50.0"}
	time.Sleep(2 * time.Microsecond)
	noErr(t, "UpdateConnector", s.UpdateConnector(ctx, &upd))
	equal(t, "CreatedAt after update", upd.CreatedAt, c.CreatedAt)
	if !upd.UpdatedAt.After(c.UpdatedAt) {
		t.Errorf("UpdatedAt %v not after %v", upd.UpdatedAt, c.UpdatedAt)
	}
	got, err = s.Connector(ctx, tn.ID, c.ID)
	noErr(t, "Connector", err)
	equal(t, "Connector after update", got, upd)

	clash := upd
	clash.ConnectorNumber = 1 // c3's number on st2
	wantCode(t, "UpdateConnector to a used number", s.UpdateConnector(ctx, &clash), evbill.ECONFLICT, `connector_number "1" is already used`)
	moved := upd
	moved.StationID = otherSt.ID
	wantCode(t, "UpdateConnector to another tenant's station", s.UpdateConnector(ctx, &moved), evbill.EINVALID, `station_id "`+otherSt.ID+`" does not exist`)
	gone := evbill.Connector{ID: uniq(evbill.PrefixConnector), TenantID: tn.ID, StationID: st.ID, ConnectorNumber: 9}
	wantCode(t, "UpdateConnector of a missing connector", s.UpdateConnector(ctx, &gone), evbill.ENOTFOUND, `connector "`+gone.ID+`" not found`)
	_, err = s.Connector(ctx, tn.ID, gone.ID)
	wantCode(t, "Connector of a missing connector", err, evbill.ENOTFOUND, gone.ID)
}

func testTariffs(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	// Documents are kept byte for byte: key order, spacing, number
	// spellings and escapes as given.
	docs := []string{
		`{"z":1, "a" : [ 1.50, 2e3, -0.0 ],"id":"T1"}`,
		"{\n  \"b\": \"\\u00e9\",\n  \"a\": 10.000\n}\n",
		`{"id":"T1","elements":[{"price_components":[{"type":"ENERGY","price":0.25,"step_size":1}]}],"unknown":{"x":null}}`,
	}
	v1 := evbill.TariffVersion{TariffID: "ignored", TenantID: tn.ID, Version: 7, Currency: "EUR", Document: json.RawMessage(docs[0])}
	noErr(t, "CreateTariff", s.CreateTariff(ctx, &v1))
	hasPrefix(t, "TariffID", v1.TariffID, evbill.PrefixTariff)
	storeTime(t, "CreatedAt", v1.CreatedAt)
	if v1.Version != 1 {
		t.Errorf("CreateTariff Version = %d, want 1", v1.Version)
	}
	got, err := s.TariffVersion(ctx, tn.ID, v1.TariffID, 1)
	noErr(t, "TariffVersion 1", err)
	equal(t, "TariffVersion 1", got, v1)

	versions := []evbill.TariffVersion{v1}
	for i, doc := range docs[1:] {
		v := evbill.TariffVersion{TariffID: v1.TariffID, TenantID: tn.ID, Currency: "USD", Document: json.RawMessage(doc)}
		noErr(t, "AddTariffVersion", s.AddTariffVersion(ctx, &v))
		if v.Version != i+2 {
			t.Errorf("AddTariffVersion Version = %d, want %d", v.Version, i+2)
		}
		storeTime(t, "CreatedAt", v.CreatedAt)
		versions = append(versions, v)
	}
	for i, want := range versions {
		got, err := s.TariffVersion(ctx, tn.ID, v1.TariffID, i+1)
		noErr(t, "TariffVersion", err)
		equal(t, fmt.Sprintf("TariffVersion %d", i+1), got, want)
		if string(got.Document) != docs[i] {
			t.Errorf("version %d document = %q, want %q byte for byte", i+1, got.Document, docs[i])
		}
	}
	latest, err := s.TariffVersion(ctx, tn.ID, v1.TariffID, 0)
	noErr(t, "TariffVersion 0", err)
	equal(t, "TariffVersion 0 (the latest)", latest, versions[2])

	all, err := s.ListTariffVersions(ctx, tn.ID, v1.TariffID)
	noErr(t, "ListTariffVersions", err)
	equal(t, "ListTariffVersions", all, versions)

	second := newTariff(t, s, tn.ID)
	list, err := s.ListTariffs(ctx, tn.ID, evbill.Page{})
	noErr(t, "ListTariffs", err)
	equal(t, "ListTariffs (latest of each)", list, sortBy(func(x evbill.TariffVersion) string { return x.TariffID }, versions[2], second))

	_, err = s.TariffVersion(ctx, tn.ID, v1.TariffID, 4)
	wantCode(t, "TariffVersion of a missing version", err, evbill.ENOTFOUND, v1.TariffID)
	// A version beyond int32 must not wrap around to an existing one.
	_, err = s.TariffVersion(ctx, tn.ID, v1.TariffID, 1<<32+1)
	wantCode(t, "TariffVersion of a version beyond int32", err, evbill.ENOTFOUND, v1.TariffID)
	missing := uniq(evbill.PrefixTariff)
	_, err = s.TariffVersion(ctx, tn.ID, missing, 0)
	wantCode(t, "TariffVersion of a missing tariff", err, evbill.ENOTFOUND, missing)
	_, err = s.TariffVersion(ctx, tn.ID, missing, 1)
	wantCode(t, "TariffVersion 1 of a missing tariff", err, evbill.ENOTFOUND, missing)
	_, err = s.ListTariffVersions(ctx, tn.ID, missing)
	wantCode(t, "ListTariffVersions of a missing tariff", err, evbill.ENOTFOUND, missing)
	add := evbill.TariffVersion{TariffID: missing, TenantID: tn.ID, Currency: "EUR", Document: json.RawMessage(`{}`)}
	wantCode(t, "AddTariffVersion to a missing tariff", s.AddTariffVersion(ctx, &add), evbill.ENOTFOUND, missing)

	// Another tenant sees none of it and cannot add to it.
	_, err = s.TariffVersion(ctx, other.ID, v1.TariffID, 0)
	wantCode(t, "TariffVersion through another tenant", err, evbill.ENOTFOUND, "")
	_, err = s.TariffVersion(ctx, other.ID, v1.TariffID, 1)
	wantCode(t, "TariffVersion 1 through another tenant", err, evbill.ENOTFOUND, "")
	_, err = s.ListTariffVersions(ctx, other.ID, v1.TariffID)
	wantCode(t, "ListTariffVersions through another tenant", err, evbill.ENOTFOUND, "")
	add = evbill.TariffVersion{TariffID: v1.TariffID, TenantID: other.ID, Currency: "EUR", Document: json.RawMessage(`{}`)}
	wantCode(t, "AddTariffVersion through another tenant", s.AddTariffVersion(ctx, &add), evbill.ENOTFOUND, "")
	all, err = s.ListTariffVersions(ctx, tn.ID, v1.TariffID)
	noErr(t, "ListTariffVersions", err)
	equal(t, "ListTariffVersions after other tenant's attempts", all, versions)

	bad := evbill.TariffVersion{TenantID: uniq(evbill.PrefixTenant), Currency: "EUR", Document: json.RawMessage(`{}`)}
	wantCode(t, "CreateTariff for a missing tenant", s.CreateTariff(ctx, &bad), evbill.EINVALID, "tenant_id")
	empty := evbill.TariffVersion{TenantID: tn.ID, Currency: "EUR"}
	wantCode(t, "CreateTariff without a document", s.CreateTariff(ctx, &empty), evbill.EINVALID, "document")
}

func testConcurrentTariffVersions(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn := newTenant(t, s)
	v1 := newTariff(t, s, tn.ID)

	const writers = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		got       []int
		conflicts int
	)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := json.RawMessage(fmt.Sprintf(`{"writer":%d}`, i))
			for attempt := 0; ; attempt++ {
				v := evbill.TariffVersion{TariffID: v1.TariffID, TenantID: tn.ID, Currency: "EUR", Document: doc}
				err := s.AddTariffVersion(ctx, &v)
				if evbill.ErrorCode(err) == evbill.ECONFLICT && attempt < 100 {
					mu.Lock()
					conflicts++
					mu.Unlock()
					continue // a concurrent update took the version: retry
				}
				if err != nil {
					t.Errorf("AddTariffVersion: %v", err)
					return
				}
				mu.Lock()
				got = append(got, v.Version)
				mu.Unlock()
				return
			}
		}()
	}
	wg.Wait()
	t.Logf("%d conflicts retried", conflicts)
	slices.Sort(got)
	want := make([]int, writers)
	for i := range want {
		want[i] = i + 2
	}
	equal(t, "versions added concurrently", got, want)

	all, err := s.ListTariffVersions(ctx, tn.ID, v1.TariffID)
	noErr(t, "ListTariffVersions", err)
	if len(all) != writers+1 {
		t.Fatalf("ListTariffVersions has %d versions, want %d", len(all), writers+1)
	}
	writersSeen := map[string]bool{}
	for i, v := range all {
		if v.Version != i+1 {
			t.Errorf("version %d at position %d", v.Version, i)
		}
		if i > 0 {
			writersSeen[string(v.Document)] = true
		}
	}
	if len(writersSeen) != writers {
		t.Errorf("documents of %d writers stored, want %d", len(writersSeen), writers)
	}
	equal(t, "version 1 after concurrent updates", all[0], v1)
}

func testAssignments(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	site := newSite(t, s, tn.ID)
	st := newStation(t, s, tn.ID, site.ID)
	con := newConnector(t, s, tn.ID, st.ID, 1)
	tariff := newTariff(t, s, tn.ID)
	group := newGroup(t, s, tn.ID)

	oSite := newSite(t, s, other.ID)
	oSt := newStation(t, s, other.ID, oSite.ID)
	oCon := newConnector(t, s, other.ID, oSt.ID, 1)
	oTariff := newTariff(t, s, other.ID)
	oGroup := newGroup(t, s, other.ID)

	// Times from the caller come back in UTC, to the microsecond.
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		ams = time.FixedZone("CET", 3600)
	}
	from := time.Date(2025, 3, 30, 1, 59, 59, 123456789, ams)
	to := from.Add(90 * 24 * time.Hour)
	a := evbill.TariffAssignment{
		ID: "ignored", TenantID: tn.ID, TariffID: tariff.TariffID, SiteID: site.ID, DriverGroupID: group.ID,
		ValidFrom: &from, ValidTo: &to, Priority: -3,
	}
	noErr(t, "CreateAssignment", s.CreateAssignment(ctx, &a))
	hasPrefix(t, "ID", a.ID, evbill.PrefixAssignment)
	storeTime(t, "CreatedAt", a.CreatedAt)
	if a.ValidFrom == nil || !a.ValidFrom.Equal(from.Truncate(time.Microsecond)) || a.ValidFrom.Location() != time.UTC {
		t.Errorf("ValidFrom = %v, want %v in UTC", a.ValidFrom, from.Truncate(time.Microsecond))
	}
	got, err := s.Assignment(ctx, tn.ID, a.ID)
	noErr(t, "Assignment", err)
	equal(t, "Assignment", got, a)

	b := newAssignment(t, s, evbill.TariffAssignment{TenantID: tn.ID, TariffID: tariff.TariffID, StationID: st.ID, Priority: 5})
	c := newAssignment(t, s, evbill.TariffAssignment{TenantID: tn.ID, TariffID: tariff.TariffID, ConnectorID: con.ID, ValidFrom: ptr(time.Now())})
	for _, x := range []evbill.TariffAssignment{b, c} {
		got, err := s.Assignment(ctx, tn.ID, x.ID)
		noErr(t, "Assignment", err)
		equal(t, "Assignment", got, x)
	}
	list, err := s.ListAssignments(ctx, tn.ID, evbill.Page{})
	noErr(t, "ListAssignments", err)
	equal(t, "ListAssignments", list, sortBy(assignmentID, a, b, c))

	targets := []struct {
		name string
		a    evbill.TariffAssignment
	}{
		{"no target", evbill.TariffAssignment{}},
		{"site and station", evbill.TariffAssignment{SiteID: site.ID, StationID: st.ID}},
		{"station and connector", evbill.TariffAssignment{StationID: st.ID, ConnectorID: con.ID}},
		{"all three", evbill.TariffAssignment{SiteID: site.ID, StationID: st.ID, ConnectorID: con.ID}},
	}
	for _, tt := range targets {
		x := tt.a
		x.TenantID, x.TariffID = tn.ID, tariff.TariffID
		wantCode(t, "CreateAssignment with "+tt.name, s.CreateAssignment(ctx, &x), evbill.EINVALID, "exactly one")
	}
	backwards := evbill.TariffAssignment{TenantID: tn.ID, TariffID: tariff.TariffID, SiteID: site.ID, ValidFrom: &to, ValidTo: &from}
	wantCode(t, "CreateAssignment valid to before valid from", s.CreateAssignment(ctx, &backwards), evbill.EINVALID, "valid_from")

	refs := []struct {
		field string
		id    string
		a     evbill.TariffAssignment
	}{
		{"tariff_id", oTariff.TariffID, evbill.TariffAssignment{TariffID: oTariff.TariffID, SiteID: site.ID}},
		{"site_id", oSite.ID, evbill.TariffAssignment{TariffID: tariff.TariffID, SiteID: oSite.ID}},
		{"station_id", oSt.ID, evbill.TariffAssignment{TariffID: tariff.TariffID, StationID: oSt.ID}},
		{"connector_id", oCon.ID, evbill.TariffAssignment{TariffID: tariff.TariffID, ConnectorID: oCon.ID}},
		{"driver_group_id", oGroup.ID, evbill.TariffAssignment{TariffID: tariff.TariffID, SiteID: site.ID, DriverGroupID: oGroup.ID}},
	}
	for _, r := range refs {
		x := r.a
		x.TenantID = tn.ID
		wantCode(t, "CreateAssignment with another tenant's "+r.field, s.CreateAssignment(ctx, &x), evbill.EINVALID,
			fmt.Sprintf("%s %q does not exist", r.field, r.id))
	}
	missing := uniq(evbill.PrefixTariff)
	x := evbill.TariffAssignment{TenantID: tn.ID, TariffID: missing, SiteID: site.ID}
	wantCode(t, "CreateAssignment of a missing tariff", s.CreateAssignment(ctx, &x), evbill.EINVALID, `tariff_id "`+missing+`" does not exist`)

	_, err = s.Assignment(ctx, other.ID, a.ID)
	wantCode(t, "Assignment through another tenant", err, evbill.ENOTFOUND, "")
	wantCode(t, "DeleteAssignment through another tenant", s.DeleteAssignment(ctx, other.ID, a.ID), evbill.ENOTFOUND, "")
	got, err = s.Assignment(ctx, tn.ID, a.ID)
	noErr(t, "Assignment after another tenant tried to delete it", err)
	equal(t, "Assignment", got, a)

	noErr(t, "DeleteAssignment", s.DeleteAssignment(ctx, tn.ID, a.ID))
	_, err = s.Assignment(ctx, tn.ID, a.ID)
	wantCode(t, "Assignment after delete", err, evbill.ENOTFOUND, `assignment "`+a.ID+`" not found`)
	wantCode(t, "DeleteAssignment twice", s.DeleteAssignment(ctx, tn.ID, a.ID), evbill.ENOTFOUND, a.ID)
	list, err = s.ListAssignments(ctx, tn.ID, evbill.Page{})
	noErr(t, "ListAssignments", err)
	equal(t, "ListAssignments after delete", list, sortBy(assignmentID, b, c))
}

func testAssignmentsForStation(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	tariff := newTariff(t, s, tn.ID)
	siteA, siteB := newSite(t, s, tn.ID), newSite(t, s, tn.ID)
	st1, st2, st3 := newStation(t, s, tn.ID, siteA.ID), newStation(t, s, tn.ID, siteA.ID), newStation(t, s, tn.ID, siteB.ID)
	c11, c12 := newConnector(t, s, tn.ID, st1.ID, 1), newConnector(t, s, tn.ID, st1.ID, 2)
	c21 := newConnector(t, s, tn.ID, st2.ID, 1)
	c31 := newConnector(t, s, tn.ID, st3.ID, 1)
	group := newGroup(t, s, tn.ID)

	assign := func(a evbill.TariffAssignment) evbill.TariffAssignment {
		a.TenantID, a.TariffID = tn.ID, tariff.TariffID
		return newAssignment(t, s, a)
	}
	past := time.Now().Add(-48 * time.Hour)
	onSiteA := assign(evbill.TariffAssignment{SiteID: siteA.ID})
	onSiteB := assign(evbill.TariffAssignment{SiteID: siteB.ID})
	onSt1 := assign(evbill.TariffAssignment{StationID: st1.ID, DriverGroupID: group.ID})
	onSt2 := assign(evbill.TariffAssignment{StationID: st2.ID})
	onC11 := assign(evbill.TariffAssignment{ConnectorID: c11.ID, ValidTo: &past}) // expired: still returned
	onC12 := assign(evbill.TariffAssignment{ConnectorID: c12.ID, Priority: 9})
	onC21 := assign(evbill.TariffAssignment{ConnectorID: c21.ID})
	onC31 := assign(evbill.TariffAssignment{ConnectorID: c31.ID})
	onSt3 := assign(evbill.TariffAssignment{StationID: st3.ID})

	byID := func(as ...evbill.TariffAssignment) []evbill.TariffAssignment { return sortBy(assignmentID, as...) }
	cases := []struct {
		station string
		want    []evbill.TariffAssignment
	}{
		{st1.ID, byID(onSiteA, onSt1, onC11, onC12)},
		{st2.ID, byID(onSiteA, onSt2, onC21)},
		{st3.ID, byID(onSiteB, onSt3, onC31)},
	}
	for _, tc := range cases {
		got, err := s.AssignmentsForStation(ctx, tn.ID, tc.station)
		noErr(t, "AssignmentsForStation", err)
		equal(t, "AssignmentsForStation "+tc.station, got, tc.want)
	}

	lonely := newStation(t, s, tn.ID, newSite(t, s, tn.ID).ID)
	got, err := s.AssignmentsForStation(ctx, tn.ID, lonely.ID)
	noErr(t, "AssignmentsForStation", err)
	if len(got) != 0 {
		t.Errorf("AssignmentsForStation of a station without assignments = %v", got)
	}
	_, err = s.AssignmentsForStation(ctx, other.ID, st1.ID)
	wantCode(t, "AssignmentsForStation through another tenant", err, evbill.ENOTFOUND, "")
	missing := uniq(evbill.PrefixStation)
	_, err = s.AssignmentsForStation(ctx, tn.ID, missing)
	wantCode(t, "AssignmentsForStation of a missing station", err, evbill.ENOTFOUND, `station "`+missing+`" not found`)

	noErr(t, "DeleteAssignment", s.DeleteAssignment(ctx, tn.ID, onC12.ID))
	got, err = s.AssignmentsForStation(ctx, tn.ID, st1.ID)
	noErr(t, "AssignmentsForStation", err)
	equal(t, "AssignmentsForStation after delete", got, byID(onSiteA, onSt1, onC11))
}

func testDriverGroups(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	g := evbill.DriverGroup{ID: "ignored", TenantID: tn.ID, Name: "Staff"}
	noErr(t, "CreateDriverGroup", s.CreateDriverGroup(ctx, &g))
	hasPrefix(t, "ID", g.ID, evbill.PrefixGroup)
	storeTime(t, "CreatedAt", g.CreatedAt)
	equal(t, "UpdatedAt of a new group", g.UpdatedAt, g.CreatedAt)
	got, err := s.DriverGroup(ctx, tn.ID, g.ID)
	noErr(t, "DriverGroup", err)
	equal(t, "DriverGroup", got, g)

	upd := evbill.DriverGroup{ID: g.ID, TenantID: tn.ID, Name: "Night staff"}
	time.Sleep(2 * time.Microsecond)
	noErr(t, "UpdateDriverGroup", s.UpdateDriverGroup(ctx, &upd))
	equal(t, "CreatedAt after update", upd.CreatedAt, g.CreatedAt)
	if !upd.UpdatedAt.After(g.UpdatedAt) {
		t.Errorf("UpdatedAt %v not after %v", upd.UpdatedAt, g.UpdatedAt)
	}
	got, err = s.DriverGroup(ctx, tn.ID, g.ID)
	noErr(t, "DriverGroup", err)
	equal(t, "DriverGroup after update", got, upd)

	list, err := s.ListDriverGroups(ctx, tn.ID, evbill.Page{})
	noErr(t, "ListDriverGroups", err)
	equal(t, "ListDriverGroups", list, []evbill.DriverGroup{upd})

	missing := evbill.DriverGroup{ID: uniq(evbill.PrefixGroup), TenantID: tn.ID, Name: "x"}
	wantCode(t, "UpdateDriverGroup of a missing group", s.UpdateDriverGroup(ctx, &missing), evbill.ENOTFOUND, missing.ID)
	_, err = s.DriverGroup(ctx, tn.ID, missing.ID)
	wantCode(t, "DriverGroup of a missing group", err, evbill.ENOTFOUND, `driver group "`+missing.ID+`" not found`)
	bad := evbill.DriverGroup{TenantID: uniq(evbill.PrefixTenant), Name: "x"}
	wantCode(t, "CreateDriverGroup for a missing tenant", s.CreateDriverGroup(ctx, &bad), evbill.EINVALID, "tenant_id")
	_, err = s.DriverGroup(ctx, other.ID, g.ID)
	wantCode(t, "DriverGroup through another tenant", err, evbill.ENOTFOUND, "")
}

func testDrivers(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	g1, g2 := newGroup(t, s, tn.ID), newGroup(t, s, tn.ID)
	oGroup := newGroup(t, s, other.ID)

	d := evbill.Driver{ID: "ignored", TenantID: tn.ID, Name: "Grace", Email: "grace@example.com", GroupID: g1.ID}
	noErr(t, "CreateDriver", s.CreateDriver(ctx, &d))
	hasPrefix(t, "ID", d.ID, evbill.PrefixDriver)
	storeTime(t, "CreatedAt", d.CreatedAt)
	equal(t, "UpdatedAt of a new driver", d.UpdatedAt, d.CreatedAt)
	got, err := s.Driver(ctx, tn.ID, d.ID)
	noErr(t, "Driver", err)
	equal(t, "Driver", got, d)

	solo := newDriver(t, s, tn.ID, "")
	got, err = s.Driver(ctx, tn.ID, solo.ID)
	noErr(t, "Driver", err)
	equal(t, "Driver without a group", got, solo)

	bad := evbill.Driver{TenantID: tn.ID, Name: "x", GroupID: oGroup.ID}
	wantCode(t, "CreateDriver in another tenant's group", s.CreateDriver(ctx, &bad), evbill.EINVALID, `group_id "`+oGroup.ID+`" does not exist`)
	bad = evbill.Driver{TenantID: uniq(evbill.PrefixTenant), Name: "x"}
	wantCode(t, "CreateDriver for a missing tenant", s.CreateDriver(ctx, &bad), evbill.EINVALID, "tenant_id")

	for _, group := range []string{g2.ID, ""} {
		upd := evbill.Driver{ID: d.ID, TenantID: tn.ID, Name: "Grace H.", Email: "gh@example.com", GroupID: group}
		noErr(t, "UpdateDriver", s.UpdateDriver(ctx, &upd))
		equal(t, "CreatedAt after update", upd.CreatedAt, d.CreatedAt)
		storeTime(t, "UpdatedAt", upd.UpdatedAt)
		got, err = s.Driver(ctx, tn.ID, d.ID)
		noErr(t, "Driver", err)
		equal(t, "Driver after update", got, upd)
		d = upd
	}
	moved := d
	moved.GroupID = oGroup.ID
	wantCode(t, "UpdateDriver into another tenant's group", s.UpdateDriver(ctx, &moved), evbill.EINVALID, `group_id "`+oGroup.ID+`" does not exist`)
	missing := evbill.Driver{ID: uniq(evbill.PrefixDriver), TenantID: tn.ID}
	wantCode(t, "UpdateDriver of a missing driver", s.UpdateDriver(ctx, &missing), evbill.ENOTFOUND, `driver "`+missing.ID+`" not found`)
	_, err = s.Driver(ctx, tn.ID, missing.ID)
	wantCode(t, "Driver of a missing driver", err, evbill.ENOTFOUND, missing.ID)

	list, err := s.ListDrivers(ctx, tn.ID, evbill.Page{})
	noErr(t, "ListDrivers", err)
	equal(t, "ListDrivers", list, sortBy(func(x evbill.Driver) string { return x.ID }, d, solo))
}

func testTokens(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	g := newGroup(t, s, tn.ID)
	d := newDriver(t, s, tn.ID, g.ID)
	oGroup := newGroup(t, s, other.ID)
	oDriver := newDriver(t, s, other.ID, "")

	exp := time.Date(2030, 1, 2, 3, 4, 5, 999999999, time.FixedZone("X", -5*3600))
	tk := evbill.Token{
		ID: "ignored", TenantID: tn.ID, UID: "04A1B2C3", Type: "RFID", DriverID: d.ID, GroupID: g.ID,
		Status: evbill.TokenAccepted, ExpiresAt: &exp,
	}
	noErr(t, "CreateToken", s.CreateToken(ctx, &tk))
	hasPrefix(t, "ID", tk.ID, evbill.PrefixToken)
	storeTime(t, "CreatedAt", tk.CreatedAt)
	equal(t, "UpdatedAt of a new token", tk.UpdatedAt, tk.CreatedAt)
	if tk.ExpiresAt == nil || !tk.ExpiresAt.Equal(exp.Truncate(time.Microsecond)) || tk.ExpiresAt.Location() != time.UTC {
		t.Errorf("ExpiresAt = %v, want %v in UTC", tk.ExpiresAt, exp.Truncate(time.Microsecond))
	}
	got, err := s.Token(ctx, tn.ID, tk.ID)
	noErr(t, "Token", err)
	equal(t, "Token", got, tk)
	got, err = s.TokenByUID(ctx, tn.ID, "04A1B2C3")
	noErr(t, "TokenByUID", err)
	equal(t, "TokenByUID", got, tk)
	_, err = s.TokenByUID(ctx, other.ID, "04A1B2C3")
	wantCode(t, "TokenByUID through another tenant", err, evbill.ENOTFOUND, "")
	_, err = s.TokenByUID(ctx, tn.ID, "FFFF")
	wantCode(t, "TokenByUID of a missing token", err, evbill.ENOTFOUND, "FFFF")

	dup := evbill.Token{TenantID: tn.ID, UID: "04A1B2C3", Type: "RFID", Status: evbill.TokenBlocked}
	wantCode(t, "CreateToken with a used UID", s.CreateToken(ctx, &dup), evbill.ECONFLICT, `uid "04A1B2C3" is already used`)
	same := evbill.Token{TenantID: other.ID, UID: "04A1B2C3", Type: "RFID", Status: evbill.TokenAccepted}
	noErr(t, "CreateToken with another tenant's UID", s.CreateToken(ctx, &same))

	bad := evbill.Token{TenantID: tn.ID, UID: "X1", Type: "RFID", Status: evbill.TokenAccepted, DriverID: oDriver.ID}
	wantCode(t, "CreateToken of another tenant's driver", s.CreateToken(ctx, &bad), evbill.EINVALID, `driver_id "`+oDriver.ID+`" does not exist`)
	bad = evbill.Token{TenantID: tn.ID, UID: "X2", Type: "RFID", Status: evbill.TokenAccepted, GroupID: oGroup.ID}
	wantCode(t, "CreateToken in another tenant's group", s.CreateToken(ctx, &bad), evbill.EINVALID, `group_id "`+oGroup.ID+`" does not exist`)
	bad = evbill.Token{TenantID: uniq(evbill.PrefixTenant), UID: "X3", Type: "RFID", Status: evbill.TokenAccepted}
	wantCode(t, "CreateToken for a missing tenant", s.CreateToken(ctx, &bad), evbill.EINVALID, "tenant_id")

	bare := evbill.Token{TenantID: tn.ID, UID: "APP-1", Type: "APP_USER", Status: evbill.TokenExpired}
	noErr(t, "CreateToken without driver or group", s.CreateToken(ctx, &bare))
	got, err = s.Token(ctx, tn.ID, bare.ID)
	noErr(t, "Token", err)
	equal(t, "Token without driver, group or expiry", got, bare)

	upd := evbill.Token{ID: tk.ID, TenantID: tn.ID, UID: "04A1B2C4", Type: "OTHER", Status: evbill.TokenBlocked}
	time.Sleep(2 * time.Microsecond)
	noErr(t, "UpdateToken", s.UpdateToken(ctx, &upd))
	equal(t, "CreatedAt after update", upd.CreatedAt, tk.CreatedAt)
	if !upd.UpdatedAt.After(tk.UpdatedAt) {
		t.Errorf("UpdatedAt %v not after %v", upd.UpdatedAt, tk.UpdatedAt)
	}
	got, err = s.Token(ctx, tn.ID, tk.ID)
	noErr(t, "Token", err)
	equal(t, "Token after update (driver, group, expiry cleared)", got, upd)

	clash := upd
	clash.UID = "APP-1"
	wantCode(t, "UpdateToken to a used UID", s.UpdateToken(ctx, &clash), evbill.ECONFLICT, `uid "APP-1" is already used`)
	moved := upd
	moved.DriverID = oDriver.ID
	wantCode(t, "UpdateToken to another tenant's driver", s.UpdateToken(ctx, &moved), evbill.EINVALID, `driver_id "`+oDriver.ID+`" does not exist`)
	moved = upd
	moved.GroupID = oGroup.ID
	wantCode(t, "UpdateToken to another tenant's group", s.UpdateToken(ctx, &moved), evbill.EINVALID, `group_id "`+oGroup.ID+`" does not exist`)
	missing := evbill.Token{ID: uniq(evbill.PrefixToken), TenantID: tn.ID, UID: "Z", Status: evbill.TokenAccepted}
	wantCode(t, "UpdateToken of a missing token", s.UpdateToken(ctx, &missing), evbill.ENOTFOUND, `token "`+missing.ID+`" not found`)
	_, err = s.Token(ctx, tn.ID, missing.ID)
	wantCode(t, "Token of a missing token", err, evbill.ENOTFOUND, missing.ID)

	list, err := s.ListTokens(ctx, tn.ID, evbill.Page{})
	noErr(t, "ListTokens", err)
	equal(t, "ListTokens", list, sortBy(func(x evbill.Token) string { return x.ID }, upd, bare))
}

func testIdempotentResponses(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	r := evbill.IdempotentResponse{Key: "req-1", RequestHash: []byte{1, 2, 3}, Status: 201, Body: []byte(`{"id":"site_1"}`)}
	noErr(t, "SaveIdempotentResponse", s.SaveIdempotentResponse(ctx, tn.ID, &r))
	storeTime(t, "CreatedAt", r.CreatedAt)
	got, err := s.IdempotentResponse(ctx, tn.ID, "req-1")
	noErr(t, "IdempotentResponse", err)
	equal(t, "IdempotentResponse", got, r)

	dup := evbill.IdempotentResponse{Key: "req-1", RequestHash: []byte{9}, Status: 200}
	wantCode(t, "SaveIdempotentResponse with a used key", s.SaveIdempotentResponse(ctx, tn.ID, &dup), evbill.ECONFLICT, "req-1")
	got, err = s.IdempotentResponse(ctx, tn.ID, "req-1")
	noErr(t, "IdempotentResponse", err)
	equal(t, "IdempotentResponse after a duplicate", got, r)

	_, err = s.IdempotentResponse(ctx, other.ID, "req-1")
	wantCode(t, "IdempotentResponse through another tenant", err, evbill.ENOTFOUND, "")
	_, err = s.IdempotentResponse(ctx, tn.ID, "req-2")
	wantCode(t, "IdempotentResponse of a missing key", err, evbill.ENOTFOUND, "req-2")

	// Keys are per tenant.
	mine := evbill.IdempotentResponse{Key: "req-1", RequestHash: []byte{4}, Status: 204}
	noErr(t, "SaveIdempotentResponse of another tenant with the same key", s.SaveIdempotentResponse(ctx, other.ID, &mine))
	got, err = s.IdempotentResponse(ctx, other.ID, "req-1")
	noErr(t, "IdempotentResponse", err)
	equal(t, "IdempotentResponse of the other tenant (empty body)", got, mine)

	bad := evbill.IdempotentResponse{Key: "k", Status: 200}
	wantCode(t, "SaveIdempotentResponse for a missing tenant", s.SaveIdempotentResponse(ctx, uniq(evbill.PrefixTenant), &bad), evbill.EINVALID, "tenant_id")

	// A reservation (status 0) blocks the key, then becomes the answer.
	res := evbill.IdempotentResponse{Key: "req-3", RequestHash: []byte{7}}
	noErr(t, "reserve", s.SaveIdempotentResponse(ctx, tn.ID, &res))
	again := evbill.IdempotentResponse{Key: "req-3", RequestHash: []byte{7}}
	wantCode(t, "reserving a reserved key", s.SaveIdempotentResponse(ctx, tn.ID, &again), evbill.ECONFLICT, "req-3")
	got, err = s.IdempotentResponse(ctx, tn.ID, "req-3")
	noErr(t, "IdempotentResponse of a reservation", err)
	equal(t, "IdempotentResponse of a reservation", got, res)
	wantCode(t, "CompleteIdempotentResponse through another tenant",
		s.CompleteIdempotentResponse(ctx, other.ID, "req-3", 201, []byte("x")), evbill.ENOTFOUND, "req-3")
	noErr(t, "CompleteIdempotentResponse", s.CompleteIdempotentResponse(ctx, tn.ID, "req-3", 201, []byte(`{"id":"x"}`)))
	got, err = s.IdempotentResponse(ctx, tn.ID, "req-3")
	noErr(t, "IdempotentResponse after completion", err)
	res.Status, res.Body = 201, []byte(`{"id":"x"}`)
	equal(t, "IdempotentResponse after completion", got, res)
	wantCode(t, "completing a complete answer", s.CompleteIdempotentResponse(ctx, tn.ID, "req-3", 200, nil), evbill.ENOTFOUND, "req-3")
	// Releasing never drops a complete answer.
	noErr(t, "ReleaseIdempotencyKey of an answer", s.ReleaseIdempotencyKey(ctx, tn.ID, "req-3", time.Now().Add(time.Hour)))
	if _, err := s.IdempotentResponse(ctx, tn.ID, "req-3"); err != nil {
		t.Fatalf("a complete answer was released: %v", err)
	}
	// A reservation is released only if made before the cut-off, and only
	// for its own tenant.
	res4 := evbill.IdempotentResponse{Key: "req-4", RequestHash: []byte{8}}
	noErr(t, "reserve", s.SaveIdempotentResponse(ctx, tn.ID, &res4))
	noErr(t, "ReleaseIdempotencyKey before the reservation", s.ReleaseIdempotencyKey(ctx, tn.ID, "req-4", res4.CreatedAt))
	noErr(t, "ReleaseIdempotencyKey through another tenant", s.ReleaseIdempotencyKey(ctx, other.ID, "req-4", time.Now().Add(time.Hour)))
	if _, err := s.IdempotentResponse(ctx, tn.ID, "req-4"); err != nil {
		t.Fatalf("a fresh reservation was released: %v", err)
	}
	noErr(t, "ReleaseIdempotencyKey", s.ReleaseIdempotencyKey(ctx, tn.ID, "req-4", time.Now().Add(time.Hour)))
	_, err = s.IdempotentResponse(ctx, tn.ID, "req-4")
	wantCode(t, "IdempotentResponse of a released key", err, evbill.ENOTFOUND, "req-4")
	noErr(t, "reserving a released key", s.SaveIdempotentResponse(ctx, tn.ID, &res4))
}

// paginate walks a list page by page with the given limit and checks that
// it returns exactly want, in order, with no page longer than the limit.
func paginate[T any](t *testing.T, what string, limit int, list func(evbill.Page) ([]T, error), id func(T) string, want []string) {
	t.Helper()
	var got []string
	after := ""
	for range len(want) + 2 {
		page, err := list(evbill.Page{After: after, Limit: limit})
		noErr(t, what, err)
		if len(page) > limit {
			t.Fatalf("%s: page of %d items with limit %d", what, len(page), limit)
		}
		if len(page) == 0 {
			break
		}
		for _, x := range page {
			got = append(got, id(x))
		}
		after = id(page[len(page)-1])
	}
	equal(t, fmt.Sprintf("%s pages of %d", what, limit), got, want)
}

func testPagination(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	const n = 7
	var sites, stations, connectors, tariffs, assignments, groups, drivers, tokens []string
	site := newSite(t, s, tn.ID)
	st := newStation(t, s, tn.ID, site.ID)
	tariff := newTariff(t, s, tn.ID)
	// The other tenant's records are interleaved with ours and must never
	// show up.
	oSite := newSite(t, s, other.ID)
	oSt := newStation(t, s, other.ID, oSite.ID)
	for i := range n {
		sites = append(sites, newSite(t, s, tn.ID).ID)
		stations = append(stations, newStation(t, s, tn.ID, site.ID).ID)
		connectors = append(connectors, newConnector(t, s, tn.ID, st.ID, i+1).ID)
		v := newTariff(t, s, tn.ID)
		// A second version must not make the tariff appear twice.
		v2 := evbill.TariffVersion{TariffID: v.TariffID, TenantID: tn.ID, Currency: "EUR", Document: json.RawMessage(`{"v":2}`)}
		noErr(t, "AddTariffVersion", s.AddTariffVersion(ctx, &v2))
		tariffs = append(tariffs, v.TariffID)
		assignments = append(assignments, newAssignment(t, s, evbill.TariffAssignment{TenantID: tn.ID, TariffID: tariff.TariffID, SiteID: site.ID}).ID)
		g := newGroup(t, s, tn.ID)
		groups = append(groups, g.ID)
		drivers = append(drivers, newDriver(t, s, tn.ID, g.ID).ID)
		tokens = append(tokens, newToken(t, s, tn.ID, "", "").ID)

		newSite(t, s, other.ID)
		newStation(t, s, other.ID, oSite.ID)
		newConnector(t, s, other.ID, oSt.ID, i+1)
		newTariff(t, s, other.ID)
		newGroup(t, s, other.ID)
		newDriver(t, s, other.ID, "")
		newToken(t, s, other.ID, "", "")
	}
	sites = append(sites, site.ID)
	stations = append(stations, st.ID)
	tariffs = append(tariffs, tariff.TariffID)
	// IDs sort by creation only to the millisecond: lists are in ID order.
	for _, ids := range [][]string{sites, stations, connectors, tariffs, assignments, groups, drivers, tokens} {
		slices.Sort(ids)
	}

	for _, limit := range []int{1, 2, 3, n + 1, 100} {
		paginate(t, "ListSites", limit, func(p evbill.Page) ([]evbill.Site, error) { return s.ListSites(ctx, tn.ID, p) },
			func(x evbill.Site) string { return x.ID }, sites)
		paginate(t, "ListStations", limit, func(p evbill.Page) ([]evbill.Station, error) { return s.ListStations(ctx, tn.ID, p) },
			func(x evbill.Station) string { return x.ID }, stations)
		paginate(t, "ListConnectors", limit, func(p evbill.Page) ([]evbill.Connector, error) { return s.ListConnectors(ctx, tn.ID, st.ID, p) },
			func(x evbill.Connector) string { return x.ID }, connectors)
		paginate(t, "ListTariffs", limit, func(p evbill.Page) ([]evbill.TariffVersion, error) { return s.ListTariffs(ctx, tn.ID, p) },
			func(x evbill.TariffVersion) string { return x.TariffID }, tariffs)
		paginate(t, "ListAssignments", limit, func(p evbill.Page) ([]evbill.TariffAssignment, error) { return s.ListAssignments(ctx, tn.ID, p) },
			func(x evbill.TariffAssignment) string { return x.ID }, assignments)
		paginate(t, "ListDriverGroups", limit, func(p evbill.Page) ([]evbill.DriverGroup, error) { return s.ListDriverGroups(ctx, tn.ID, p) },
			func(x evbill.DriverGroup) string { return x.ID }, groups)
		paginate(t, "ListDrivers", limit, func(p evbill.Page) ([]evbill.Driver, error) { return s.ListDrivers(ctx, tn.ID, p) },
			func(x evbill.Driver) string { return x.ID }, drivers)
		paginate(t, "ListTokens", limit, func(p evbill.Page) ([]evbill.Token, error) { return s.ListTokens(ctx, tn.ID, p) },
			func(x evbill.Token) string { return x.ID }, tokens)
	}

	// ListTariffs lists each tariff at its latest version.
	list, err := s.ListTariffs(ctx, tn.ID, evbill.Page{})
	noErr(t, "ListTariffs", err)
	for _, v := range list {
		if v.TariffID != tariff.TariffID && v.Version != 2 {
			t.Errorf("ListTariffs: tariff %s at version %d, want its latest, 2", v.TariffID, v.Version)
		}
	}
	// A cursor past the end is an empty page, not an error.
	empty, err := s.ListSites(ctx, tn.ID, evbill.Page{After: sites[len(sites)-1]})
	noErr(t, "ListSites past the end", err)
	if len(empty) != 0 {
		t.Errorf("ListSites past the end = %v", empty)
	}
}

func testPageLimits(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn := newTenant(t, s)
	const (
		defaultLimit = 50
		maxLimit     = 500
	)
	for range maxLimit + 1 {
		newGroup(t, s, tn.ID)
	}
	for _, tc := range []struct{ limit, want int }{
		{0, defaultLimit}, {-1, defaultLimit}, {1, 1}, {maxLimit, maxLimit}, {maxLimit + 1, maxLimit}, {1 << 30, maxLimit},
	} {
		list, err := s.ListDriverGroups(ctx, tn.ID, evbill.Page{Limit: tc.limit})
		noErr(t, "ListDriverGroups", err)
		if len(list) != tc.want {
			t.Errorf("ListDriverGroups with Limit %d: %d items, want %d", tc.limit, len(list), tc.want)
		}
	}
}

// testTenantIsolation makes one of every record in tenant A and checks
// that tenant B can read, list, update or delete none of them, and that
// A's records are unchanged by B's attempts.
func testTenantIsolation(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s), newTenant(t, s)
	newSite(t, s, b.ID) // B is not empty: its lists have something to leak into

	site := newSite(t, s, a.ID)
	st := newStation(t, s, a.ID, site.ID)
	noErr(t, "SetStationPassword", s.SetStationPassword(ctx, a.ID, st.ID, []byte("hash")))
	st, err := s.Station(ctx, a.ID, st.ID)
	noErr(t, "Station", err)
	con := newConnector(t, s, a.ID, st.ID, 1)
	tariff := newTariff(t, s, a.ID)
	group := newGroup(t, s, a.ID)
	drv := newDriver(t, s, a.ID, group.ID)
	tok := newToken(t, s, a.ID, drv.ID, group.ID)
	asg := newAssignment(t, s, evbill.TariffAssignment{TenantID: a.ID, TariffID: tariff.TariffID, StationID: st.ID})
	idem := evbill.IdempotentResponse{Key: "k1", RequestHash: []byte{1}, Status: 201, Body: []byte("{}")}
	noErr(t, "SaveIdempotentResponse", s.SaveIdempotentResponse(ctx, a.ID, &idem))

	notFound := func(what string, err error) {
		t.Helper()
		wantCode(t, what+" through another tenant", err, evbill.ENOTFOUND, "")
	}
	var e error
	_, e = s.Site(ctx, b.ID, site.ID)
	notFound("Site", e)
	_, e = s.Station(ctx, b.ID, st.ID)
	notFound("Station", e)
	_, e = s.StationByChargePointID(ctx, b.ID, st.ChargePointID)
	notFound("StationByChargePointID", e)
	_, e = s.StationPasswordHash(ctx, b.ID, st.ID)
	notFound("StationPasswordHash", e)
	_, e = s.Connector(ctx, b.ID, con.ID)
	notFound("Connector", e)
	_, e = s.TariffVersion(ctx, b.ID, tariff.TariffID, 0)
	notFound("TariffVersion", e)
	_, e = s.ListTariffVersions(ctx, b.ID, tariff.TariffID)
	notFound("ListTariffVersions", e)
	_, e = s.Assignment(ctx, b.ID, asg.ID)
	notFound("Assignment", e)
	_, e = s.AssignmentsForStation(ctx, b.ID, st.ID)
	notFound("AssignmentsForStation", e)
	_, e = s.DriverGroup(ctx, b.ID, group.ID)
	notFound("DriverGroup", e)
	_, e = s.Driver(ctx, b.ID, drv.ID)
	notFound("Driver", e)
	_, e = s.Token(ctx, b.ID, tok.ID)
	notFound("Token", e)
	_, e = s.TokenByUID(ctx, b.ID, tok.UID)
	notFound("TokenByUID", e)
	_, e = s.IdempotentResponse(ctx, b.ID, idem.Key)
	notFound("IdempotentResponse", e)

	// Updates through B: the IDs are A's, the tenant is B's.
	bSite := site
	bSite.TenantID, bSite.Name = b.ID, "stolen"
	notFound("UpdateSite", s.UpdateSite(ctx, &bSite))
	bSt := st
	bSt.TenantID, bSt.Vendor = b.ID, "stolen"
	notFound("UpdateStation", s.UpdateStation(ctx, &bSt))
	notFound("SetStationPassword", s.SetStationPassword(ctx, b.ID, st.ID, []byte("stolen")))
	bCon := con
	bCon.TenantID, bCon.Standard = b.ID, "stolen"
	notFound("UpdateConnector", s.UpdateConnector(ctx, &bCon))
	bTariff := evbill.TariffVersion{TariffID: tariff.TariffID, TenantID: b.ID, Currency: "EUR", Document: json.RawMessage(`{"stolen":true}`)}
	notFound("AddTariffVersion", s.AddTariffVersion(ctx, &bTariff))
	notFound("DeleteAssignment", s.DeleteAssignment(ctx, b.ID, asg.ID))
	bGroup := group
	bGroup.TenantID, bGroup.Name = b.ID, "stolen"
	notFound("UpdateDriverGroup", s.UpdateDriverGroup(ctx, &bGroup))
	bDrv := drv
	bDrv.TenantID, bDrv.GroupID, bDrv.Name = b.ID, "", "stolen"
	notFound("UpdateDriver", s.UpdateDriver(ctx, &bDrv))
	bTok := tok
	bTok.TenantID, bTok.DriverID, bTok.GroupID, bTok.Status = b.ID, "", "", evbill.TokenBlocked
	notFound("UpdateToken", s.UpdateToken(ctx, &bTok))

	// B's lists show none of A's records.
	sites, err := s.ListSites(ctx, b.ID, evbill.Page{})
	noErr(t, "ListSites", err)
	for _, x := range sites {
		if x.TenantID != b.ID {
			t.Errorf("ListSites of B returned %+v", x)
		}
	}
	if len(sites) != 1 {
		t.Errorf("ListSites of B has %d sites, want 1", len(sites))
	}
	empty := func(what string, n int, err error) {
		t.Helper()
		noErr(t, what, err)
		if n != 0 {
			t.Errorf("%s of B returned %d of A's records", what, n)
		}
	}
	stations, err := s.ListStations(ctx, b.ID, evbill.Page{})
	empty("ListStations", len(stations), err)
	connectors, err := s.ListConnectors(ctx, b.ID, st.ID, evbill.Page{})
	empty("ListConnectors", len(connectors), err)
	tariffs, err := s.ListTariffs(ctx, b.ID, evbill.Page{})
	empty("ListTariffs", len(tariffs), err)
	assignments, err := s.ListAssignments(ctx, b.ID, evbill.Page{})
	empty("ListAssignments", len(assignments), err)
	groups, err := s.ListDriverGroups(ctx, b.ID, evbill.Page{})
	empty("ListDriverGroups", len(groups), err)
	drivers, err := s.ListDrivers(ctx, b.ID, evbill.Page{})
	empty("ListDrivers", len(drivers), err)
	tokens, err := s.ListTokens(ctx, b.ID, evbill.Page{})
	empty("ListTokens", len(tokens), err)

	// A's records are as they were.
	gotSite, err := s.Site(ctx, a.ID, site.ID)
	noErr(t, "Site", err)
	equal(t, "A's site", gotSite, site)
	gotSt, err := s.Station(ctx, a.ID, st.ID)
	noErr(t, "Station", err)
	equal(t, "A's station", gotSt, st)
	hash, err := s.StationPasswordHash(ctx, a.ID, st.ID)
	noErr(t, "StationPasswordHash", err)
	equal(t, "A's station password", hash, []byte("hash"))
	gotCon, err := s.Connector(ctx, a.ID, con.ID)
	noErr(t, "Connector", err)
	equal(t, "A's connector", gotCon, con)
	versions, err := s.ListTariffVersions(ctx, a.ID, tariff.TariffID)
	noErr(t, "ListTariffVersions", err)
	equal(t, "A's tariff", versions, []evbill.TariffVersion{tariff})
	gotAsg, err := s.Assignment(ctx, a.ID, asg.ID)
	noErr(t, "Assignment", err)
	equal(t, "A's assignment", gotAsg, asg)
	gotGroup, err := s.DriverGroup(ctx, a.ID, group.ID)
	noErr(t, "DriverGroup", err)
	equal(t, "A's group", gotGroup, group)
	gotDrv, err := s.Driver(ctx, a.ID, drv.ID)
	noErr(t, "Driver", err)
	equal(t, "A's driver", gotDrv, drv)
	gotTok, err := s.Token(ctx, a.ID, tok.ID)
	noErr(t, "Token", err)
	equal(t, "A's token", gotTok, tok)
	gotIdem, err := s.IdempotentResponse(ctx, a.ID, idem.Key)
	noErr(t, "IdempotentResponse", err)
	equal(t, "A's idempotent response", gotIdem, idem)
}

// testStationsAcrossTenants: a charge point id used by two tenants finds
// both stations, and nothing else.
func testStationsAcrossTenants(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	a, b := newTenant(t, s), newTenant(t, s)
	cp := uniq("CP")
	sa := evbill.Station{TenantID: a.ID, SiteID: newSite(t, s, a.ID).ID, ChargePointID: cp}
	sb := evbill.Station{TenantID: b.ID, SiteID: newSite(t, s, b.ID).ID, ChargePointID: cp}
	noErr(t, "CreateStation", s.CreateStation(ctx, &sa))
	noErr(t, "CreateStation", s.CreateStation(ctx, &sb))
	got, err := s.StationsByChargePointID(ctx, cp)
	noErr(t, "StationsByChargePointID", err)
	want := sortBy(func(x evbill.Station) string { return x.TenantID + "/" + x.ID }, sa, sb)
	equal(t, "StationsByChargePointID", got, want)
	none, err := s.StationsByChargePointID(ctx, uniq("CP"))
	noErr(t, "StationsByChargePointID of an unused id", err)
	if len(none) != 0 {
		t.Fatalf("an unused charge point id found %d stations", len(none))
	}
}

// testAutoRegister: the setting is off for a new tenant, takes only the
// tenant's own sites, shows in Tenant and AutoRegisterTenants, and turns
// off again. It is turned off at the end, so that runs sharing a
// database do not pile up tenants that take unknown chargers.
func testAutoRegister(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	site, otherSite := newSite(t, s, tn.ID), newSite(t, s, other.ID)
	t.Cleanup(func() { _ = s.SetAutoRegisterSite(context.Background(), tn.ID, "") })
	listed := func() bool {
		t.Helper()
		all, err := s.AutoRegisterTenants(ctx)
		noErr(t, "AutoRegisterTenants", err)
		for _, x := range all {
			if x.AutoRegisterSiteID == "" {
				t.Errorf("AutoRegisterTenants returned %+v, which takes no charger", x)
			}
			if x.ID == tn.ID {
				return true
			}
		}
		return false
	}
	got, err := s.Tenant(ctx, tn.ID)
	noErr(t, "Tenant", err)
	equal(t, "Tenant", got, tn)
	if listed() {
		t.Errorf("a new tenant takes unknown chargers")
	}
	noErr(t, "SetAutoRegisterSite", s.SetAutoRegisterSite(ctx, tn.ID, site.ID))
	got, err = s.Tenant(ctx, tn.ID)
	noErr(t, "Tenant", err)
	if got.AutoRegisterSiteID != site.ID {
		t.Errorf("AutoRegisterSiteID = %q, want %q", got.AutoRegisterSiteID, site.ID)
	}
	if !listed() {
		t.Errorf("AutoRegisterTenants misses a tenant that takes unknown chargers")
	}
	for what, err := range map[string]error{
		"another tenant's site": s.SetAutoRegisterSite(ctx, tn.ID, otherSite.ID),
		"a missing site":        s.SetAutoRegisterSite(ctx, tn.ID, uniq(evbill.PrefixSite)),
		"a missing tenant":      s.SetAutoRegisterSite(ctx, uniq(evbill.PrefixTenant), ""),
	} {
		if evbill.ErrorCode(err) != evbill.ENOTFOUND {
			t.Errorf("SetAutoRegisterSite with %s: %v, want ENOTFOUND", what, err)
		}
	}
	if got, _ := s.Tenant(ctx, tn.ID); got.AutoRegisterSiteID != site.ID {
		t.Errorf("a refused change altered the setting: %q", got.AutoRegisterSiteID)
	}
	noErr(t, "SetAutoRegisterSite off", s.SetAutoRegisterSite(ctx, tn.ID, ""))
	if listed() {
		t.Errorf("a tenant still takes unknown chargers after turning it off")
	}
	if _, err := s.Tenant(ctx, uniq(evbill.PrefixTenant)); evbill.ErrorCode(err) != evbill.ENOTFOUND {
		t.Errorf("Tenant of a missing tenant: %v, want ENOTFOUND", err)
	}
}
