package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/sqlite/internal/db"
)

func limit(p evbill.Page) int64 { return int64(p.Size()) }

// now is the store's clock: UTC, truncated to the microsecond, which is
// what both SQLite (as Unix microseconds) and PostgreSQL (timestamptz)
// keep, so a value reads back exactly as it was returned.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// normTime returns t as the store keeps it: UTC, to the microsecond.
func normTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := t.UTC().Truncate(time.Microsecond)
	return &n
}

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// nullString maps the domain's "" (no reference) to NULL, which a foreign
// key does not check.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// bytesOrNil returns nil for an empty slice, so an empty value reads back
// the same (nil) from both engines.
func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// tx runs fn in a transaction on the writer, which _txlock=immediate
// begins with the write lock held.
func (s *Store) tx(ctx context.Context, fn func(q *db.Queries) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	// A panic in fn must not leave the only writer connection inside a
	// transaction; after a commit, Rollback does nothing.
	defer func() { _ = tx.Rollback() }()
	if err := fn(s.w.WithTx(tx)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// Tenants, API keys and idempotent responses.

// CreateTenant stores a new tenant with its payment settings; its name
// must be unique.
func (s *Store) CreateTenant(ctx context.Context, t *evbill.Tenant) error {
	if err := required("name", t.Name); err != nil {
		return err
	}
	if err := t.Payments.Check(); err != nil {
		return err
	}
	t.ID = evbill.NewID(evbill.PrefixTenant)
	t.CreatedAt = now()
	err := s.w.CreateTenant(ctx, db.CreateTenantParams{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt.UnixMicro(),
		CardHold: t.Payments.CardHold, WalletMinimum: t.Payments.WalletMinimum, AccountLimit: t.Payments.AccountLimit})
	return writeErr(ctx, s.w, "create tenant", err,
		[]unique{{columns: "tenants.name", field: "name", value: t.Name}}, nil)
}

// TenantByName finds a tenant by its unique name.
func (s *Store) TenantByName(ctx context.Context, name string) (evbill.Tenant, error) {
	r, err := s.r.TenantByName(ctx, name)
	if err != nil {
		return evbill.Tenant{}, readErr(err, "tenant", name)
	}
	return tenant(r), nil
}

// tenant converts a row.
func tenant(r db.Tenant) evbill.Tenant {
	return evbill.Tenant{ID: r.ID, Name: r.Name, AutoRegisterSiteID: r.AutoRegisterSiteID.String, CreatedAt: fromMicros(r.CreatedAt),
		Payments: evbill.TenantPayments{CardHold: r.CardHold, WalletMinimum: r.WalletMinimum, AccountLimit: r.AccountLimit}}
}

// Tenant returns a tenant by ID.
func (s *Store) Tenant(ctx context.Context, id string) (evbill.Tenant, error) {
	r, err := s.r.Tenant(ctx, id)
	if err != nil {
		return evbill.Tenant{}, readErr(err, "tenant", id)
	}
	return tenant(r), nil
}

// SetAutoRegisterSite turns auto-registration on (into siteID) or off ("").
// The site is looked up first so that a missing one is a plain
// ENOTFOUND; the database's reference still guards the race.
func (s *Store) SetAutoRegisterSite(ctx context.Context, tenantID, siteID string) error {
	if siteID != "" {
		if _, err := s.Site(ctx, tenantID, siteID); err != nil {
			return err
		}
	}
	n, err := s.w.SetAutoRegisterSite(ctx, db.SetAutoRegisterSiteParams{ID: tenantID, SiteID: sql.NullString{String: siteID, Valid: siteID != ""}})
	if err != nil {
		return fmt.Errorf("sqlite: set auto-register site: %w", err)
	}
	if n == 0 {
		return evbill.Errorf(evbill.ENOTFOUND, "tenant %q not found", tenantID)
	}
	return nil
}

// AutoRegisterTenants returns the tenants that take unknown chargers.
func (s *Store) AutoRegisterTenants(ctx context.Context) ([]evbill.Tenant, error) {
	rows, err := s.r.AutoRegisterTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: auto-register tenants: %w", err)
	}
	out := make([]evbill.Tenant, len(rows))
	for i, r := range rows {
		out[i] = tenant(r)
	}
	return out, nil
}

// CountTenants returns the number of tenants.
func (s *Store) CountTenants(ctx context.Context) (int, error) {
	n, err := s.r.CountTenants(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count tenants: %w", err)
	}
	return int(n), nil
}

// CreateAPIKey stores a key with the hash of its secret; the hash must be
// unique across all tenants since it alone finds the key.
func (s *Store) CreateAPIKey(ctx context.Context, k *evbill.APIKey, secretHash []byte) error {
	if err := required("tenant_id", k.TenantID); err != nil {
		return err
	}
	if !k.Role.Valid() {
		return evbill.Errorf(evbill.EINVALID, "role %q is not one of admin, operator, finance, readonly", k.Role)
	}
	if len(secretHash) == 0 {
		return evbill.Errorf(evbill.EINVALID, "secret hash is required")
	}
	k.ID = evbill.NewID(evbill.PrefixAPIKey)
	k.CreatedAt = now()
	err := s.w.CreateAPIKey(ctx, db.CreateAPIKeyParams{
		TenantID: k.TenantID, ID: k.ID, Name: k.Name, Role: string(k.Role),
		Prefix: k.Prefix, SecretHash: secretHash, CreatedAt: k.CreatedAt.UnixMicro(),
	})
	// The hash stands for a secret: the message does not echo it.
	return writeErr(ctx, s.w, "create API key", err,
		[]unique{{columns: "api_keys.secret_hash", msg: "an API key with this secret hash already exists"}},
		[]ref{refTenant(k.TenantID)})
}

// APIKeyByHash finds the key whose secret hashes to secretHash, in any
// tenant: it is how a request finds its tenant.
func (s *Store) APIKeyByHash(ctx context.Context, secretHash []byte) (evbill.APIKey, error) {
	r, err := s.r.APIKeyByHash(ctx, secretHash)
	if errors.Is(err, sql.ErrNoRows) {
		return evbill.APIKey{}, evbill.Errorf(evbill.ENOTFOUND, "API key not found")
	}
	if err != nil {
		return evbill.APIKey{}, fmt.Errorf("sqlite: API key by hash: %w", err)
	}
	return evbill.APIKey{
		ID: r.ID, TenantID: r.TenantID, Name: r.Name, Role: evbill.Role(r.Role),
		Prefix: r.Prefix, CreatedAt: fromMicros(r.CreatedAt),
	}, nil
}

// SaveIdempotentResponse stores the answer to a POST; ECONFLICT if the key
// was already stored for the tenant.
func (s *Store) SaveIdempotentResponse(ctx context.Context, tenantID string, r *evbill.IdempotentResponse) error {
	if err := required("tenant_id", tenantID, "key", r.Key); err != nil {
		return err
	}
	if err := fitsInt32("status", r.Status); err != nil {
		return err
	}
	r.CreatedAt = now()
	reqHash, body := r.RequestHash, r.Body
	if reqHash == nil {
		reqHash = []byte{}
	}
	if body == nil {
		body = []byte{}
	}
	err := s.w.SaveIdempotentResponse(ctx, db.SaveIdempotentResponseParams{
		TenantID: tenantID, Key: r.Key, RequestHash: reqHash, Status: int64(r.Status),
		Body: body, CreatedAt: r.CreatedAt.UnixMicro(),
	})
	return writeErr(ctx, s.w, "save idempotent response", err,
		[]unique{{columns: "idempotent_responses.tenant_id, idempotent_responses.key", field: "idempotency key", value: r.Key}},
		[]ref{refTenant(tenantID)})
}

// IdempotentResponse returns the stored answer for the tenant's key.
func (s *Store) IdempotentResponse(ctx context.Context, tenantID, key string) (evbill.IdempotentResponse, error) {
	r, err := s.r.IdempotentResponse(ctx, db.IdempotentResponseParams{TenantID: tenantID, Key: key})
	if err != nil {
		return evbill.IdempotentResponse{}, readErr(err, "idempotency key", key)
	}
	return evbill.IdempotentResponse{
		Key: r.Key, RequestHash: bytesOrNil(r.RequestHash), Status: int(r.Status),
		Body: bytesOrNil(r.Body), CreatedAt: fromMicros(r.CreatedAt),
	}, nil
}

// Sites.

func site(r db.Site) evbill.Site {
	return evbill.Site{
		ID: r.ID, TenantID: r.TenantID, Name: r.Name, Address: r.Address, City: r.City,
		PostalCode: r.PostalCode, Country: r.Country, TimeZone: r.TimeZone, SiteHost: r.SiteHost,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
}

// CreateSite stores a new site.
func (s *Store) CreateSite(ctx context.Context, st *evbill.Site) error {
	if err := required("tenant_id", st.TenantID); err != nil {
		return err
	}
	st.ID = evbill.NewID(evbill.PrefixSite)
	st.CreatedAt = now()
	st.UpdatedAt = st.CreatedAt
	err := s.w.CreateSite(ctx, db.CreateSiteParams{
		TenantID: st.TenantID, ID: st.ID, Name: st.Name, Address: st.Address, City: st.City,
		PostalCode: st.PostalCode, Country: st.Country, TimeZone: st.TimeZone, SiteHost: st.SiteHost,
		CreatedAt: st.CreatedAt.UnixMicro(), UpdatedAt: st.UpdatedAt.UnixMicro(),
	})
	return writeErr(ctx, s.w, "create site", err, nil, []ref{refTenant(st.TenantID)})
}

// Site returns one of the tenant's sites.
func (s *Store) Site(ctx context.Context, tenantID, id string) (evbill.Site, error) {
	r, err := s.r.Site(ctx, db.SiteParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.Site{}, readErr(err, "site", id)
	}
	return site(r), nil
}

// ListSites returns a page of the tenant's sites, ordered by ID.
func (s *Store) ListSites(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.Site, error) {
	rows, err := s.r.ListSites(ctx, db.ListSitesParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list sites: %w", err)
	}
	out := make([]evbill.Site, len(rows))
	for i, r := range rows {
		out[i] = site(r)
	}
	return out, nil
}

// UpdateSite stores every field of the site but ID, TenantID and
// CreatedAt, and fills in the stored record.
func (s *Store) UpdateSite(ctx context.Context, st *evbill.Site) error {
	r, err := s.w.UpdateSite(ctx, db.UpdateSiteParams{
		Name: st.Name, Address: st.Address, City: st.City, PostalCode: st.PostalCode,
		Country: st.Country, TimeZone: st.TimeZone, SiteHost: st.SiteHost,
		UpdatedAt: now().UnixMicro(), TenantID: st.TenantID, ID: st.ID,
	})
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("site", st.ID)
	}
	if err != nil {
		return writeErr(ctx, s.w, "update site", err, nil, nil)
	}
	*st = site(r)
	return nil
}

// Stations.

func station(r db.StationRow) evbill.Station {
	return evbill.Station{
		ID: r.ID, TenantID: r.TenantID, SiteID: r.SiteID, ChargePointID: r.ChargePointID,
		Vendor: r.Vendor, Model: r.Model, CostDisplay: r.CostDisplay != 0, MeterPublicKey: r.MeterPublicKey, HasPassword: r.HasPassword,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
}

// sqliteBool is a boolean as the schema keeps it: SQLite has none, and the
// column's CHECK takes only 0 and 1.
func sqliteBool(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func stationUniques(chargePointID string) []unique {
	return []unique{{columns: "stations.tenant_id, stations.charge_point_id", field: "charge_point_id", value: chargePointID}}
}

// CreateStation stores a new station of one of the tenant's sites; its
// ChargePointID must be unique within the tenant.
func (s *Store) CreateStation(ctx context.Context, st *evbill.Station) error {
	if err := required("tenant_id", st.TenantID, "site_id", st.SiteID, "charge_point_id", st.ChargePointID); err != nil {
		return err
	}
	st.ID = evbill.NewID(evbill.PrefixStation)
	st.CreatedAt = now()
	st.UpdatedAt = st.CreatedAt
	st.HasPassword = false
	err := s.w.CreateStation(ctx, db.CreateStationParams{
		TenantID: st.TenantID, ID: st.ID, SiteID: st.SiteID, ChargePointID: st.ChargePointID,
		Vendor: st.Vendor, Model: st.Model, CostDisplay: sqliteBool(st.CostDisplay), MeterPublicKey: st.MeterPublicKey,
		CreatedAt: st.CreatedAt.UnixMicro(), UpdatedAt: st.UpdatedAt.UnixMicro(),
	})
	return writeErr(ctx, s.w, "create station", err, stationUniques(st.ChargePointID),
		[]ref{refTenant(st.TenantID), refSite(st.TenantID, st.SiteID)})
}

// Station returns one of the tenant's stations.
func (s *Store) Station(ctx context.Context, tenantID, id string) (evbill.Station, error) {
	r, err := s.r.Station(ctx, db.StationParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.Station{}, readErr(err, "station", id)
	}
	return station(r), nil
}

// StationByChargePointID finds one of the tenant's stations by its OCPP
// identity.
func (s *Store) StationByChargePointID(ctx context.Context, tenantID, chargePointID string) (evbill.Station, error) {
	r, err := s.r.StationByChargePointID(ctx, db.StationByChargePointIDParams{TenantID: tenantID, ChargePointID: chargePointID})
	if err != nil {
		return evbill.Station{}, readErr(err, "station with charge_point_id", chargePointID)
	}
	return station(db.StationRow(r)), nil
}

// ListStations returns a page of the tenant's stations, ordered by ID.
func (s *Store) ListStations(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.Station, error) {
	rows, err := s.r.ListStations(ctx, db.ListStationsParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list stations: %w", err)
	}
	out := make([]evbill.Station, len(rows))
	for i, r := range rows {
		out[i] = station(db.StationRow(r))
	}
	return out, nil
}

// UpdateStation stores every field of the station but ID, TenantID,
// CreatedAt and HasPassword (see SetStationPassword), and fills in the
// stored record.
func (s *Store) UpdateStation(ctx context.Context, st *evbill.Station) error {
	if err := required("site_id", st.SiteID, "charge_point_id", st.ChargePointID); err != nil {
		return err
	}
	r, err := s.w.UpdateStation(ctx, db.UpdateStationParams{
		SiteID: st.SiteID, ChargePointID: st.ChargePointID, Vendor: st.Vendor, Model: st.Model,
		CostDisplay: sqliteBool(st.CostDisplay), MeterPublicKey: st.MeterPublicKey, UpdatedAt: now().UnixMicro(), TenantID: st.TenantID, ID: st.ID,
	})
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("station", st.ID)
	}
	if err != nil {
		return writeErr(ctx, s.w, "update station", err, stationUniques(st.ChargePointID),
			[]ref{refSite(st.TenantID, st.SiteID)})
	}
	*st = station(db.StationRow{
		TenantID: r.TenantID, ID: r.ID, SiteID: r.SiteID, ChargePointID: r.ChargePointID,
		Vendor: r.Vendor, Model: r.Model, CostDisplay: r.CostDisplay, MeterPublicKey: r.MeterPublicKey, HasPassword: r.PasswordHash != nil,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	})
	return nil
}

// SetStationPassword stores the hash of the station's OCPP password; a nil
// or empty hash removes the password.
func (s *Store) SetStationPassword(ctx context.Context, tenantID, id string, hash []byte) error {
	n, err := s.w.SetStationPassword(ctx, db.SetStationPasswordParams{
		PasswordHash: bytesOrNil(hash), UpdatedAt: now().UnixMicro(), TenantID: tenantID, ID: id,
	})
	if err != nil {
		return fmt.Errorf("sqlite: set station password: %w", err)
	}
	if n == 0 {
		return notFound("station", id)
	}
	return nil
}

// StationPasswordHash returns the hash of the station's OCPP password, nil
// when it has none.
func (s *Store) StationPasswordHash(ctx context.Context, tenantID, id string) ([]byte, error) {
	h, err := s.r.StationPasswordHash(ctx, db.StationPasswordHashParams{TenantID: tenantID, ID: id})
	if err != nil {
		return nil, readErr(err, "station", id)
	}
	return bytesOrNil(h), nil
}

// Connectors.

func connector(r db.Connector) evbill.Connector {
	return evbill.Connector{
		ID: r.ID, TenantID: r.TenantID, StationID: r.StationID, ConnectorNumber: int(r.ConnectorNumber),
		Standard: r.Standard, PowerType: r.PowerType, MaxPowerKW: r.MaxPowerKw,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
}

func connectorUniques(number int) []unique {
	return []unique{{
		columns: "connectors.tenant_id, connectors.station_id, connectors.connector_number",
		field:   "connector_number", value: fmt.Sprint(number),
	}}
}

// CreateConnector stores a new connector of one of the tenant's stations;
// its ConnectorNumber must be unique within the station.
func (s *Store) CreateConnector(ctx context.Context, c *evbill.Connector) error {
	if err := required("tenant_id", c.TenantID, "station_id", c.StationID); err != nil {
		return err
	}
	if err := fitsInt32("connector_number", c.ConnectorNumber); err != nil {
		return err
	}
	c.ID = evbill.NewID(evbill.PrefixConnector)
	c.CreatedAt = now()
	c.UpdatedAt = c.CreatedAt
	err := s.w.CreateConnector(ctx, db.CreateConnectorParams{
		TenantID: c.TenantID, ID: c.ID, StationID: c.StationID, ConnectorNumber: int64(c.ConnectorNumber),
		Standard: c.Standard, PowerType: c.PowerType, MaxPowerKw: c.MaxPowerKW,
		CreatedAt: c.CreatedAt.UnixMicro(), UpdatedAt: c.UpdatedAt.UnixMicro(),
	})
	return writeErr(ctx, s.w, "create connector", err, connectorUniques(c.ConnectorNumber),
		[]ref{refTenant(c.TenantID), refStation(c.TenantID, c.StationID)})
}

// Connector returns one of the tenant's connectors.
func (s *Store) Connector(ctx context.Context, tenantID, id string) (evbill.Connector, error) {
	r, err := s.r.Connector(ctx, db.ConnectorParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.Connector{}, readErr(err, "connector", id)
	}
	return connector(r), nil
}

// ListConnectors returns a page of one station's connectors, ordered by
// ID; empty for a station that does not exist.
func (s *Store) ListConnectors(ctx context.Context, tenantID, stationID string, p evbill.Page) ([]evbill.Connector, error) {
	rows, err := s.r.ListConnectors(ctx, db.ListConnectorsParams{
		TenantID: tenantID, StationID: stationID, After: p.After, Lim: limit(p),
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list connectors: %w", err)
	}
	out := make([]evbill.Connector, len(rows))
	for i, r := range rows {
		out[i] = connector(r)
	}
	return out, nil
}

// UpdateConnector stores every field of the connector but ID, TenantID
// and CreatedAt, and fills in the stored record.
func (s *Store) UpdateConnector(ctx context.Context, c *evbill.Connector) error {
	if err := required("station_id", c.StationID); err != nil {
		return err
	}
	if err := fitsInt32("connector_number", c.ConnectorNumber); err != nil {
		return err
	}
	r, err := s.w.UpdateConnector(ctx, db.UpdateConnectorParams{
		StationID: c.StationID, ConnectorNumber: int64(c.ConnectorNumber), Standard: c.Standard,
		PowerType: c.PowerType, MaxPowerKw: c.MaxPowerKW, UpdatedAt: now().UnixMicro(),
		TenantID: c.TenantID, ID: c.ID,
	})
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("connector", c.ID)
	}
	if err != nil {
		return writeErr(ctx, s.w, "update connector", err, connectorUniques(c.ConnectorNumber),
			[]ref{refStation(c.TenantID, c.StationID)})
	}
	*c = connector(r)
	return nil
}

// Tariffs.

func tariffVersion(r db.TariffVersion) evbill.TariffVersion {
	return evbill.TariffVersion{
		TariffID: r.TariffID, TenantID: r.TenantID, Version: int(r.Version), Currency: r.Currency,
		Document: json.RawMessage(r.Document), CreatedAt: fromMicros(r.CreatedAt),
	}
}

// CreateTariff stores version 1 of a new tariff.
func (s *Store) CreateTariff(ctx context.Context, v *evbill.TariffVersion) error {
	if err := required("tenant_id", v.TenantID); err != nil {
		return err
	}
	if len(v.Document) == 0 {
		return evbill.Errorf(evbill.EINVALID, "tariff document is required")
	}
	v.TariffID = evbill.NewID(evbill.PrefixTariff)
	v.Version = 1
	v.CreatedAt = now()
	return s.tx(ctx, func(q *db.Queries) error {
		err := q.CreateTariff(ctx, db.CreateTariffParams{TenantID: v.TenantID, ID: v.TariffID, CreatedAt: v.CreatedAt.UnixMicro()})
		if err != nil {
			return writeErr(ctx, q, "create tariff", err, nil, []ref{refTenant(v.TenantID)})
		}
		err = q.InsertTariffVersion(ctx, db.InsertTariffVersionParams{
			TenantID: v.TenantID, TariffID: v.TariffID, Version: 1, Currency: v.Currency,
			Document: string(v.Document), CreatedAt: v.CreatedAt.UnixMicro(),
		})
		return writeErr(ctx, q, "create tariff", err, nil, nil)
	})
}

// AddTariffVersion stores the version after the latest, in one transaction
// that reads the latest and inserts the next. SQLite runs write
// transactions one at a time, so two updates never read the same latest;
// the primary key (tenant_id, tariff_id, version) would catch it anyway,
// as ECONFLICT.
func (s *Store) AddTariffVersion(ctx context.Context, v *evbill.TariffVersion) error {
	if len(v.Document) == 0 {
		return evbill.Errorf(evbill.EINVALID, "tariff document is required")
	}
	return s.tx(ctx, func(q *db.Queries) error {
		latest, err := q.LatestTariffVersionNumber(ctx, db.LatestTariffVersionNumberParams{TenantID: v.TenantID, TariffID: v.TariffID})
		if err != nil {
			return fmt.Errorf("sqlite: add tariff version: %w", err)
		}
		if latest == 0 {
			return notFound("tariff", v.TariffID)
		}
		created := now()
		err = q.InsertTariffVersion(ctx, db.InsertTariffVersionParams{
			TenantID: v.TenantID, TariffID: v.TariffID, Version: latest + 1, Currency: v.Currency,
			Document: string(v.Document), CreatedAt: created.UnixMicro(),
		})
		if err != nil {
			return writeErr(ctx, q, "add tariff version", err,
				[]unique{{
					columns: "tariff_versions.tenant_id, tariff_versions.tariff_id, tariff_versions.version",
					msg:     fmt.Sprintf("tariff %q version %d was stored by a concurrent update; retry", v.TariffID, latest+1),
				}}, nil)
		}
		v.Version = int(latest + 1)
		v.CreatedAt = created
		return nil
	})
}

// TariffVersion returns one version of the tenant's tariff, or the latest
// when version is 0.
func (s *Store) TariffVersion(ctx context.Context, tenantID, tariffID string, version int) (evbill.TariffVersion, error) {
	var (
		r   db.TariffVersion
		err error
	)
	if version == 0 {
		r, err = s.r.LatestTariffVersion(ctx, db.LatestTariffVersionParams{TenantID: tenantID, TariffID: tariffID})
	} else {
		r, err = s.r.TariffVersion(ctx, db.TariffVersionParams{TenantID: tenantID, TariffID: tariffID, Version: int64(version)})
	}
	if errors.Is(err, sql.ErrNoRows) && version != 0 {
		return evbill.TariffVersion{}, evbill.Errorf(evbill.ENOTFOUND, "tariff %q version %d not found", tariffID, version)
	}
	if err != nil {
		return evbill.TariffVersion{}, readErr(err, "tariff", tariffID)
	}
	return tariffVersion(r), nil
}

// ListTariffs returns a page of the tenant's tariffs, each at its latest
// version, ordered by tariff ID.
func (s *Store) ListTariffs(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.TariffVersion, error) {
	rows, err := s.r.ListTariffs(ctx, db.ListTariffsParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tariffs: %w", err)
	}
	out := make([]evbill.TariffVersion, len(rows))
	for i, r := range rows {
		out[i] = tariffVersion(r)
	}
	return out, nil
}

// ListTariffVersions returns every version of the tenant's tariff, oldest
// first; ENOTFOUND when the tariff does not exist, since a tariff always
// has at least one version.
func (s *Store) ListTariffVersions(ctx context.Context, tenantID, tariffID string) ([]evbill.TariffVersion, error) {
	rows, err := s.r.ListTariffVersions(ctx, db.ListTariffVersionsParams{TenantID: tenantID, TariffID: tariffID})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tariff versions: %w", err)
	}
	if len(rows) == 0 {
		return nil, notFound("tariff", tariffID)
	}
	out := make([]evbill.TariffVersion, len(rows))
	for i, r := range rows {
		out[i] = tariffVersion(r)
	}
	return out, nil
}

// Tariff assignments.

func assignment(r db.TariffAssignment) evbill.TariffAssignment {
	return evbill.TariffAssignment{
		ID: r.ID, TenantID: r.TenantID, TariffID: r.TariffID,
		SiteID: r.SiteID.String, StationID: r.StationID.String, ConnectorID: r.ConnectorID.String,
		DriverGroupID: r.DriverGroupID.String,
		ValidFrom:     fromNullMicros(r.ValidFrom), ValidTo: fromNullMicros(r.ValidTo),
		Priority: int(r.Priority), CreatedAt: fromMicros(r.CreatedAt),
	}
}

// checkAssignment applies the rules the schema's CHECKs also enforce, to
// give a clear message before reaching the database.
func checkAssignment(a *evbill.TariffAssignment) error {
	if err := required("tenant_id", a.TenantID, "tariff_id", a.TariffID); err != nil {
		return err
	}
	n := 0
	for _, id := range []string{a.SiteID, a.StationID, a.ConnectorID} {
		if id != "" {
			n++
		}
	}
	if n != 1 {
		return evbill.Errorf(evbill.EINVALID, "exactly one of site_id, station_id and connector_id must be set")
	}
	if a.ValidFrom != nil && a.ValidTo != nil && !a.ValidFrom.Before(*a.ValidTo) {
		return evbill.Errorf(evbill.EINVALID, "valid_from must be before valid_to")
	}
	return fitsInt32("priority", a.Priority)
}

// CreateAssignment stores a new assignment of one of the tenant's tariffs
// to one of its sites, stations or connectors.
func (s *Store) CreateAssignment(ctx context.Context, a *evbill.TariffAssignment) error {
	a.ValidFrom, a.ValidTo = normTime(a.ValidFrom), normTime(a.ValidTo)
	if err := checkAssignment(a); err != nil {
		return err
	}
	a.ID = evbill.NewID(evbill.PrefixAssignment)
	a.CreatedAt = now()
	err := s.w.CreateAssignment(ctx, db.CreateAssignmentParams{
		TenantID: a.TenantID, ID: a.ID, TariffID: a.TariffID,
		SiteID: nullString(a.SiteID), StationID: nullString(a.StationID), ConnectorID: nullString(a.ConnectorID),
		DriverGroupID: nullString(a.DriverGroupID),
		ValidFrom:     nullMicros(a.ValidFrom), ValidTo: nullMicros(a.ValidTo),
		Priority: int64(a.Priority), CreatedAt: a.CreatedAt.UnixMicro(),
	})
	return writeErr(ctx, s.w, "create assignment", err, nil, []ref{
		refTenant(a.TenantID), refTariff(a.TenantID, a.TariffID), refSite(a.TenantID, a.SiteID),
		refStation(a.TenantID, a.StationID), refConnector(a.TenantID, a.ConnectorID),
		refGroup("driver_group_id", a.TenantID, a.DriverGroupID),
	})
}

// Assignment returns one of the tenant's assignments.
func (s *Store) Assignment(ctx context.Context, tenantID, id string) (evbill.TariffAssignment, error) {
	r, err := s.r.Assignment(ctx, db.AssignmentParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.TariffAssignment{}, readErr(err, "assignment", id)
	}
	return assignment(r), nil
}

// ListAssignments returns a page of the tenant's assignments, ordered by
// ID.
func (s *Store) ListAssignments(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.TariffAssignment, error) {
	rows, err := s.r.ListAssignments(ctx, db.ListAssignmentsParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list assignments: %w", err)
	}
	return assignments(rows), nil
}

func assignments(rows []db.TariffAssignment) []evbill.TariffAssignment {
	out := make([]evbill.TariffAssignment, len(rows))
	for i, r := range rows {
		out[i] = assignment(r)
	}
	return out
}

// DeleteAssignment removes one of the tenant's assignments.
func (s *Store) DeleteAssignment(ctx context.Context, tenantID, id string) error {
	n, err := s.w.DeleteAssignment(ctx, db.DeleteAssignmentParams{TenantID: tenantID, ID: id})
	if err != nil {
		return fmt.Errorf("sqlite: delete assignment: %w", err)
	}
	if n == 0 {
		return notFound("assignment", id)
	}
	return nil
}

// AssignmentsForStation returns every assignment, at any time, that
// targets the station, one of its connectors or its site, ordered by ID;
// ENOTFOUND when the tenant has no such station. Only an empty answer
// costs a second query, to tell a station without assignments from a
// missing one.
func (s *Store) AssignmentsForStation(ctx context.Context, tenantID, stationID string) ([]evbill.TariffAssignment, error) {
	rows, err := s.r.AssignmentsForStation(ctx, db.AssignmentsForStationParams{
		TenantID: tenantID, StationID: nullString(stationID),
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: assignments for station: %w", err)
	}
	if len(rows) == 0 {
		if _, err := s.r.StationSite(ctx, db.StationSiteParams{TenantID: tenantID, ID: stationID}); err != nil {
			return nil, readErr(err, "station", stationID)
		}
	}
	out := assignments(rows)
	slices.SortFunc(out, func(a, b evbill.TariffAssignment) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Driver groups, drivers and tokens.

func driverGroup(r db.DriverGroup) evbill.DriverGroup {
	return evbill.DriverGroup{
		ID: r.ID, TenantID: r.TenantID, Name: r.Name,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
}

// CreateDriverGroup stores a new driver group.
func (s *Store) CreateDriverGroup(ctx context.Context, g *evbill.DriverGroup) error {
	if err := required("tenant_id", g.TenantID); err != nil {
		return err
	}
	g.ID = evbill.NewID(evbill.PrefixGroup)
	g.CreatedAt = now()
	g.UpdatedAt = g.CreatedAt
	err := s.w.CreateDriverGroup(ctx, db.CreateDriverGroupParams{
		TenantID: g.TenantID, ID: g.ID, Name: g.Name,
		CreatedAt: g.CreatedAt.UnixMicro(), UpdatedAt: g.UpdatedAt.UnixMicro(),
	})
	return writeErr(ctx, s.w, "create driver group", err, nil, []ref{refTenant(g.TenantID)})
}

// DriverGroup returns one of the tenant's driver groups.
func (s *Store) DriverGroup(ctx context.Context, tenantID, id string) (evbill.DriverGroup, error) {
	r, err := s.r.DriverGroup(ctx, db.DriverGroupParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.DriverGroup{}, readErr(err, "driver group", id)
	}
	return driverGroup(r), nil
}

// ListDriverGroups returns a page of the tenant's driver groups, ordered
// by ID.
func (s *Store) ListDriverGroups(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.DriverGroup, error) {
	rows, err := s.r.ListDriverGroups(ctx, db.ListDriverGroupsParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list driver groups: %w", err)
	}
	out := make([]evbill.DriverGroup, len(rows))
	for i, r := range rows {
		out[i] = driverGroup(r)
	}
	return out, nil
}

// UpdateDriverGroup stores the group's name and fills in the stored
// record.
func (s *Store) UpdateDriverGroup(ctx context.Context, g *evbill.DriverGroup) error {
	r, err := s.w.UpdateDriverGroup(ctx, db.UpdateDriverGroupParams{
		Name: g.Name, UpdatedAt: now().UnixMicro(), TenantID: g.TenantID, ID: g.ID,
	})
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("driver group", g.ID)
	}
	if err != nil {
		return writeErr(ctx, s.w, "update driver group", err, nil, nil)
	}
	*g = driverGroup(r)
	return nil
}

func driver(r db.Driver) evbill.Driver {
	return evbill.Driver{
		ID: r.ID, TenantID: r.TenantID, Name: r.Name, Email: r.Email, GroupID: r.GroupID.String,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
}

// CreateDriver stores a new driver, optionally in one of the tenant's
// driver groups.
func (s *Store) CreateDriver(ctx context.Context, d *evbill.Driver) error {
	if err := required("tenant_id", d.TenantID); err != nil {
		return err
	}
	d.ID = evbill.NewID(evbill.PrefixDriver)
	d.CreatedAt = now()
	d.UpdatedAt = d.CreatedAt
	err := s.w.CreateDriver(ctx, db.CreateDriverParams{
		TenantID: d.TenantID, ID: d.ID, Name: d.Name, Email: d.Email, GroupID: nullString(d.GroupID),
		CreatedAt: d.CreatedAt.UnixMicro(), UpdatedAt: d.UpdatedAt.UnixMicro(),
	})
	return writeErr(ctx, s.w, "create driver", err, nil,
		[]ref{refTenant(d.TenantID), refGroup("group_id", d.TenantID, d.GroupID)})
}

// Driver returns one of the tenant's drivers.
func (s *Store) Driver(ctx context.Context, tenantID, id string) (evbill.Driver, error) {
	r, err := s.r.Driver(ctx, db.DriverParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.Driver{}, readErr(err, "driver", id)
	}
	return driver(r), nil
}

// ListDrivers returns a page of the tenant's drivers, ordered by ID.
func (s *Store) ListDrivers(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.Driver, error) {
	rows, err := s.r.ListDrivers(ctx, db.ListDriversParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list drivers: %w", err)
	}
	out := make([]evbill.Driver, len(rows))
	for i, r := range rows {
		out[i] = driver(r)
	}
	return out, nil
}

// UpdateDriver stores every field of the driver but ID, TenantID and
// CreatedAt, and fills in the stored record.
func (s *Store) UpdateDriver(ctx context.Context, d *evbill.Driver) error {
	r, err := s.w.UpdateDriver(ctx, db.UpdateDriverParams{
		Name: d.Name, Email: d.Email, GroupID: nullString(d.GroupID), UpdatedAt: now().UnixMicro(),
		TenantID: d.TenantID, ID: d.ID,
	})
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("driver", d.ID)
	}
	if err != nil {
		return writeErr(ctx, s.w, "update driver", err, nil, []ref{refGroup("group_id", d.TenantID, d.GroupID)})
	}
	*d = driver(r)
	return nil
}

func token(r db.Token) evbill.Token {
	return evbill.Token{
		ID: r.ID, TenantID: r.TenantID, UID: r.Uid, Type: r.Type,
		DriverID: r.DriverID.String, GroupID: r.GroupID.String, Status: r.Status,
		ExpiresAt: fromNullMicros(r.ExpiresAt),
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
}

func tokenUniques(uid string) []unique {
	return []unique{{columns: "tokens.tenant_id, tokens.uid", field: "uid", value: uid}}
}

// CreateToken stores a new token; its UID must be unique within the
// tenant, and its driver and group, when set, must be the tenant's.
func (s *Store) CreateToken(ctx context.Context, t *evbill.Token) error {
	if err := required("tenant_id", t.TenantID, "uid", t.UID); err != nil {
		return err
	}
	t.ExpiresAt = normTime(t.ExpiresAt)
	t.ID = evbill.NewID(evbill.PrefixToken)
	t.CreatedAt = now()
	t.UpdatedAt = t.CreatedAt
	err := s.w.CreateToken(ctx, db.CreateTokenParams{
		TenantID: t.TenantID, ID: t.ID, Uid: t.UID, Type: t.Type,
		DriverID: nullString(t.DriverID), GroupID: nullString(t.GroupID), Status: t.Status,
		ExpiresAt: nullMicros(t.ExpiresAt),
		CreatedAt: t.CreatedAt.UnixMicro(), UpdatedAt: t.UpdatedAt.UnixMicro(),
	})
	return writeErr(ctx, s.w, "create token", err, tokenUniques(t.UID), []ref{
		refTenant(t.TenantID), refDriver(t.TenantID, t.DriverID), refGroup("group_id", t.TenantID, t.GroupID),
	})
}

// Token returns one of the tenant's tokens.
func (s *Store) Token(ctx context.Context, tenantID, id string) (evbill.Token, error) {
	r, err := s.r.Token(ctx, db.TokenParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.Token{}, readErr(err, "token", id)
	}
	return token(r), nil
}

// TokenByUID finds one of the tenant's tokens by its UID.
func (s *Store) TokenByUID(ctx context.Context, tenantID, uid string) (evbill.Token, error) {
	r, err := s.r.TokenByUID(ctx, db.TokenByUIDParams{TenantID: tenantID, Uid: uid})
	if err != nil {
		return evbill.Token{}, readErr(err, "token with uid", uid)
	}
	return token(r), nil
}

// ListTokens returns a page of the tenant's tokens, ordered by ID.
func (s *Store) ListTokens(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.Token, error) {
	rows, err := s.r.ListTokens(ctx, db.ListTokensParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	out := make([]evbill.Token, len(rows))
	for i, r := range rows {
		out[i] = token(r)
	}
	return out, nil
}

// UpdateToken stores every field of the token but ID, TenantID and
// CreatedAt, and fills in the stored record.
func (s *Store) UpdateToken(ctx context.Context, t *evbill.Token) error {
	if err := required("uid", t.UID); err != nil {
		return err
	}
	expires := normTime(t.ExpiresAt)
	r, err := s.w.UpdateToken(ctx, db.UpdateTokenParams{
		Uid: t.UID, Type: t.Type, DriverID: nullString(t.DriverID), GroupID: nullString(t.GroupID),
		Status: t.Status, ExpiresAt: nullMicros(expires), UpdatedAt: now().UnixMicro(),
		TenantID: t.TenantID, ID: t.ID,
	})
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("token", t.ID)
	}
	if err != nil {
		return writeErr(ctx, s.w, "update token", err, tokenUniques(t.UID), []ref{
			refDriver(t.TenantID, t.DriverID), refGroup("group_id", t.TenantID, t.GroupID),
		})
	}
	*t = token(r)
	return nil
}

// ListAPIKeys returns a page of the tenant's API keys (never their
// secrets, which are not stored), ordered by ID.
func (s *Store) ListAPIKeys(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.APIKey, error) {
	rows, err := s.r.ListAPIKeys(ctx, db.ListAPIKeysParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list API keys: %w", err)
	}
	out := make([]evbill.APIKey, len(rows))
	for i, r := range rows {
		out[i] = evbill.APIKey{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Role: evbill.Role(r.Role),
			Prefix: r.Prefix, CreatedAt: fromMicros(r.CreatedAt)}
	}
	return out, nil
}

// CompleteIdempotentResponse turns the tenant's reservation of key into the
// stored answer.
func (s *Store) CompleteIdempotentResponse(ctx context.Context, tenantID, key string, status int, body []byte) error {
	if err := fitsInt32("status", status); err != nil {
		return err
	}
	if body == nil {
		body = []byte{}
	}
	n, err := s.w.CompleteIdempotentResponse(ctx, db.CompleteIdempotentResponseParams{Status: int64(status), Body: body, TenantID: tenantID, Key: key})
	if err != nil {
		return fmt.Errorf("sqlite: complete idempotent response: %w", err)
	}
	if n == 0 {
		return notFound("idempotency reservation", key)
	}
	return nil
}

// ReleaseIdempotencyKey drops the tenant's reservation of key if it was
// made before reservedBefore.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, tenantID, key string, reservedBefore time.Time) error {
	err := s.w.ReleaseIdempotencyKey(ctx, db.ReleaseIdempotencyKeyParams{TenantID: tenantID, Key: key, ReservedBefore: reservedBefore.UnixMicro()})
	if err != nil {
		return fmt.Errorf("sqlite: release idempotency key: %w", err)
	}
	return nil
}

// StationsByChargePointID finds the stations with the charge point id in
// every tenant: how an OCPP connection, which names only its charge point,
// finds its station. At most 16 are returned.
func (s *Store) StationsByChargePointID(ctx context.Context, chargePointID string) ([]evbill.Station, error) {
	rows, err := s.r.StationsByChargePointID(ctx, chargePointID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: stations by charge point id: %w", err)
	}
	out := make([]evbill.Station, len(rows))
	for i, r := range rows {
		out[i] = station(db.StationRow(r))
	}
	return out, nil
}
