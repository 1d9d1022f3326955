package storetest

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill"
)

// UserFullStore is a store with sessions and the dashboard's reads: what
// RunUsers tests.
type UserFullStore interface {
	FullStore
	evbill.DashboardStore
}

// RunUsers runs the conformance suite of evbill.UserStore (the dashboard's
// users and login sessions) and evbill.DashboardStore (the overview's
// reads) as parallel subtests of t. Like Run it makes its own tenants and
// users with unique emails, so it can share a database with other runs;
// DeleteExpiredUserSessions, which takes every tenant's, is checked only
// for the suite's own sessions.
func RunUsers(t *testing.T, open func(t *testing.T) UserFullStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s UserFullStore)
	}{
		{"Users", testUsers},
		{"UsersRefused", testUsersRefused},
		{"UserPassword", testUserPassword},
		{"UserSessions", testUserSessions},
		{"UserSessionsExpire", testUserSessionsExpire},
		{"UserSessionsRefused", testUserSessionsRefused},
		{"SiteTimeZones", testSiteTimeZones},
		{"BilledBetween", testBilledBetween},
		{"OpenSessions", testOpenSessionList},
		{"RecentSessions", testRecentSessions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// email returns an address no other test, run or process uses.
func email(name string) string { return strings.ToLower(uniq(name)) + "@example.com" }

func tokenHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func newUser(t testing.TB, s evbill.UserStore, tenantID string, role evbill.Role, hash string) evbill.User {
	t.Helper()
	u := evbill.User{TenantID: tenantID, Email: email("user"), Role: role}
	noErr(t, "CreateUser", s.CreateUser(t.Context(), &u, []byte(hash)))
	return u
}

func userID(u evbill.User) string { return u.ID }

func testUsers(t *testing.T, s UserFullStore) {
	ctx := t.Context()
	tn := newTenant(t, s)
	in := evbill.User{ID: "ignored", TenantID: tn.ID, Email: "  " + strings.ToUpper(email("ada")) + " ", Role: evbill.RoleOperator}
	u := in
	hash := []byte("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5")
	noErr(t, "CreateUser", s.CreateUser(ctx, &u, hash))
	hasPrefix(t, "ID", u.ID, evbill.PrefixUser)
	storeTime(t, "CreatedAt", u.CreatedAt)
	equal(t, "UpdatedAt", u.UpdatedAt, u.CreatedAt)
	equal(t, "Email", u.Email, strings.ToLower(strings.TrimSpace(in.Email)))

	got, err := s.User(ctx, tn.ID, u.ID)
	noErr(t, "User", err)
	equal(t, "User", got, u)

	// The login form's address, typed in any case, finds the user in
	// whichever tenant it is, with the hash exactly as stored.
	got, gotHash, err := s.UserByEmail(ctx, strings.ToUpper(u.Email))
	noErr(t, "UserByEmail", err)
	equal(t, "UserByEmail", got, u)
	equal(t, "UserByEmail hash", gotHash, hash)
	_, _, err = s.UserByEmail(ctx, email("nobody"))
	wantCode(t, "UserByEmail of an unknown address", err, evbill.ENOTFOUND, "")
	_, _, err = s.UserByEmail(ctx, "not an address")
	wantCode(t, "UserByEmail of garbage", err, evbill.ENOTFOUND, "")

	// Another tenant's user answers as a missing one.
	other := newTenant(t, s)
	_, err = s.User(ctx, other.ID, u.ID)
	wantCode(t, "User of another tenant", err, evbill.ENOTFOUND, "")
	_, err = s.User(ctx, tn.ID, "usr_nope")
	wantCode(t, "User unknown", err, evbill.ENOTFOUND, "")

	more := []evbill.User{u}
	for _, role := range []evbill.Role{evbill.RoleAdmin, evbill.RoleFinance, evbill.RoleReadonly} {
		more = append(more, newUser(t, s, tn.ID, role, "h"))
	}
	newUser(t, s, other.ID, evbill.RoleAdmin, "h")
	want := sortBy(userID, more...)
	paginate(t, "ListUsers", 3, func(p evbill.Page) ([]evbill.User, error) { return s.ListUsers(ctx, tn.ID, p) }, userID,
		func() []string {
			ids := make([]string, len(want))
			for i, x := range want {
				ids[i] = x.ID
			}
			return ids
		}())
	all, err := s.ListUsers(ctx, tn.ID, evbill.Page{})
	noErr(t, "ListUsers", err)
	equal(t, "ListUsers", all, want)
}

func testUsersRefused(t *testing.T, s UserFullStore) {
	ctx := t.Context()
	tn := newTenant(t, s)
	u := newUser(t, s, tn.ID, evbill.RoleAdmin, "h")
	other := newTenant(t, s)
	for name, tc := range map[string]struct {
		u    evbill.User
		hash string
		code string
		msg  string
	}{
		"the same email":                {evbill.User{TenantID: tn.ID, Email: u.Email, Role: evbill.RoleReadonly}, "h", evbill.ECONFLICT, "email"},
		"the same email in other case":  {evbill.User{TenantID: tn.ID, Email: strings.ToUpper(u.Email), Role: evbill.RoleReadonly}, "h", evbill.ECONFLICT, "email"},
		"the email in another tenant":   {evbill.User{TenantID: other.ID, Email: u.Email, Role: evbill.RoleReadonly}, "h", evbill.ECONFLICT, "email"},
		"no email":                      {evbill.User{TenantID: tn.ID, Role: evbill.RoleReadonly}, "h", evbill.EINVALID, "email"},
		"not an address":                {evbill.User{TenantID: tn.ID, Email: "ada", Role: evbill.RoleReadonly}, "h", evbill.EINVALID, "email"},
		"an address with spaces":        {evbill.User{TenantID: tn.ID, Email: "a da@example.com", Role: evbill.RoleReadonly}, "h", evbill.EINVALID, "email"},
		"two @":                         {evbill.User{TenantID: tn.ID, Email: "a@b@example.com", Role: evbill.RoleReadonly}, "h", evbill.EINVALID, "email"},
		"an unknown role":               {evbill.User{TenantID: tn.ID, Email: email("r"), Role: "owner"}, "h", evbill.EINVALID, "role"},
		"no password hash":              {evbill.User{TenantID: tn.ID, Email: email("p"), Role: evbill.RoleReadonly}, "", evbill.EINVALID, "password"},
		"no tenant":                     {evbill.User{Email: email("t"), Role: evbill.RoleReadonly}, "h", evbill.EINVALID, "tenant_id"},
		"a tenant that does not exist":  {evbill.User{TenantID: "ten_nope", Email: email("t"), Role: evbill.RoleReadonly}, "h", evbill.EINVALID, "tenant_id"},
		"an address longer than allows": {evbill.User{TenantID: tn.ID, Email: strings.Repeat("a", 250) + "@example.com", Role: evbill.RoleReadonly}, "h", evbill.EINVALID, "email"},
	} {
		x := tc.u
		wantCode(t, "CreateUser with "+name, s.CreateUser(ctx, &x, []byte(tc.hash)), tc.code, tc.msg)
	}
	all, err := s.ListUsers(ctx, tn.ID, evbill.Page{})
	noErr(t, "ListUsers", err)
	equal(t, "users after refusals", all, []evbill.User{u})
}

func testUserPassword(t *testing.T, s UserFullStore) {
	ctx := t.Context()
	tn := newTenant(t, s)
	u := newUser(t, s, tn.ID, evbill.RoleOperator, "old")
	keep := newUser(t, s, tn.ID, evbill.RoleOperator, "other")
	exp := time.Now().Add(time.Hour)
	for i, id := range []string{u.ID, u.ID, keep.ID} {
		noErr(t, "CreateUserSession", s.CreateUserSession(ctx, &evbill.UserSession{TenantID: tn.ID, UserID: id, ExpiresAt: exp}, tokenHash(fmt.Sprint(tn.ID, i))))
	}
	noErr(t, "SetUserPassword", s.SetUserPassword(ctx, tn.ID, u.ID, []byte("new")))
	got, hash, err := s.UserByEmail(ctx, u.Email)
	noErr(t, "UserByEmail", err)
	equal(t, "hash after SetUserPassword", string(hash), "new")
	if !got.UpdatedAt.After(u.UpdatedAt) && !got.UpdatedAt.Equal(u.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v before %v", got.UpdatedAt, u.UpdatedAt)
	}
	storeTime(t, "UpdatedAt", got.UpdatedAt)
	// Whoever knew the old password is logged out; others are not.
	for i := range 2 {
		_, _, err := s.UserSessionByHash(ctx, tokenHash(fmt.Sprint(tn.ID, i)), time.Now())
		wantCode(t, "a session of the user after a new password", err, evbill.ENOTFOUND, "")
	}
	_, owner, err := s.UserSessionByHash(ctx, tokenHash(fmt.Sprint(tn.ID, 2)), time.Now())
	noErr(t, "another user's session after a new password", err)
	equal(t, "its user", owner.ID, keep.ID)

	other := newTenant(t, s)
	wantCode(t, "SetUserPassword of another tenant's user", s.SetUserPassword(ctx, other.ID, u.ID, []byte("x")), evbill.ENOTFOUND, "")
	wantCode(t, "SetUserPassword of an unknown user", s.SetUserPassword(ctx, tn.ID, "usr_nope", []byte("x")), evbill.ENOTFOUND, "")
	wantCode(t, "SetUserPassword without a hash", s.SetUserPassword(ctx, tn.ID, u.ID, nil), evbill.EINVALID, "password")
	if _, hash, _ := s.UserByEmail(ctx, u.Email); string(hash) != "new" {
		t.Errorf("hash after refused changes: %q", hash)
	}
}

func testUserSessions(t *testing.T, s UserFullStore) {
	ctx := t.Context()
	tn := newTenant(t, s)
	u := newUser(t, s, tn.ID, evbill.RoleFinance, "h")
	exp := time.Now().Add(12*time.Hour + 789)
	in := evbill.UserSession{ID: "ignored", TenantID: tn.ID, UserID: u.ID, ExpiresAt: exp}
	us := in
	h := tokenHash(uniq("token"))
	noErr(t, "CreateUserSession", s.CreateUserSession(ctx, &us, h))
	hasPrefix(t, "ID", us.ID, evbill.PrefixUserSession)
	storeTime(t, "CreatedAt", us.CreatedAt)
	equal(t, "ExpiresAt", us.ExpiresAt, norm(exp))

	got, gotUser, err := s.UserSessionByHash(ctx, h, time.Now())
	noErr(t, "UserSessionByHash", err)
	equal(t, "UserSessionByHash", got, us)
	equal(t, "its user", gotUser, u)

	_, _, err = s.UserSessionByHash(ctx, tokenHash("another token"), time.Now())
	wantCode(t, "UserSessionByHash of another token", err, evbill.ENOTFOUND, "")

	noErr(t, "DeleteUserSession", s.DeleteUserSession(ctx, h))
	_, _, err = s.UserSessionByHash(ctx, h, time.Now())
	wantCode(t, "UserSessionByHash after the logout", err, evbill.ENOTFOUND, "")
	noErr(t, "DeleteUserSession again", s.DeleteUserSession(ctx, h))
}

func testUserSessionsExpire(t *testing.T, s UserFullStore) {
	ctx := t.Context()
	tn := newTenant(t, s)
	u := newUser(t, s, tn.ID, evbill.RoleReadonly, "h")
	soon, later := time.Now().Add(time.Hour), time.Now().Add(3*time.Hour)
	short, long := tokenHash(uniq("short")), tokenHash(uniq("long"))
	a := evbill.UserSession{TenantID: tn.ID, UserID: u.ID, ExpiresAt: soon}
	b := evbill.UserSession{TenantID: tn.ID, UserID: u.ID, ExpiresAt: later}
	noErr(t, "CreateUserSession", s.CreateUserSession(ctx, &a, short))
	noErr(t, "CreateUserSession", s.CreateUserSession(ctx, &b, long))

	// A session is valid before its expiry, never at or after it.
	_, _, err := s.UserSessionByHash(ctx, short, a.ExpiresAt.Add(-time.Microsecond))
	noErr(t, "UserSessionByHash just before its expiry", err)
	_, _, err = s.UserSessionByHash(ctx, short, a.ExpiresAt)
	wantCode(t, "UserSessionByHash at its expiry", err, evbill.ENOTFOUND, "")
	_, _, err = s.UserSessionByHash(ctx, short, a.ExpiresAt.Add(time.Minute))
	wantCode(t, "UserSessionByHash after its expiry", err, evbill.ENOTFOUND, "")

	n, err := s.DeleteExpiredUserSessions(ctx, soon.Add(time.Minute))
	noErr(t, "DeleteExpiredUserSessions", err)
	if n < 1 {
		t.Errorf("DeleteExpiredUserSessions removed %d sessions, want at least the test's one", n)
	}
	// Gone for good: even a clock turned back does not find it.
	_, _, err = s.UserSessionByHash(ctx, short, time.Now())
	wantCode(t, "an expired session after the sweep", err, evbill.ENOTFOUND, "")
	_, _, err = s.UserSessionByHash(ctx, long, soon.Add(time.Minute))
	noErr(t, "a session not yet expired after the sweep", err)
}

func testUserSessionsRefused(t *testing.T, s UserFullStore) {
	ctx := t.Context()
	tn := newTenant(t, s)
	u := newUser(t, s, tn.ID, evbill.RoleAdmin, "h")
	other := newTenant(t, s)
	h := tokenHash(uniq("token"))
	exp := time.Now().Add(time.Hour)
	noErr(t, "CreateUserSession", s.CreateUserSession(ctx, &evbill.UserSession{TenantID: tn.ID, UserID: u.ID, ExpiresAt: exp}, h))
	for name, tc := range map[string]struct {
		us   evbill.UserSession
		hash []byte
		code string
		msg  string
	}{
		"the same token":        {evbill.UserSession{TenantID: tn.ID, UserID: u.ID, ExpiresAt: exp}, h, evbill.ECONFLICT, "token hash"},
		"no token":              {evbill.UserSession{TenantID: tn.ID, UserID: u.ID, ExpiresAt: exp}, nil, evbill.EINVALID, "token hash"},
		"an unknown user":       {evbill.UserSession{TenantID: tn.ID, UserID: "usr_nope", ExpiresAt: exp}, tokenHash(uniq("t")), evbill.EINVALID, "user_id"},
		"another tenant's user": {evbill.UserSession{TenantID: other.ID, UserID: u.ID, ExpiresAt: exp}, tokenHash(uniq("t")), evbill.EINVALID, "user_id"},
		"no user":               {evbill.UserSession{TenantID: tn.ID, ExpiresAt: exp}, tokenHash(uniq("t")), evbill.EINVALID, "user_id"},
		"an expiry in the past": {evbill.UserSession{TenantID: tn.ID, UserID: u.ID, ExpiresAt: time.Now().Add(-time.Second)}, tokenHash(uniq("t")), evbill.EINVALID, "expire"},
		"no expiry":             {evbill.UserSession{TenantID: tn.ID, UserID: u.ID}, tokenHash(uniq("t")), evbill.EINVALID, "expire"},
		"no tenant":             {evbill.UserSession{UserID: u.ID, ExpiresAt: exp}, tokenHash(uniq("t")), evbill.EINVALID, "tenant_id"},
	} {
		x := tc.us
		wantCode(t, "CreateUserSession with "+name, s.CreateUserSession(ctx, &x, tc.hash), tc.code, tc.msg)
	}
}

func testSiteTimeZones(t *testing.T, s UserFullStore) {
	ctx := t.Context()
	tn := newTenant(t, s)
	zones, err := s.SiteTimeZones(ctx, tn.ID)
	noErr(t, "SiteTimeZones without sites", err)
	if len(zones) != 0 {
		t.Errorf("SiteTimeZones without sites: %q", zones)
	}
	for _, z := range []string{"Europe/Berlin", "America/New_York", "Europe/Berlin", ""} {
		site := evbill.Site{TenantID: tn.ID, Name: "s", TimeZone: z}
		noErr(t, "CreateSite", s.CreateSite(ctx, &site))
	}
	other := newTenant(t, s)
	noErr(t, "CreateSite", s.CreateSite(ctx, &evbill.Site{TenantID: other.ID, Name: "s", TimeZone: "Asia/Tokyo"}))
	zones, err = s.SiteTimeZones(ctx, tn.ID)
	noErr(t, "SiteTimeZones", err)
	equal(t, "SiteTimeZones", zones, []string{"", "America/New_York", "Europe/Berlin"})
}

// billedWorld is a tenant with a site in Amsterdam and one in New York,
// a station at each, and a tariff.
type billedWorld struct {
	sessionWorld
	nySite    evbill.Site
	nyStation evbill.Station
}

func newBilledWorld(t *testing.T, s UserFullStore) billedWorld {
	w := billedWorld{sessionWorld: newSessionWorld(t, s)}
	w.nySite = evbill.Site{TenantID: w.tenant.ID, Name: "Midtown", TimeZone: "America/New_York"}
	noErr(t, "CreateSite", s.CreateSite(t.Context(), &w.nySite))
	w.nyStation = newStation(t, s, w.tenant.ID, w.nySite.ID)
	return w
}

// billed stores an ended session at the station, from meter start to
// stop (Wh, decimal text), with a CDR of amount in currency, and returns
// the CDR as stored.
func billed(t *testing.T, s UserFullStore, w billedWorld, stationID string, n int, start, stop, currency string, amount int64) evbill.CDR {
	t.Helper()
	ss := w.session(1, n)
	ss.StationID, ss.MeterStartWh = stationID, start
	ss = startNew(t, s, ss)
	at := ss.StartedAt.Add(time.Hour)
	ss.MeterStopWh, ss.StoppedAt, ss.StopReason = stop, &at, "Local"
	c := evbill.CDR{Currency: currency, TotalExclVAT: "1.0000", TotalInclVAT: "1.2100", AmountMinor: amount,
		Document: []byte(`{}`), Breakdown: []byte(`[]`)}
	noErr(t, "EndSession", s.EndSession(t.Context(), &ss, &c, nil))
	return c
}

func testBilledBetween(t *testing.T, s UserFullStore) {
	ctx := t.Context()
	w := newBilledWorld(t, s)
	from := time.Now().Add(-time.Second)
	none, err := s.BilledBetween(ctx, w.tenant.ID, "Europe/Amsterdam", from, from.Add(time.Hour))
	noErr(t, "BilledBetween of nothing", err)
	if len(none) != 0 {
		t.Errorf("BilledBetween of nothing: %+v", none)
	}

	a := billed(t, s, w, w.station.ID, 0, "1000", "8000.5", "EUR", 871)
	billed(t, s, w, w.station2.ID, 1, "0.125", "0.25", "EUR", 29)
	billed(t, s, w, w.station.ID, 2, "10", "1010", "SEK", 1250)
	billed(t, s, w, w.nyStation.ID, 3, "0", "5000", "USD", 400)
	// A session without a CDR is billed nothing.
	open := startNew(t, s, w.session(2, 4))
	stop := open.StartedAt.Add(time.Hour)
	open.MeterStopWh, open.StoppedAt = "99999", &stop
	noErr(t, "EndSession without a CDR", s.EndSession(ctx, &open, nil, nil))
	// Another tenant's CDR in the same zone counts for that tenant alone.
	w2 := newBilledWorld(t, s)
	billed(t, s, w2, w2.station.ID, 0, "0", "1", "EUR", 5)
	to := time.Now().Add(time.Second)

	got, err := s.BilledBetween(ctx, w.tenant.ID, "Europe/Amsterdam", from, to)
	noErr(t, "BilledBetween", err)
	equal(t, "Amsterdam's CDRs", got, []evbill.BilledTotal{
		{Currency: "EUR", AmountMinor: 900, CDRs: 2, EnergyMilliWh: 7_000_500 + 125},
		{Currency: "SEK", AmountMinor: 1250, CDRs: 1, EnergyMilliWh: 1_000_000},
	})
	got, err = s.BilledBetween(ctx, w.tenant.ID, "America/New_York", from, to)
	noErr(t, "BilledBetween", err)
	equal(t, "New York's CDRs", got, []evbill.BilledTotal{{Currency: "USD", AmountMinor: 400, CDRs: 1, EnergyMilliWh: 5_000_000}})
	got, err = s.BilledBetween(ctx, w.tenant.ID, "Asia/Tokyo", from, to)
	noErr(t, "BilledBetween", err)
	if len(got) != 0 {
		t.Errorf("a zone without sites: %+v", got)
	}

	// The range is [from, to): a CDR made at to is not in it, one made
	// at from is.
	got, err = s.BilledBetween(ctx, w.tenant.ID, "Europe/Amsterdam", from, a.CreatedAt)
	noErr(t, "BilledBetween", err)
	if len(got) != 0 {
		t.Errorf("CDRs before the first: %+v", got)
	}
	got, err = s.BilledBetween(ctx, w.tenant.ID, "Europe/Amsterdam", a.CreatedAt, a.CreatedAt.Add(time.Microsecond))
	noErr(t, "BilledBetween", err)
	equal(t, "the first CDR alone", got, []evbill.BilledTotal{{Currency: "EUR", AmountMinor: 871, CDRs: 1, EnergyMilliWh: 7_000_500}})
}

func testOpenSessionList(t *testing.T, s UserFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	n, err := s.OpenSessionCount(ctx, w.tenant.ID)
	noErr(t, "OpenSessionCount", err)
	equal(t, "OpenSessionCount of none", n, 0)
	var open []evbill.Session
	for i := range 4 {
		ss := startNew(t, s, w.session(1+i, i))
		open = append(open, ss)
	}
	parked := open[1]
	parked.State = evbill.SessionParking
	park := parked.StartedAt.Add(time.Minute)
	parked.ParkingStartedAt = &park
	noErr(t, "UpdateSession", s.UpdateSession(ctx, &parked))
	open[1] = parked
	ended := open[2]
	stop := ended.StartedAt.Add(time.Hour)
	ended.MeterStopWh, ended.StoppedAt = "2000", &stop
	noErr(t, "EndSession", s.EndSession(ctx, &ended, nil, nil))
	open = slices.Delete(open, 2, 3)
	w2 := newSessionWorld(t, s)
	startNew(t, s, w2.session(1, 0))

	n, err = s.OpenSessionCount(ctx, w.tenant.ID)
	noErr(t, "OpenSessionCount", err)
	equal(t, "OpenSessionCount", n, 3)
	got, err := s.OpenSessionList(ctx, w.tenant.ID, 2)
	noErr(t, "OpenSessionList", err)
	// Newest first by ID, which sorts by creation only to the millisecond.
	slices.SortFunc(open, func(a, b evbill.Session) int { return strings.Compare(b.ID, a.ID) })
	want := []evbill.SessionListItem{
		{Session: open[0], ChargePointID: w.station.ChargePointID},
		{Session: open[1], ChargePointID: w.station.ChargePointID},
	}
	equal(t, "OpenSessionList", got, want)
}

func testRecentSessions(t *testing.T, s UserFullStore) {
	ctx := t.Context()
	w := newBilledWorld(t, s)
	var all []evbill.SessionListItem
	for i := range 5 {
		ss := w.session(1, i)
		if i%2 == 1 {
			ss.StationID = w.nyStation.ID
		}
		ss = startNew(t, s, ss)
		item := evbill.SessionListItem{Session: ss, ChargePointID: w.station.ChargePointID}
		if i%2 == 1 {
			item.ChargePointID = w.nyStation.ChargePointID
		}
		if i < 3 {
			stop := ss.StartedAt.Add(time.Hour)
			ss.MeterStopWh, ss.StoppedAt = "5000", &stop
			c := evbill.CDR{Currency: "EUR", TotalExclVAT: "1.0000", TotalInclVAT: "1.2100", AmountMinor: int64(100 + i), Document: []byte(`{}`), Breakdown: []byte(`[]`)}
			if i == 2 {
				noErr(t, "EndSession without a CDR", s.EndSession(ctx, &ss, nil, nil))
			} else {
				noErr(t, "EndSession", s.EndSession(ctx, &ss, &c, nil))
				item.CDRID, item.Currency, item.AmountMinor = c.ID, c.Currency, c.AmountMinor
			}
			item.Session = ss
		}
		all = append(all, item)
	}
	w2 := newSessionWorld(t, s)
	startNew(t, s, w2.session(1, 0))
	// Newest first by ID, which sorts by creation only to the millisecond.
	slices.SortFunc(all, func(a, b evbill.SessionListItem) int { return strings.Compare(b.Session.ID, a.Session.ID) })

	got, err := s.RecentSessions(ctx, w.tenant.ID, "", 2)
	noErr(t, "RecentSessions", err)
	equal(t, "the newest page", got, all[:2])
	got, err = s.RecentSessions(ctx, w.tenant.ID, got[1].Session.ID, 2)
	noErr(t, "RecentSessions", err)
	equal(t, "the next page", got, all[2:4])
	got, err = s.RecentSessions(ctx, w.tenant.ID, got[1].Session.ID, 2)
	noErr(t, "RecentSessions", err)
	equal(t, "the last page", got, all[4:])
	got, err = s.RecentSessions(ctx, w.tenant.ID, got[0].Session.ID, 2)
	noErr(t, "RecentSessions", err)
	if len(got) != 0 {
		t.Errorf("after the last page: %+v", got)
	}
	got, err = s.RecentSessions(ctx, w.tenant.ID, "", 0)
	noErr(t, "RecentSessions", err)
	equal(t, "a page of the default size", got, all)
}
