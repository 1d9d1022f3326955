package evbill

import (
	"context"
	"encoding/json"
	"time"
)

// Role is what an API key may do within its tenant.
type Role string

// The API key roles, from most to least powerful.
const (
	RoleAdmin    Role = "admin"    // everything, including API keys
	RoleOperator Role = "operator" // sites, stations, tariffs, drivers, tokens
	RoleFinance  Role = "finance"  // read everything; later: refunds, invoices
	RoleReadonly Role = "readonly" // read everything
)

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleOperator, RoleFinance, RoleReadonly:
		return true
	}
	return false
}

// Tenant is an operator: every other record belongs to exactly one.
type Tenant struct {
	ID   string
	Name string
	// AutoRegisterSiteID, when set, lets a charger that no tenant knows
	// register itself into this site of the tenant on its first
	// connection, with the password it presents. Off ("") by default:
	// it is for demos and first installs.
	AutoRegisterSiteID string
	// Payments are the tenant's own amounts for its drivers' payments.
	Payments  TenantPayments
	CreatedAt time.Time
}

// TenantPayments are a tenant's amounts for the payments made at the start
// of its sessions, in minor units of the session's currency. A field left
// 0 takes the server's default (the charging service's configuration), so
// a tenant overrides only what it needs to and follows the server's
// defaults for the rest.
type TenantPayments struct {
	// CardHold is the amount held on a driver's card for a session: enough
	// for the longest session the tenant expects, since a session stops
	// before its cost reaches the hold.
	CardHold int64
	// WalletMinimum is the least a wallet must hold for a session to start.
	WalletMinimum int64
	// AccountLimit bounds the cost of one session on a postpaid account.
	AccountLimit int64
}

// The bounds of TenantPayments, in minor units. A session stops when its
// cost nears its hold, so a hold of a few minor units would stop it at
// once (and gateways refuse such small amounts); the maxima are far above
// any session, so what they refuse is an amount mistyped by a few digits.
const (
	MinCardHold      = 100           // the least card hold but 0 (1.00 in a currency of two decimals)
	MaxCardHold      = 100_000_000   // the largest card hold (1,000,000.00)
	MaxWalletMinimum = 10_000_000    // the largest wallet minimum (100,000.00)
	MaxAccountLimit  = 1_000_000_000 // the largest account limit (10,000,000.00)
)

// Check returns EINVALID naming the first field out of its bounds: every
// field is 0 (the server's default) or positive, a card hold from
// MinCardHold to MaxCardHold, a wallet minimum at most MaxWalletMinimum and
// an account limit at most MaxAccountLimit.
func (p TenantPayments) Check() error {
	switch {
	case p.CardHold < 0 || p.CardHold > MaxCardHold || (p.CardHold > 0 && p.CardHold < MinCardHold):
		return Errorf(EINVALID, "card_hold must be 0 (the server's default) or from %d to %d minor units, not %d",
			MinCardHold, MaxCardHold, p.CardHold)
	case p.WalletMinimum < 0 || p.WalletMinimum > MaxWalletMinimum:
		return Errorf(EINVALID, "wallet_minimum must be 0 (the server's default) or positive up to %d minor units, not %d",
			MaxWalletMinimum, p.WalletMinimum)
	case p.AccountLimit < 0 || p.AccountLimit > MaxAccountLimit:
		return Errorf(EINVALID, "account_limit must be 0 (the server's default) or positive up to %d minor units, not %d",
			MaxAccountLimit, p.AccountLimit)
	}
	return nil
}

// APIKey is a tenant's credential. The secret is shown once at creation and
// stored only as a hash; Prefix identifies the key in lists and logs.
type APIKey struct {
	ID        string
	TenantID  string
	Name      string
	Role      Role
	Prefix    string
	CreatedAt time.Time
}

// Site is a place with chargers. TimeZone is the IANA zone in which tariff
// time-of-day, date and weekday restrictions are read.
type Site struct {
	ID         string
	TenantID   string
	Name       string
	Address    string
	City       string
	PostalCode string
	Country    string // ISO 3166-1 alpha-2
	TimeZone   string // IANA, e.g. Europe/Amsterdam
	SiteHost   string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Station is a charge point. ChargePointID is its OCPP identity, unique per
// tenant. The OCPP password is stored only as a hash, never returned.
type Station struct {
	ID            string
	TenantID      string
	SiteID        string
	ChargePointID string
	Vendor        string
	Model         string
	// CostDisplay says the charger shows the driver's price and costs on
	// its own display, sent as OCPP 1.6 "California Pricing" DataTransfer
	// messages; chargers that lack the feature would only reject them.
	CostDisplay bool
	// MeterPublicKey is the public key of the station's calibration-law
	// meter, which signs its readings (OCMF): the hex of its DER
	// SubjectPublicKeyInfo, the form the transparency software takes; ""
	// when none is on record, and then signed readings cannot be verified.
	MeterPublicKey string
	HasPassword    bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Connector is one plug of a station: OCPP connectorId ConnectorNumber.
type Connector struct {
	ID              string
	TenantID        string
	StationID       string
	ConnectorNumber int
	Standard        string // OCPI ConnectorType, e.g. IEC_62196_T2
	PowerType       string // OCPI PowerType: AC_1_PHASE, AC_2_PHASE, AC_3_PHASE, DC
	MaxPowerKW      string // exact decimal, e.g. "22" or "7.4"
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TariffVersion is one version of a tariff. Versions are never changed: an
// update stores the next version, and whatever was priced keeps the
// version it was priced with.
type TariffVersion struct {
	TariffID  string
	TenantID  string
	Version   int
	Currency  string
	Document  json.RawMessage // the OCPI 2.2.1 Tariff JSON as received
	CreatedAt time.Time
}

// TariffAssignment says that a tariff applies to a site, a station or a
// connector (exactly one of SiteID, StationID, ConnectorID), optionally
// only for one driver group, within [ValidFrom, ValidTo). Among the
// assignments that apply, the most specific target wins (connector, then
// station, then site), then a group-specific one over one for everybody,
// then the higher Priority, then the most recent.
type TariffAssignment struct {
	ID            string
	TenantID      string
	TariffID      string
	SiteID        string
	StationID     string
	ConnectorID   string
	DriverGroupID string
	ValidFrom     *time.Time
	ValidTo       *time.Time
	Priority      int
	CreatedAt     time.Time
}

// DriverGroup groups drivers (a fleet, a staff plan) for tariffs.
type DriverGroup struct {
	ID        string
	TenantID  string
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Driver is a person who charges.
type Driver struct {
	ID        string
	TenantID  string
	Name      string
	Email     string
	GroupID   string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Token statuses, as OCPP 1.6 authorization answers them.
const (
	TokenAccepted = "ACCEPTED"
	TokenBlocked  = "BLOCKED"
	TokenExpired  = "EXPIRED"
)

// Token types, as OCPI names them.
const (
	TokenTypeRFID    = "RFID"
	TokenTypeAppUser = "APP_USER"
	// TokenTypeAdHoc is a guest's token, made by the pay page for one
	// session paid by a card taken there (see Payment.IDTag).
	TokenTypeAdHoc = "AD_HOC_USER"
	TokenTypeOther = "OTHER"
)

// Token identifies a driver at a charger: an RFID card uid or an app token.
type Token struct {
	ID        string
	TenantID  string
	UID       string // unique per tenant
	Type      string // OCPI TokenType: RFID, APP_USER, AD_HOC_USER, OTHER
	DriverID  string
	GroupID   string
	Status    string
	ExpiresAt *time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Page asks for one page of a list ordered by ID: the items after the
// cursor After (an ID, "" for the first page), at most Size() of them.
type Page struct {
	After string
	Limit int
}

// Page sizes: no page is longer than MaxPageLimit, so one request cannot
// read a whole table.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// Size returns how many items the page holds at most: Limit, or
// DefaultPageLimit when Limit is not positive, capped at MaxPageLimit.
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// IdempotentResponse is the stored answer to a POST made with an
// Idempotency-Key, replayed when the same key and body come again. Status 0
// marks a reservation: the request is running.
type IdempotentResponse struct {
	Key         string
	RequestHash []byte
	Status      int
	Body        []byte
	CreatedAt   time.Time
}

// Store keeps evbill's records. Every method that takes a tenantID reads
// or writes only that tenant's records: a record of another tenant is
// ENOTFOUND, exactly as a missing one. Errors are *Error with ENOTFOUND,
// ECONFLICT (a unique rule) or EINVALID (a reference to a record that does
// not exist for the tenant) where those apply. Create methods set ID,
// CreatedAt and UpdatedAt; Update methods change every field but ID,
// TenantID and CreatedAt, and both fill the struct with what was stored.
type Store interface {
	// Ping checks that the database answers and its migrations are applied.
	Ping(ctx context.Context) error
	Close() error

	// CreateTenant stores a new tenant with its payment settings
	// (EINVALID when they fail TenantPayments.Check); its name must be
	// unique.
	CreateTenant(ctx context.Context, t *Tenant) error
	TenantByName(ctx context.Context, name string) (Tenant, error)
	CountTenants(ctx context.Context) (int, error)
	// Tenant returns a tenant by ID.
	Tenant(ctx context.Context, id string) (Tenant, error)
	// SetAutoRegisterSite turns auto-registration of unknown chargers on
	// (into the tenant's site siteID) or off (""). ENOTFOUND when the
	// tenant or the site does not exist.
	SetAutoRegisterSite(ctx context.Context, tenantID, siteID string) error
	// SetTenantPayments replaces the tenant's payment settings: EINVALID
	// when p fails TenantPayments.Check, ENOTFOUND when the tenant does
	// not exist.
	SetTenantPayments(ctx context.Context, tenantID string, p TenantPayments) error
	// AutoRegisterTenants returns the tenants, across the installation,
	// that take unknown chargers, ordered by ID.
	AutoRegisterTenants(ctx context.Context) ([]Tenant, error)

	// CreateAPIKey stores a key with the hash of its secret.
	CreateAPIKey(ctx context.Context, k *APIKey, secretHash []byte) error
	// APIKeyByHash finds the key whose secret hashes to secretHash.
	APIKeyByHash(ctx context.Context, secretHash []byte) (APIKey, error)
	ListAPIKeys(ctx context.Context, tenantID string, p Page) ([]APIKey, error)

	CreateSite(ctx context.Context, s *Site) error
	Site(ctx context.Context, tenantID, id string) (Site, error)
	ListSites(ctx context.Context, tenantID string, p Page) ([]Site, error)
	UpdateSite(ctx context.Context, s *Site) error

	CreateStation(ctx context.Context, s *Station) error
	Station(ctx context.Context, tenantID, id string) (Station, error)
	StationByChargePointID(ctx context.Context, tenantID, chargePointID string) (Station, error)
	// StationsByChargePointID looks across tenants: an OCPP connection
	// names only its charge point id. The password decides which, if any.
	StationsByChargePointID(ctx context.Context, chargePointID string) ([]Station, error)
	ListStations(ctx context.Context, tenantID string, p Page) ([]Station, error)
	UpdateStation(ctx context.Context, s *Station) error
	// SetStationPassword stores the hash of the station's OCPP password.
	SetStationPassword(ctx context.Context, tenantID, id string, hash []byte) error
	StationPasswordHash(ctx context.Context, tenantID, id string) ([]byte, error)

	CreateConnector(ctx context.Context, c *Connector) error
	Connector(ctx context.Context, tenantID, id string) (Connector, error)
	ListConnectors(ctx context.Context, tenantID, stationID string, p Page) ([]Connector, error)
	UpdateConnector(ctx context.Context, c *Connector) error

	// CreateTariff stores version 1 of a new tariff.
	CreateTariff(ctx context.Context, v *TariffVersion) error
	// AddTariffVersion stores the version after the latest; two concurrent
	// updates cannot both become the same version (ECONFLICT).
	AddTariffVersion(ctx context.Context, v *TariffVersion) error
	// TariffVersion returns one version, or the latest when version is 0.
	TariffVersion(ctx context.Context, tenantID, tariffID string, version int) (TariffVersion, error)
	// ListTariffs returns the latest version of each tariff.
	ListTariffs(ctx context.Context, tenantID string, p Page) ([]TariffVersion, error)
	ListTariffVersions(ctx context.Context, tenantID, tariffID string) ([]TariffVersion, error)

	CreateAssignment(ctx context.Context, a *TariffAssignment) error
	Assignment(ctx context.Context, tenantID, id string) (TariffAssignment, error)
	ListAssignments(ctx context.Context, tenantID string, p Page) ([]TariffAssignment, error)
	DeleteAssignment(ctx context.Context, tenantID, id string) error
	// AssignmentsForStation returns every assignment that targets the
	// station, one of its connectors, or its site, at any time.
	AssignmentsForStation(ctx context.Context, tenantID, stationID string) ([]TariffAssignment, error)

	CreateDriverGroup(ctx context.Context, g *DriverGroup) error
	DriverGroup(ctx context.Context, tenantID, id string) (DriverGroup, error)
	ListDriverGroups(ctx context.Context, tenantID string, p Page) ([]DriverGroup, error)
	UpdateDriverGroup(ctx context.Context, g *DriverGroup) error

	CreateDriver(ctx context.Context, d *Driver) error
	Driver(ctx context.Context, tenantID, id string) (Driver, error)
	ListDrivers(ctx context.Context, tenantID string, p Page) ([]Driver, error)
	UpdateDriver(ctx context.Context, d *Driver) error

	CreateToken(ctx context.Context, t *Token) error
	Token(ctx context.Context, tenantID, id string) (Token, error)
	TokenByUID(ctx context.Context, tenantID, uid string) (Token, error)
	ListTokens(ctx context.Context, tenantID string, p Page) ([]Token, error)
	UpdateToken(ctx context.Context, t *Token) error

	// SaveIdempotentResponse stores the answer to a POST, or, with Status
	// 0, reserves the key for a request about to run; ECONFLICT if the key
	// is already stored or reserved for the tenant. Reserving before
	// running is what keeps two instances from both running one request.
	SaveIdempotentResponse(ctx context.Context, tenantID string, r *IdempotentResponse) error
	// CompleteIdempotentResponse turns the tenant's reservation of key into
	// the stored answer; ENOTFOUND if there is no reservation.
	CompleteIdempotentResponse(ctx context.Context, tenantID, key string, status int, body []byte) error
	// ReleaseIdempotencyKey drops the tenant's reservation of key if it was
	// made before reservedBefore: after a refused request, or one whose
	// instance died. Complete answers are never dropped.
	ReleaseIdempotencyKey(ctx context.Context, tenantID, key string, reservedBefore time.Time) error
	IdempotentResponse(ctx context.Context, tenantID, key string) (IdempotentResponse, error)
}
