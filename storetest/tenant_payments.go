package storetest

import (
	"context"
	"math"
	"testing"

	"github.com/evbill/evbill"
)

// testTenantPayments: a new tenant follows the server's defaults (zeros);
// its settings are set, replaced and shown by every tenant read, refused
// out of bounds without change, ENOTFOUND for a missing tenant, and never
// seen by another tenant.
func testTenantPayments(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn, other := newTenant(t, s), newTenant(t, s)
	// reads checks that every read of the tenant shows want.
	reads := func(what string, want evbill.TenantPayments) {
		t.Helper()
		got, err := s.Tenant(ctx, tn.ID)
		noErr(t, "Tenant", err)
		equal(t, what+": Tenant", got.Payments, want)
		got, err = s.TenantByName(ctx, tn.Name)
		noErr(t, "TenantByName", err)
		equal(t, what+": TenantByName", got.Payments, want)
	}
	reads("a new tenant", evbill.TenantPayments{})

	set := evbill.TenantPayments{CardHold: 2500, AccountLimit: 250_000}
	noErr(t, "SetTenantPayments", s.SetTenantPayments(ctx, tn.ID, set))
	reads("after setting", set)
	edges := evbill.TenantPayments{CardHold: evbill.MaxCardHold, WalletMinimum: evbill.MaxWalletMinimum, AccountLimit: evbill.MaxAccountLimit}
	noErr(t, "SetTenantPayments at the maxima", s.SetTenantPayments(ctx, tn.ID, edges))
	reads("at the maxima", edges)
	low := evbill.TenantPayments{CardHold: evbill.MinCardHold, WalletMinimum: 1, AccountLimit: 1}
	noErr(t, "SetTenantPayments at the minima", s.SetTenantPayments(ctx, tn.ID, low))
	reads("at the minima", low)
	noErr(t, "SetTenantPayments", s.SetTenantPayments(ctx, tn.ID, set))

	for what, p := range map[string]evbill.TenantPayments{
		"a negative card hold":        {CardHold: -1},
		"a card hold under the least": {CardHold: evbill.MinCardHold - 1},
		"a card hold over the most":   {CardHold: evbill.MaxCardHold + 1},
		"the largest int64 hold":      {CardHold: math.MaxInt64},
		"a negative wallet minimum":   {WalletMinimum: -1},
		"a wallet minimum too large":  {WalletMinimum: evbill.MaxWalletMinimum + 1},
		"a negative account limit":    {AccountLimit: -1},
		"an account limit too large":  {AccountLimit: evbill.MaxAccountLimit + 1},
		"one bad field of three":      {CardHold: 5000, WalletMinimum: 500, AccountLimit: -5},
	} {
		if err := s.SetTenantPayments(ctx, tn.ID, p); evbill.ErrorCode(err) != evbill.EINVALID {
			t.Errorf("SetTenantPayments with %s: %v, want EINVALID", what, err)
		}
	}
	reads("after refusals", set)

	if err := s.SetTenantPayments(ctx, uniq(evbill.PrefixTenant), set); evbill.ErrorCode(err) != evbill.ENOTFOUND {
		t.Errorf("SetTenantPayments of a missing tenant: %v, want ENOTFOUND", err)
	}
	got, err := s.Tenant(ctx, other.ID)
	noErr(t, "Tenant", err)
	equal(t, "another tenant's settings", got.Payments, evbill.TenantPayments{})

	// The two settings of a tenant are written apart: neither clears the
	// other.
	site := newSite(t, s, tn.ID)
	t.Cleanup(func() { _ = s.SetAutoRegisterSite(context.Background(), tn.ID, "") })
	noErr(t, "SetAutoRegisterSite", s.SetAutoRegisterSite(ctx, tn.ID, site.ID))
	reads("after turning auto-registration on", set)
	all, err := s.AutoRegisterTenants(ctx)
	noErr(t, "AutoRegisterTenants", err)
	found := false
	for _, x := range all {
		if x.ID == tn.ID {
			found = true
			equal(t, "AutoRegisterTenants", x.Payments, set)
		}
	}
	if !found {
		t.Errorf("AutoRegisterTenants misses the tenant")
	}
	noErr(t, "SetTenantPayments back to the defaults", s.SetTenantPayments(ctx, tn.ID, evbill.TenantPayments{}))
	reads("back to the defaults", evbill.TenantPayments{})
	if got, _ := s.Tenant(ctx, tn.ID); got.AutoRegisterSiteID != site.ID {
		t.Errorf("SetTenantPayments changed AutoRegisterSiteID to %q", got.AutoRegisterSiteID)
	}
	noErr(t, "SetAutoRegisterSite off", s.SetAutoRegisterSite(ctx, tn.ID, ""))
}

// testCreateTenantPayments: a tenant may be created with its settings,
// which are checked as SetTenantPayments checks them; a refused tenant is
// not stored.
func testCreateTenantPayments(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn := evbill.Tenant{Name: uniq("tenant"), Payments: evbill.TenantPayments{CardHold: 10_000, WalletMinimum: 200}}
	noErr(t, "CreateTenant", s.CreateTenant(ctx, &tn))
	got, err := s.Tenant(ctx, tn.ID)
	noErr(t, "Tenant", err)
	equal(t, "the created tenant", got, tn)

	bad := evbill.Tenant{Name: uniq("tenant"), Payments: evbill.TenantPayments{CardHold: 50}}
	if err := s.CreateTenant(ctx, &bad); evbill.ErrorCode(err) != evbill.EINVALID {
		t.Fatalf("CreateTenant with a card hold of 50: %v, want EINVALID", err)
	}
	if _, err := s.TenantByName(ctx, bad.Name); evbill.ErrorCode(err) != evbill.ENOTFOUND {
		t.Errorf("a refused tenant was stored: %v", err)
	}
}
