package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/evbill/evbill"
)

// runRollups is the "rollups rebuild" command: it recomputes the rollups
// reports read from the sessions' CDRs and the refunds, for one tenant or
// every one. Each tenant is rebuilt in one transaction that holds back
// session ends and refunds until it commits (the OCPP path waits), so it
// is for a quiet hour: after a migration, a fix of the attribution rule,
// or a site that changed time zone.
func runRollups(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rebuild" {
		return evbill.Errorf(evbill.EINVALID, "rollups: usage: evbill rollups rebuild [--tenant NAME|ID]")
	}
	fs := flag.NewFlagSet("evbill rollups rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tenant := fs.String("tenant", "", "the tenant's `name or ID`; every tenant when empty")
	var sf storeFlags
	sf.register(fs, getenv)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return evbill.Errorf(evbill.EINVALID, "rollups: %v", err)
	}
	if fs.NArg() > 0 {
		return evbill.Errorf(evbill.EINVALID, "rollups: unexpected argument %q", fs.Arg(0))
	}
	store, where, err := sf.open(ctx, getenv)
	if err != nil {
		return err
	}
	defer store.Close()
	rs, ok := store.(evbill.RollupStore)
	if !ok {
		return fmt.Errorf("rollups: %s keeps no rollups", where)
	}
	var ids []string
	if *tenant == "" {
		if ids, err = rs.RollupTenants(ctx); err != nil {
			return err
		}
	} else {
		t, err := store.TenantByName(ctx, *tenant)
		if evbill.ErrorCode(err) == evbill.ENOTFOUND {
			t, err = store.Tenant(ctx, *tenant)
		}
		if evbill.ErrorCode(err) == evbill.ENOTFOUND {
			return evbill.Errorf(evbill.EINVALID, "rollups: no tenant is named or has the ID %q", *tenant)
		}
		if err != nil {
			return err
		}
		ids = []string{t.ID}
	}
	var total evbill.RollupRebuild
	for _, id := range ids {
		start := time.Now()
		r, err := rs.RebuildRollups(ctx, id)
		if err != nil {
			return fmt.Errorf("rollups: tenant %s: %w", id, err)
		}
		fmt.Fprintf(stdout, "tenant %s: %d sessions, %d refunds → %d rollup rows (%s)\n", id, r.Sessions, r.Refunds, r.Rows,
			time.Since(start).Round(time.Millisecond))
		total.Sessions, total.Refunds, total.Rows = total.Sessions+r.Sessions, total.Refunds+r.Refunds, total.Rows+r.Rows
	}
	fmt.Fprintf(stdout, "rebuilt the rollups of %d tenants in %s: %d sessions, %d refunds, %d rows\n", len(ids), where,
		total.Sessions, total.Refunds, total.Rows)
	return nil
}
