package charging

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/cdr"
	"github.com/evbill/evbill/ledger"
	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/receipt"
	"github.com/evbill/evbill/tariff"
)

// Stores is what the service needs of the database.
type Stores interface {
	evbill.Store
	evbill.SessionStore
}

// Service is the central system's business logic: it implements
// ocpp.Handler, turning the chargers' messages into sessions, samples and,
// when a session ends, a priced CDR stored with its cdr.created event in
// the same transaction. Every transaction message is answered only after
// its write is committed.
type Service struct {
	store         Stores
	resolver      *pricing.Resolver
	log           *slog.Logger
	now           func() time.Time
	commit        *committer
	party         [2]string // the CPO's OCPI country code and party id, for CDRs
	verified      sync.Map  // station ID → SHA-256 of its hash and the password last verified
	payments      evbill.PaymentStore
	cardHold      int64
	walletMinimum int64
	accountLimit  int64
	broker        *Broker // the live figures' subscribers (broker.go)
}

var _ ocpp.Handler = (*Service)(nil)

// Config configures a Service.
type Config struct {
	Store       Stores
	Resolver    *pricing.Resolver // nil: a resolver of its own
	Logger      *slog.Logger      // nil: slog.Default()
	CountryCode string            // the CPO's OCPI identity in CDRs; default "NL"
	PartyID     string            // default "EVB"
	// Now is the clock; nil is time.Now. Tests set it to replay a day in
	// a moment.
	Now func() time.Time
	// Payments, when set, gives every session of a driver who pays by
	// card a payment at its start, which the payment worker holds and,
	// once the CDR is in, captures.
	Payments evbill.PaymentStore
	// CardHold is the hold in minor units of the tariff's currency;
	// DefaultCardHold when zero.
	CardHold int64
	// WalletMinimum is the least a wallet must hold for a session to
	// start; DefaultWalletMinimum when zero.
	WalletMinimum int64
	// AccountLimit bounds one session on a postpaid account;
	// DefaultAccountLimit when zero.
	AccountLimit int64
}

// DefaultWalletMinimum is 5.00 in a currency of two decimals.
const DefaultWalletMinimum = 500

// DefaultAccountLimit is 1,000.00 in a currency of two decimals.
const DefaultAccountLimit = 100_000

// DefaultCardHold is the hold placed on a card for a session: 50.00 in a
// currency of two decimals. The CDR total is captured, the rest released.
const DefaultCardHold = 5000

// NewService starts a service; Close stops its committer.
func NewService(cfg Config) *Service {
	s := &Service{store: cfg.Store, resolver: cfg.Resolver, log: cfg.Logger, now: time.Now,
		commit: newCommitter(cfg.Store), party: [2]string{cfg.CountryCode, cfg.PartyID},
		payments: cfg.Payments, cardHold: cfg.CardHold, walletMinimum: cfg.WalletMinimum, accountLimit: cfg.AccountLimit}
	if s.cardHold <= 0 {
		s.cardHold = DefaultCardHold
	}
	if s.walletMinimum <= 0 {
		s.walletMinimum = DefaultWalletMinimum
	}
	if s.accountLimit <= 0 {
		s.accountLimit = DefaultAccountLimit
	}
	if cfg.Now != nil {
		s.now = cfg.Now
	}
	if s.resolver == nil {
		s.resolver = pricing.NewResolver(cfg.Store)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.broker = NewBroker(s.liveUpdate)
	if s.party[0] == "" {
		s.party[0] = "NL"
	}
	if s.party[1] == "" {
		s.party[1] = "EVB"
	}
	return s
}

// Close waits for the writes in flight, stops the committer and ends
// the live subscriptions.
func (s *Service) Close() { s.commit.close(); s.broker.Close() }

// Authenticate is ocpp.Server's security profile 1 check: the charge
// point id names stations (in any tenant), and the Basic auth password
// must match one of their hashed OCPP passwords.
func (s *Service) Authenticate(ctx context.Context, chargePointID, password string, hasPassword bool) (ocpp.Identity, error) {
	if !hasPassword {
		return ocpp.Identity{}, errors.New("a password is required (OCPP security profile 1)")
	}
	stations, err := s.store.StationsByChargePointID(ctx, chargePointID)
	if err != nil {
		return ocpp.Identity{}, fmt.Errorf("%w: %v", ocpp.ErrAuthUnavailable, err)
	}
	if len(stations) == 0 {
		return s.autoRegister(ctx, chargePointID, password)
	}
	for _, st := range stations {
		hash, err := s.store.StationPasswordHash(ctx, st.TenantID, st.ID)
		if err != nil || len(hash) == 0 {
			continue
		}
		if s.verifyPassword(st.ID, hash, password) {
			return ocpp.Identity{TenantID: st.TenantID, StationID: st.ID, ChargePointID: chargePointID, Value: newLink()}, nil
		}
	}
	return ocpp.Identity{}, errors.New("unknown charge point or wrong password")
}

// MinAutoRegisterPassword is the shortest password a charger may register
// itself with: the API's minimum for a station password.
const MinAutoRegisterPassword = 16

// autoRegister creates a station for a charger no tenant knows, when
// exactly one tenant takes unknown chargers (Tenant.AutoRegisterSiteID),
// and keeps the password it presented: trust on first use, for demos and
// first installs. With no such tenant the charger is refused as unknown;
// with several, evbill cannot tell whose it is and refuses it too. Two
// first connections at once both end up on the one station, if their
// passwords agree.
func (s *Service) autoRegister(ctx context.Context, chargePointID, password string) (ocpp.Identity, error) {
	tenants, err := s.store.AutoRegisterTenants(ctx)
	if err != nil {
		return ocpp.Identity{}, fmt.Errorf("%w: %v", ocpp.ErrAuthUnavailable, err)
	}
	switch {
	case len(tenants) == 0:
		return ocpp.Identity{}, errors.New("unknown charge point or wrong password")
	case len(tenants) > 1:
		s.log.Warn("refused an unknown charger: more than one tenant registers unknown chargers, so its tenant is ambiguous",
			"charge_point", chargePointID, "tenants", len(tenants))
		return ocpp.Identity{}, errors.New("unknown charge point, and its tenant is ambiguous")
	case len(password) < MinAutoRegisterPassword:
		return ocpp.Identity{}, fmt.Errorf("an unknown charger registers itself only with a password of at least %d characters", MinAutoRegisterPassword)
	}
	tn := tenants[0]
	hash, err := auth.HashPassword(password)
	if err != nil {
		return ocpp.Identity{}, err
	}
	st := evbill.Station{TenantID: tn.ID, SiteID: tn.AutoRegisterSiteID, ChargePointID: chargePointID}
	if err := s.store.CreateStation(ctx, &st); err != nil {
		if evbill.ErrorCode(err) == evbill.ECONFLICT {
			return s.Authenticate(ctx, chargePointID, password, true) // registered a moment ago
		}
		return ocpp.Identity{}, fmt.Errorf("%w: registering the charger: %v", ocpp.ErrAuthUnavailable, err)
	}
	if err := s.store.SetStationPassword(ctx, tn.ID, st.ID, hash); err != nil {
		return ocpp.Identity{}, fmt.Errorf("%w: registering the charger: %v", ocpp.ErrAuthUnavailable, err)
	}
	s.log.Info("registered an unknown charger", "charge_point", chargePointID, "tenant", tn.ID, "station", st.ID, "site", st.SiteID)
	return ocpp.Identity{TenantID: tn.ID, StationID: st.ID, ChargePointID: chargePointID, Value: newLink()}, nil
}

// verifyPassword checks a charger's password against its stored PBKDF2
// hash, remembering a success: the hash costs milliseconds of CPU by
// design, and chargers reconnect often (flaky links, and all at once when
// the central system restarts). What is remembered is a SHA-256 of the
// stored hash and the password, so a changed password or hash misses, and
// memory holds no password.
func (s *Service) verifyPassword(stationID string, hash []byte, password string) bool {
	h := sha256.New()
	h.Write(hash)
	h.Write([]byte{0})
	h.Write([]byte(password))
	var digest [sha256.Size]byte
	h.Sum(digest[:0])
	if known, ok := s.verified.Load(stationID); ok && subtle.ConstantTimeCompare(known.([]byte), digest[:]) == 1 {
		return true
	}
	if !auth.VerifyPassword(hash, password) {
		return false
	}
	s.verified.Store(stationID, digest[:])
	return true
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Second) }

// BootNotification accepts the charger and, once it has been answered,
// asks it to sample what billing needs every minute.
func (s *Service) BootNotification(ctx context.Context, c *ocpp.Conn, req *ocpp.BootNotificationReq) (*ocpp.BootNotificationConf, error) {
	if err := s.markRebooted(ctx, c.Identity()); err != nil {
		return nil, err
	}
	c.AfterAnswer(func() { go s.configure(c) })
	return &ocpp.BootNotificationConf{Status: ocpp.RegistrationAccepted, CurrentTime: s.clock(), Interval: 300}, nil
}

// markRebooted flags the station's open sessions: the charger restarted
// while they ran. The charger may still send their StopTransaction from
// its offline queue, which then ends them as usual; if it starts a new
// transaction on the connector instead, the flagged session is ended at
// its last reading (see endInterrupted). The flag is stored, so no
// instance's memory has to remember it.
func (s *Service) markRebooted(ctx context.Context, id ocpp.Identity) error {
	open, err := s.store.OpenSessions(ctx, id.TenantID, id.StationID)
	if err != nil {
		return err
	}
	for i := range open {
		sess := &open[i]
		if slices.Contains(sess.Flags, evbill.FlagEndedByReboot) {
			continue
		}
		sess.Flags = append(sess.Flags, evbill.FlagEndedByReboot)
		if _, err := s.commit.do(ctx, evbill.SessionWrite{Update: sess}); err != nil {
			return err
		}
	}
	return nil
}

// endInterrupted ends the other open sessions of a connector on which a
// new transaction started: a connector charges one vehicle at a time, so
// they ended without their StopTransaction (a reboot, a lost message).
// Each ends at its last reading, priced as usual, with reason "Reboot"
// when the charger restarted and "Other" otherwise.
func (s *Service) endInterrupted(ctx context.Context, l *link, started *evbill.Session) error {
	open, err := s.store.OpenSessions(ctx, started.TenantID, started.StationID)
	if err != nil {
		return err
	}
	for i := range open {
		sess := &open[i]
		if sess.ID == started.ID || sess.ConnectorNumber != started.ConnectorNumber || !sess.StartedAt.Before(started.StartedAt) {
			continue
		}
		samples, err := s.store.Samples(ctx, sess.TenantID, sess.ID)
		if err != nil {
			return err
		}
		at, meter := lastReading(sess, samples, started.StartedAt)
		reason := "Other"
		if slices.Contains(sess.Flags, evbill.FlagEndedByReboot) {
			reason = "Reboot"
		}
		end, err := s.end(ctx, sess, samples, at, meter, reason)
		if err != nil {
			return err
		}
		if _, err := s.commit.do(ctx, evbill.SessionWrite{End: end}); err != nil && evbill.ErrorCode(err) != evbill.ECONFLICT {
			return err
		}
		s.broker.Publish(sess.TenantID, sess.ID)
		l.forget(sess.TransactionID)
	}
	return nil
}

// configure sets the sampling evbill bills by; a charger that refuses a
// key is logged, not disconnected. It runs once the BootNotification's
// answer has gone out: a charger need not listen to the central system
// before it is accepted.
func (s *Service) configure(c *ocpp.Conn) {
	for _, kv := range [][2]string{
		{"MeterValueSampleInterval", "60"},
		{"MeterValuesSampledData", "Energy.Active.Import.Register,Power.Active.Import,Current.Import,SoC"},
	} {
		ctx, cancel := context.WithTimeout(c.Context(), 30*time.Second)
		var conf ocpp.ChangeConfigurationConf
		err := c.Call(ctx, ocpp.ActionChangeConfiguration, &ocpp.ChangeConfigurationReq{Key: kv[0], Value: kv[1]}, &conf)
		cancel()
		if err != nil {
			s.log.Info("charger did not take a configuration key", "charge_point", c.Identity().ChargePointID, "key", kv[0], "err", err)
		}
	}
}

// Heartbeat answers with the central system's clock.
func (s *Service) Heartbeat(ctx context.Context, c *ocpp.Conn, req *ocpp.HeartbeatReq) (*ocpp.HeartbeatConf, error) {
	return &ocpp.HeartbeatConf{CurrentTime: s.clock()}, nil
}

// StatusNotification records when a connector's vehicle stopped drawing
// power (SuspendedEV, Finishing): the start of idle parking. Charging
// again clears it.
func (s *Service) StatusNotification(ctx context.Context, c *ocpp.Conn, req *ocpp.StatusNotificationReq) (*ocpp.StatusNotificationConf, error) {
	idle := req.Status == ocpp.StatusSuspendedEV || req.Status == ocpp.StatusFinishing
	if !idle && req.Status != ocpp.StatusCharging {
		return &ocpp.StatusNotificationConf{}, nil
	}
	id := c.Identity()
	open, err := s.store.OpenSessions(ctx, id.TenantID, id.StationID)
	if err != nil {
		return nil, err
	}
	at := s.clock()
	if req.Timestamp != nil {
		at = req.Timestamp.UTC()
	}
	for i := range open {
		sess := &open[i]
		if sess.ConnectorNumber != req.ConnectorId {
			continue
		}
		switch {
		case idle && sess.ParkingStartedAt == nil:
			sess.ParkingStartedAt, sess.State = &at, evbill.SessionParking
		case !idle && sess.ParkingStartedAt != nil:
			sess.ParkingStartedAt, sess.State = nil, evbill.SessionActive
		default:
			continue
		}
		if _, err := s.commit.do(ctx, evbill.SessionWrite{Update: sess}); err != nil {
			return nil, err
		}
		// Its status may say parking began before readings already
		// priced, or ended it: the next reading is priced afresh.
		linkOf(c).reprice(sess.TransactionID)
		s.broker.Publish(sess.TenantID, sess.ID)
	}
	return &ocpp.StatusNotificationConf{}, nil
}

// Authorize looks the idTag up among the tenant's tokens, and refuses
// (Blocked) a driver who pays from a wallet holding less than the
// tenant's minimum, in the currency of the station's tariff, before the
// car is plugged in; StartTransaction checks again.
func (s *Service) Authorize(ctx context.Context, c *ocpp.Conn, req *ocpp.AuthorizeReq) (*ocpp.AuthorizeConf, error) {
	id := c.Identity()
	at := s.clock()
	info, tok, err := s.authorize(ctx, id.TenantID, req.IdTag, at)
	if err != nil {
		return nil, err
	}
	if info.Status == ocpp.AuthorizationAccepted && s.payments != nil && tok.DriverID != "" {
		low, err := s.walletTooLow(ctx, id, tok, at)
		if err != nil {
			return nil, err
		}
		if low {
			info.Status = ocpp.AuthorizationBlocked
		}
	}
	s.showUserPrice(ctx, c, req.IdTag, tok, info.Status)
	return &ocpp.AuthorizeConf{IdTagInfo: info}, nil
}

// walletTooLow reports whether the token's driver pays from a wallet that
// holds less than the tenant's minimum in the currency of the tariff in
// force at the station. A station without a tariff bills nothing, so
// nothing is refused.
func (s *Service) walletTooLow(ctx context.Context, id ocpp.Identity, tok evbill.Token, at time.Time) (bool, error) {
	m, err := s.payments.PaymentMethod(ctx, id.TenantID, tok.DriverID)
	switch {
	case evbill.ErrorCode(err) == evbill.ENOTFOUND:
		return false, nil
	case err != nil:
		return false, err
	case m.PayBy != evbill.PayByWallet:
		return false, nil
	}
	res, err := s.resolver.Resolve(ctx, pricing.Target{TenantID: id.TenantID, StationID: id.StationID, GroupID: tok.GroupID}, at)
	if err != nil {
		return false, nil
	}
	limits, err := s.paymentLimits(ctx, id.TenantID)
	if err != nil {
		return false, err
	}
	balance, err := s.walletBalance(ctx, id.TenantID, tok.DriverID, res.Tariff.Currency.Code())
	if err != nil {
		return false, err
	}
	return balance < limits.WalletMinimum, nil
}

// authorize maps a token to OCPP's answer: unknown is Invalid, a blocked
// or expired token says so, and the token's driver group is its
// parentIdTag, so chargers group cards as evbill does.
func (s *Service) authorize(ctx context.Context, tenantID, idTag string, at time.Time) (ocpp.IdTagInfo, evbill.Token, error) {
	tok, err := s.store.TokenByUID(ctx, tenantID, idTag)
	switch evbill.ErrorCode(err) {
	case "":
	case evbill.ENOTFOUND:
		return ocpp.IdTagInfo{Status: ocpp.AuthorizationInvalid}, tok, nil
	default:
		return ocpp.IdTagInfo{}, tok, err
	}
	info := ocpp.IdTagInfo{Status: ocpp.AuthorizationAccepted, ParentIdTag: tok.GroupID, ExpiryDate: tok.ExpiresAt}
	switch {
	case tok.Status == evbill.TokenBlocked:
		info.Status = ocpp.AuthorizationBlocked
	case tok.Status == evbill.TokenExpired || (tok.ExpiresAt != nil && !at.Before(*tok.ExpiresAt)):
		info.Status = ocpp.AuthorizationExpired
	}
	return info, tok, nil
}

// StartTransaction stores the session with the tariff in force at its
// start and answers with its transaction id. A retransmission (same
// connector, idTag, meterStart and timestamp) gets the same id back. A
// refused idTag still gets a transaction id, as OCPP requires; the charger
// then stops.
func (s *Service) StartTransaction(ctx context.Context, c *ocpp.Conn, req *ocpp.StartTransactionReq) (*ocpp.StartTransactionConf, error) {
	id := c.Identity()
	at := req.Timestamp.UTC()
	info, tok, err := s.authorize(ctx, id.TenantID, req.IdTag, at)
	if err != nil {
		return nil, err
	}
	sess := &evbill.Session{
		TenantID: id.TenantID, StationID: id.StationID, ConnectorNumber: req.ConnectorId,
		IDTag: req.IdTag, TokenID: tok.ID, DriverID: tok.DriverID, GroupID: tok.GroupID,
		MeterStartWh: strconv.Itoa(req.MeterStart), StartedAt: at, State: evbill.SessionActive,
	}
	target := pricing.Target{TenantID: id.TenantID, StationID: id.StationID, GroupID: tok.GroupID}
	if sc, err := s.resolver.Station(ctx, id.TenantID, id.StationID); err == nil {
		if conn, ok := sc.Connector(req.ConnectorId); ok {
			target.ConnectorID = conn.ID
		}
	}
	res, err := s.resolver.Resolve(ctx, target, at)
	priced := err == nil
	if priced {
		sess.TariffID, sess.TariffVersion = res.Version.TariffID, res.Version.Version
	}
	// The driver's payment is decided before the session is stored, and
	// stored with it in one transaction: a session never exists without
	// the payment it was started with, and a start costs no transaction
	// of its own for its payment.
	var pay *evbill.Payment
	var refusal ocpp.AuthorizationStatus
	payable := s.payments != nil && info.Status == ocpp.AuthorizationAccepted && priced && tok.Type != evbill.TokenTypeAdHoc
	if payable {
		if pay, refusal, err = s.paymentOf(ctx, sess, res); err != nil {
			return nil, err
		}
	}
	w, err := s.commit.do(ctx, evbill.SessionWrite{Start: sess, Payment: pay})
	if err != nil {
		return nil, err
	}
	s.broker.Publish(w.Start.TenantID, w.Start.ID)
	var hold int64
	known := false
	switch {
	case payable:
		// A session without a payment (billed some other way, or refused)
		// has nothing to guard; a retransmission's existing payment is
		// looked up by the guard when it needs it.
		known = pay == nil || w.PaymentCreated
		if w.PaymentCreated {
			hold = w.Payment.HoldAmount
		}
	case s.payments != nil && info.Status == ocpp.AuthorizationAccepted && tok.Type == evbill.TokenTypeAdHoc:
		// A guest's session claims the payment made for it even without a
		// tariff: its hold is then released, as any session's without a CDR.
		if hold, known, refusal, err = s.claimAdHoc(ctx, w.Start); err != nil {
			return nil, err
		}
	}
	if refusal != "" {
		info.Status = refusal // the charger stops
	}
	l := linkOf(c)
	l.remember(w.Start.TransactionID, w.Start.ID)
	if w.Created && known && (hold == 0 || w.PaymentCreated) {
		// What this transaction's MeterValues follow is known: they
		// need not read it back (see watch).
		var tf *tariff.Tariff
		if priced {
			tf = res.Tariff
		}
		paymentID := ""
		if w.PaymentCreated {
			paymentID = w.Payment.ID
		}
		if err := l.watchOf(w.Start.TransactionID).seed(w.Start, tf, hold, paymentID); err != nil {
			return nil, err
		}
	}
	if w.Created {
		if err := s.endInterrupted(ctx, l, w.Start); err != nil {
			// The new session is stored; the old ones stay open and flagged
			// for the next start or for review. Answer the charger.
			s.log.Error("ending interrupted sessions", "station", id.StationID, "err", err)
		}
	}
	return &ocpp.StartTransactionConf{IdTagInfo: info, TransactionId: int(w.Start.TransactionID)}, nil
}

// paymentOf is the payment a session of a driver who pays by card,
// wallet or account starts with, which the payment worker holds and, once
// the CDR is in, captures: a card hold of CardHold, the wallet's whole
// balance (so the session stops before it runs out), or AccountLimit on
// a postpaid account; all in the tariff's currency. nil when the driver
// is billed some other way. refusal, when not "", is how the start is
// answered instead of Accepted: Blocked when a wallet holds less than
// WalletMinimum (no payment is made). A guest's session (an ad-hoc token)
// claims the payment the pay page made for it instead (see claimAdHoc).
func (s *Service) paymentOf(ctx context.Context, sess *evbill.Session, res pricing.Resolved) (*evbill.Payment, ocpp.AuthorizationStatus, error) {
	if sess.DriverID == "" {
		return nil, "", nil
	}
	m, err := s.payments.PaymentMethod(ctx, sess.TenantID, sess.DriverID)
	switch {
	case evbill.ErrorCode(err) == evbill.ENOTFOUND:
		return nil, "", nil // billed some other way
	case err != nil:
		return nil, "", err
	}
	limits, err := s.paymentLimits(ctx, sess.TenantID)
	if err != nil {
		return nil, "", err
	}
	currency := res.Tariff.Currency.Code()
	p := &evbill.Payment{TenantID: sess.TenantID, DriverID: sess.DriverID, SiteID: res.Site.ID,
		Gateway: m.Gateway, PaymentMethod: m.Card, Customer: m.Customer, Currency: currency, HoldAmount: limits.CardHold}
	switch m.PayBy {
	case evbill.PayByWallet:
		balance, err := s.walletBalance(ctx, sess.TenantID, sess.DriverID, currency)
		if err != nil {
			return nil, "", err
		}
		if balance < limits.WalletMinimum {
			return nil, ocpp.AuthorizationBlocked, nil
		}
		p.Gateway, p.PaymentMethod, p.HoldAmount = evbill.PayByWallet, "", balance
	case evbill.PayByAccount:
		p.Gateway, p.PaymentMethod, p.HoldAmount = evbill.PayByAccount, "", limits.AccountLimit
	}
	return p, "", nil
}

// claimAdHoc gives a guest's session the payment the pay page made for
// its idTag, whose hold was placed before the charger was asked to start.
// A retransmitted start finds the payment its first claim took. Without
// either, the start is answered Invalid: an ad-hoc token exists only to
// start the one session its card pays for, so a session without that
// payment (the hold failed, was released, or paid for another session
// already) would charge for nothing.
func (s *Service) claimAdHoc(ctx context.Context, sess *evbill.Session) (hold int64, known bool, refusal ocpp.AuthorizationStatus, err error) {
	p, err := s.payments.ClaimAdHocPayment(ctx, sess.TenantID, sess.IDTag, sess.ID)
	switch evbill.ErrorCode(err) {
	case "":
		return p.HoldAmount, true, "", nil
	case evbill.ENOTFOUND:
	default:
		return 0, false, "", err
	}
	p, err = s.payments.PaymentBySession(ctx, sess.TenantID, sess.ID)
	switch evbill.ErrorCode(err) {
	case "":
		if p.State != evbill.PaymentHeld {
			return 0, true, "", nil // nothing held any more: nothing to guard
		}
		return p.HoldAmount, true, "", nil
	case evbill.ENOTFOUND:
		s.log.Warn("a guest's start without a held payment: refused", "session", sess.ID, "id_tag", sess.IDTag)
		return 0, true, ocpp.AuthorizationInvalid, nil
	}
	return 0, false, "", err
}

// paymentLimits are the tenant's card hold, wallet minimum and account
// limit: its own settings, and the service's for those it leaves at 0.
func (s *Service) paymentLimits(ctx context.Context, tenantID string) (evbill.TenantPayments, error) {
	t, err := s.store.Tenant(ctx, tenantID)
	if err != nil {
		return evbill.TenantPayments{}, err
	}
	l := t.Payments
	if l.CardHold == 0 {
		l.CardHold = s.cardHold
	}
	if l.WalletMinimum == 0 {
		l.WalletMinimum = s.walletMinimum
	}
	if l.AccountLimit == 0 {
		l.AccountLimit = s.accountLimit
	}
	return l, nil
}

// walletBalance is what the driver's wallet holds in currency, in minor
// units: the credit balance of its ledger account. The holds of the
// driver's other open sessions are not subtracted: a driver charges one
// car at a time.
func (s *Service) walletBalance(ctx context.Context, tenantID, driverID, currency string) (int64, error) {
	ls, ok := s.payments.(evbill.LedgerStore)
	if !ok {
		return 0, nil
	}
	a, err := ls.LedgerAccount(ctx, tenantID, ledger.DriverWallet(driverID), currency)
	if evbill.ErrorCode(err) == evbill.ENOTFOUND {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return -a.Balance, nil // a liability: credits are what the wallet holds
}

// MeterValues stores a transaction's readings. Readings are kept by the
// charger's timestamps, so late and out-of-order ones fall into place;
// one at an instant already stored is a retransmission and ignored.
func (s *Service) MeterValues(ctx context.Context, c *ocpp.Conn, req *ocpp.MeterValuesReq) (*ocpp.MeterValuesConf, error) {
	if req.TransactionId == nil {
		return &ocpp.MeterValuesConf{}, nil // connector readings outside a transaction bill nothing
	}
	id, tx := c.Identity(), int64(*req.TransactionId)
	l := linkOf(c)
	sessionID, ok := l.session(tx)
	if !ok {
		sess, err := s.store.SessionByTransaction(ctx, id.TenantID, id.StationID, tx)
		if evbill.ErrorCode(err) == evbill.ENOTFOUND {
			s.log.Warn("meter values for an unknown transaction", "charge_point", id.ChargePointID, "transaction_id", tx)
			return &ocpp.MeterValuesConf{}, nil
		}
		if err != nil {
			return nil, err
		}
		if sess.State == evbill.SessionEnded {
			return &ocpp.MeterValuesConf{}, nil // late readings of an ended session bill nothing
		}
		sessionID = sess.ID
		l.remember(tx, sessionID)
	}
	sw, err := readings(id.TenantID, sessionID, req.MeterValue)
	if err != nil || sw == nil {
		return &ocpp.MeterValuesConf{}, err
	}
	w := l.watchOf(tx)
	var n *notice
	if len(sw.Samples) > 0 {
		if !w.loaded {
			err = s.loadWatch(ctx, w, id.TenantID, sessionID)
		}
		if err == nil {
			n, err = s.plan(ctx, w, sw.Samples)
		}
		switch {
		case evbill.ErrorCode(err) == evbill.ENOTFOUND:
			l.forget(tx)
			return &ocpp.MeterValuesConf{}, nil
		case err != nil:
			return nil, err
		}
		sw.Events, sw.Mark = n.events, n.mark
	}
	switch _, err := s.commit.do(ctx, evbill.SessionWrite{Samples: sw}); {
	case evbill.ErrorCode(err) == evbill.ECONFLICT:
		l.forget(tx) // ended meanwhile (the reboot sweep): its readings are final
	case err != nil:
		return nil, err
	default:
		if n != nil {
			w.committed(n)
			s.guardHold(c, w, n, tx)
		}
		s.broker.Publish(id.TenantID, sessionID)
		s.showRunningCost(ctx, c, l, id.TenantID, sessionID, tx)
	}
	return &ocpp.MeterValuesConf{}, nil
}

// link is what the service keeps of one charger connection: the session
// of each transaction it reported, so that a MeterValues need not look its
// session up. The database stays the record: a miss reads it, a session
// ended here is forgotten at once, and one ended elsewhere (the reboot
// sweep) is found out when its readings are refused as final. A link
// lives as long as its connection, so nothing outlives a reconnect.
type link struct {
	mu      sync.Mutex
	open    map[int64]string // transaction ID → session ID
	watches map[int64]*watch // transaction ID → what its readings are followed by (see watch)

	display displayState // what the charger's display was sent (see display.go)
}

func newLink() *link { return &link{open: map[int64]string{}} }

// linkOf returns the connection's link; a connection authenticated by
// something other than Service.Authenticate gets a throwaway one.
func linkOf(c *ocpp.Conn) *link {
	if l, ok := c.Identity().Value.(*link); ok {
		return l
	}
	return newLink()
}

func (l *link) session(tx int64) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.open[tx]
	return id, ok
}

func (l *link) remember(tx int64, sessionID string) {
	l.mu.Lock()
	l.open[tx] = sessionID
	l.mu.Unlock()
}

func (l *link) forget(tx int64) {
	l.mu.Lock()
	delete(l.open, tx)
	delete(l.watches, tx)
	l.mu.Unlock()
	l.display.forget(tx)
}

func (s *Service) addSamples(ctx context.Context, tenantID, sessionID string, values []ocpp.MeterValue) error {
	sw, err := readings(tenantID, sessionID, values)
	if err != nil || sw == nil {
		return err
	}
	_, err = s.commit.do(ctx, evbill.SessionWrite{Samples: sw})
	return err
}

// readings turns the MeterValues of a session into its write; nil when
// they hold nothing to store.
func readings(tenantID, sessionID string, values []ocpp.MeterValue) (*evbill.SampleWrite, error) {
	if len(values) == 0 {
		return nil, nil
	}
	samples := make([]evbill.MeterSample, 0, len(values))
	var signed []evbill.SignedValue
	for _, mv := range values {
		rs := make([]Reading, len(mv.SampledValue))
		for i, v := range mv.SampledValue {
			rs[i] = Reading{Value: v.Value, Context: string(v.Context), Format: string(v.Format), Measurand: string(v.Measurand),
				Phase: string(v.Phase), Location: string(v.Location), Unit: string(v.Unit)}
			if v.Format == ocpp.FormatSignedData && IsOCMF(v.Value) {
				signed = append(signed, evbill.SignedValue{Time: mv.Timestamp.UTC(), Context: string(v.Context), Raw: v.Value})
			}
		}
		sample, ok, err := Sample(sessionID, mv.Timestamp.UTC(), rs)
		if err != nil {
			return nil, ocpp.Errorf(ocpp.PropertyConstraintViolation, "%v", err)
		}
		if ok {
			samples = append(samples, sample)
		}
	}
	if len(samples) == 0 && len(signed) == 0 {
		return nil, nil
	}
	return &evbill.SampleWrite{TenantID: tenantID, SessionID: sessionID, Samples: samples, Signed: signed}, nil
}

// StopTransaction ends the session and stores its priced CDR with a
// cdr.created event in one transaction. It is always answered: a stop for
// a transaction evbill does not know is kept as an orphan session for
// review; a repeated stop finds the session ended and is answered again.
func (s *Service) StopTransaction(ctx context.Context, c *ocpp.Conn, req *ocpp.StopTransactionReq) (*ocpp.StopTransactionConf, error) {
	id := c.Identity()
	conf := &ocpp.StopTransactionConf{}
	if req.IdTag != "" {
		info, _, err := s.authorize(ctx, id.TenantID, req.IdTag, req.Timestamp.UTC())
		if err != nil {
			return nil, err
		}
		conf.IdTagInfo = &info
	}
	sess, err := s.store.SessionByTransaction(ctx, id.TenantID, id.StationID, int64(req.TransactionId))
	if evbill.ErrorCode(err) == evbill.ENOTFOUND {
		return conf, s.orphan(ctx, id, req)
	}
	if err != nil {
		return nil, err
	}
	if sess.State == evbill.SessionEnded {
		s.showFinalCost(ctx, c, sess) // the first answer may have been lost, and the final cost with it
		linkOf(c).forget(int64(req.TransactionId))
		return conf, nil // a retransmitted stop
	}
	if err := s.addSamples(ctx, id.TenantID, sess.ID, req.TransactionData); err != nil && evbill.ErrorCode(err) != evbill.ECONFLICT {
		return nil, err
	}
	// The charger's own stop wins over an end by reboot that was pending.
	sess.Flags = withoutFlag(sess.Flags, evbill.FlagEndedByReboot)
	samples, err := s.store.Samples(ctx, sess.TenantID, sess.ID)
	if err != nil {
		return nil, err
	}
	end, err := s.end(ctx, &sess, samples, req.Timestamp.UTC(), strconv.Itoa(req.MeterStop), string(req.Reason))
	if err != nil {
		return nil, err
	}
	if _, err := s.commit.do(ctx, evbill.SessionWrite{End: end}); err != nil && evbill.ErrorCode(err) != evbill.ECONFLICT {
		return nil, err
	}
	s.broker.Publish(sess.TenantID, sess.ID)
	linkOf(c).forget(int64(req.TransactionId))
	s.showFinalCost(ctx, c, sess)
	return conf, nil
}

// orphan keeps a stop for an unknown transaction as an ended, flagged
// session without a CDR, so an operator can review it.
func (s *Service) orphan(ctx context.Context, id ocpp.Identity, req *ocpp.StopTransactionReq) error {
	s.log.Warn("stop for an unknown transaction kept as an orphan", "charge_point", id.ChargePointID, "transaction_id", req.TransactionId)
	at := req.Timestamp.UTC()
	meter := strconv.Itoa(req.MeterStop)
	sess := &evbill.Session{TenantID: id.TenantID, StationID: id.StationID, IDTag: req.IdTag, MeterStartWh: meter,
		StartedAt: at, State: evbill.SessionActive, Flags: []string{evbill.FlagOrphanStop}}
	w, err := s.commit.do(ctx, evbill.SessionWrite{Start: sess})
	if err != nil {
		return err
	}
	ended := *w.Start
	ended.MeterStopWh, ended.StoppedAt, ended.StopReason, ended.State = meter, &at, string(req.Reason), evbill.SessionEnded
	payload, _ := json.Marshal(map[string]any{"session_id": ended.ID, "charger_transaction_id": req.TransactionId})
	_, err = s.commit.do(ctx, evbill.SessionWrite{End: &evbill.EndWrite{Session: &ended,
		Events: []evbill.Event{{TenantID: id.TenantID, Type: "session.orphan_stop", Payload: payload}}}})
	return err
}

// lastReading is where a session that lost its StopTransaction ends: its
// last reading up to until (its start if it has none), with the last
// energy register read by then.
func lastReading(sess *evbill.Session, samples []evbill.MeterSample, until time.Time) (time.Time, string) {
	at, meter := sess.StartedAt, sess.MeterStartWh
	for _, ms := range samples {
		if ms.Time.After(at) && !ms.Time.After(until) {
			at = ms.Time
			if ms.EnergyWh != "" {
				meter = ms.EnergyWh
			}
		}
	}
	return at, meter
}

// end prices the session from its stored samples and builds its CDR. A
// session whose meter is implausible, or without a tariff, ends without a
// CDR and with a flag: it is not billed blindly.
func (s *Service) end(ctx context.Context, sess *evbill.Session, samples []evbill.MeterSample, at time.Time, meterStopWh, reason string) (*evbill.EndWrite, error) {
	if at.Before(sess.StartedAt) {
		at = sess.StartedAt // a charger clock that ran backwards ends the session where it began
	}
	sess.MeterStopWh, sess.StoppedAt, sess.StopReason, sess.State = meterStopWh, &at, reason, evbill.SessionEnded
	end := &evbill.EndWrite{Session: sess}
	// The connector bounds plausible energy and describes the CDR's
	// location; a session on a connector without a record still ends.
	sc, err := s.resolver.Station(ctx, sess.TenantID, sess.StationID)
	if err != nil {
		return nil, err
	}
	conn, _ := sc.Connector(sess.ConnectorNumber)
	flags := check(sess, samples, conn)
	sess.Flags = appendNew(sess.Flags, flags...)
	if len(flags) > 0 || sess.TariffID == "" {
		if err := s.checkSigned(ctx, sess, sc.Station, nil); err != nil {
			return nil, err
		}
		// No CDR: the store's session.ended, with the flags that held it
		// back, is the only event of this end.
		return end, nil
	}
	record, err := s.price(ctx, sess, samples, sc, conn)
	if err != nil {
		return nil, err
	}
	if err := s.checkSigned(ctx, sess, sc.Station, record); err != nil {
		return nil, err
	}
	payload, _ := json.Marshal(map[string]any{"cdr_id": record.ID, "session_id": sess.ID, "currency": record.Currency,
		"total_excl_vat": json.Number(record.TotalExclVAT), "total_incl_vat": json.Number(record.TotalInclVAT), "amount_minor": record.AmountMinor})
	end.CDR = record
	end.Events = []evbill.Event{{TenantID: sess.TenantID, Type: "cdr.created", Payload: payload}}
	return end, nil
}

// check returns the flags the readings earn: a register that runs
// backwards (including at the stop) or rises faster than the connector can
// deliver.
func check(sess *evbill.Session, samples []evbill.MeterSample, conn evbill.Connector) []string {
	maxKW := decimal.Zero // an unknown connector: only a backwards register is flagged
	if conn.MaxPowerKW != "" {
		maxKW, _ = money.ParseDecimal(conn.MaxPowerKW)
	}
	points := append([]evbill.MeterSample{{Time: sess.StartedAt, EnergyWh: sess.MeterStartWh}}, samples...)
	points = append(points, evbill.MeterSample{Time: *sess.StoppedAt, EnergyWh: sess.MeterStopWh})
	var flags []string
	var last evbill.MeterSample
	for _, p := range points {
		if p.EnergyWh == "" {
			continue
		}
		if last.EnergyWh != "" {
			if f, err := Plausibility(last, p, maxKW); err == nil && f != "" {
				flags = appendNew(flags, f)
			}
		}
		last = p
	}
	return flags
}

// price prices the ended session under the tariff version in force at its
// start, in its site's time zone, and writes its OCPI CDR.
func (s *Service) price(ctx context.Context, sess *evbill.Session, samples []evbill.MeterSample, sc pricing.StationContext, conn evbill.Connector) (*evbill.CDR, error) {
	version, tf, err := s.resolver.Version(ctx, sess.TenantID, sess.TariffID, sess.TariffVersion)
	if err != nil {
		return nil, err
	}
	station, site, loc := sc.Station, sc.Site, sc.Location
	m, err := metered(sess, samples, loc)
	if err != nil {
		return nil, err
	}
	result, periods, err := tf.PriceMetered(m, false)
	if err != nil {
		return nil, err
	}
	standard, powerType := "IEC_62196_T2", "AC_3_PHASE" // OCPI requires them; a connector record says better
	if conn.ID != "" {
		standard, powerType = conn.Standard, conn.PowerType
	}
	// DC connectors are fixed cables; an AC charger without a record of
	// its own is most often a socket.
	format := "SOCKET"
	if powerType == "DC" {
		format = "CABLE"
	}
	// The API takes only assigned codes; one that slipped in otherwise is
	// written as it is rather than holding the session's bill back.
	country, ok := cdr.CountryAlpha3(site.Country)
	if !ok {
		country = site.Country
	}
	h := &cdr.Header{
		CountryCode: s.party[0], PartyID: s.party[1], ID: evbill.NewID(evbill.PrefixCDR),
		Start: m.Start, End: m.End, SessionID: sess.ID,
		Token:      cdr.Token{CountryCode: s.party[0], PartyID: s.party[1], UID: sess.IDTag, Type: "RFID", ContractID: sess.IDTag},
		AuthMethod: "WHITELIST", Currency: tf.Currency.Code(), Tariffs: []json.RawMessage{version.Document}, LastUpdated: s.clock(),
		Location: cdr.Location{ID: site.ID, Name: site.Name, Address: site.Address, City: site.City, PostalCode: site.PostalCode,
			Country: country, EVSEUID: station.ID, EVSEID: station.ChargePointID, ConnectorID: strconv.Itoa(sess.ConnectorNumber),
			ConnectorStandard: standard, ConnectorFormat: format, ConnectorPowerType: powerType},
	}
	doc, err := cdr.AppendNew(nil, h, &tariff.Session{Start: m.Start, End: m.End, Periods: periods, Location: loc}, &result)
	if err != nil {
		return nil, err
	}
	excl, incl, err := result.Total.Round(4)
	if err != nil {
		return nil, err
	}
	ts := &tariff.Session{Start: m.Start, End: m.End, Periods: periods, Location: loc}
	explain := tariff.AppendExplanation(nil, tf, ts, &result)
	items, err := receipt.Itemize(tf, ts, &result)
	if err != nil {
		return nil, err
	}
	breakdown, err := json.Marshal(Breakdown{Explanation: string(explain), Itemization: &items})
	if err != nil {
		return nil, err
	}
	return &evbill.CDR{ID: h.ID, TenantID: sess.TenantID, SessionID: sess.ID, Currency: h.Currency,
		TotalExclVAT: excl.String(), TotalInclVAT: incl.String(), AmountMinor: result.Charge.Minor,
		Document: doc, Breakdown: breakdown}, nil
}

// metered turns a stored session and its readings into the engine's input.
func metered(sess *evbill.Session, samples []evbill.MeterSample, loc *time.Location) (*tariff.Metered, error) {
	start, err := money.ParseDecimal(sess.MeterStartWh)
	if err != nil {
		return nil, err
	}
	stop, err := money.ParseDecimal(sess.MeterStopWh)
	if err != nil {
		return nil, err
	}
	m := &tariff.Metered{Start: sess.StartedAt, MeterStartWh: start, End: *sess.StoppedAt, MeterStopWh: stop, HasMeterStop: true, Location: loc}
	last := start
	for _, ms := range samples {
		if ms.Time.Before(m.Start) || ms.Time.After(m.End) {
			continue // outside the transaction, as a drifting clock may report
		}
		ts := tariff.Sample{Time: ms.Time, EnergyWh: last}
		if ms.EnergyWh != "" {
			if ts.EnergyWh, err = money.ParseDecimal(ms.EnergyWh); err != nil {
				return nil, err
			}
			last = ts.EnergyWh
		}
		if ms.PowerW != "" {
			if ts.PowerW, err = money.ParseDecimal(ms.PowerW); err == nil {
				ts.HasPower = true
			}
		}
		if ms.CurrentA != "" {
			if ts.CurrentA, err = money.ParseDecimal(ms.CurrentA); err == nil {
				ts.HasCurrent = true
			}
		}
		m.Samples = append(m.Samples, ts)
	}
	if sess.ParkingStartedAt != nil && !sess.ParkingStartedAt.Before(m.Start) && !sess.ParkingStartedAt.After(m.End) {
		m.ParkingStart = *sess.ParkingStartedAt
	} else if at, ok := ParkingStart(samples, time.Time{}); ok && !at.After(m.End) && !at.Before(m.Start) {
		m.ParkingStart = at
	}
	return m, nil
}

// DataTransfer is answered UnknownVendorId: evbill takes no vendor data yet.
func (s *Service) DataTransfer(ctx context.Context, c *ocpp.Conn, req *ocpp.DataTransferReq) (*ocpp.DataTransferConf, error) {
	return &ocpp.DataTransferConf{Status: ocpp.DataTransferUnknownVendorId}, nil
}

// withoutFlag returns flags without flag.
func withoutFlag(flags []string, flag string) []string {
	return slices.DeleteFunc(flags, func(f string) bool { return f == flag })
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		found := false
		for _, x := range list {
			found = found || x == it
		}
		if !found {
			list = append(list, it)
		}
	}
	return list
}
