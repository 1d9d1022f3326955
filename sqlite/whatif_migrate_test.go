package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/evbill/evbill/sqlite"
	"github.com/evbill/evbill/storetest"
)

// TestWhatIfLegacyRecords runs migration 18's backfill over CDRs stored
// through EndSession and checks that a what-if over the legacy records it
// makes gives what the records EndSession wrote give.
func TestWhatIfLegacyRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "evbill.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	migration, err := os.ReadFile("schema/00018_cdr_periods.sql")
	if err != nil {
		t.Fatal(err)
	}
	storetest.RunWhatIfLegacy(t, s, migration, func(query string) error {
		_, err := raw.Exec(query)
		return err
	})
}
