package api

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"pgregory.net/rapid"

	"github.com/evbill/evbill/sqlite"
)

// TestConnectorStandardsTag keeps the enum tags, which Go requires to be
// literals, equal to the one list of OCPI connector types.
func TestConnectorStandardsTag(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[connectorCreate](), reflect.TypeFor[connectorPatch]()} {
		f, _ := typ.FieldByName("Standard")
		if got := f.Tag.Get("enum"); got != connectorStandards {
			t.Errorf("%s.Standard enum tag differs from connectorStandards", typ.Name())
		}
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[stationCreate](), reflect.TypeFor[stationPatch]()} {
		f, _ := typ.FieldByName("ChargePointID")
		if f.Tag.Get("pattern") != chargePointIDPattern || f.Tag.Get("patternDescription") != chargePointIDRule {
			t.Errorf("%s.ChargePointID tags differ from chargePointIDPattern", typ.Name())
		}
	}
}

func TestDecimalJSON(t *testing.T) {
	for in, want := range map[string]string{"0.1": "0.1", "7.40": "7.40", "22": "22", "-3": "-3", "1.5e2": "150", "150.123456789012345": "150.123456789012345",
		"0.1000000000000000000000": "0.1000000000000000000", "1e-19": "0.0000000000000000001"} {
		var d Decimal
		if err := json.Unmarshal([]byte(in), &d); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		out, _ := json.Marshal(d)
		if string(out) != want {
			t.Errorf("%s → %s, want %s", in, out, want)
		}
	}
	for _, in := range []string{`"1"`, `null`, `true`} {
		var d Decimal
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("%s decoded as %s", in, d)
		}
	}
	// Numbers that cannot be held exactly decode, and Resolve reports them
	// at their field.
	for _, in := range []string{`12345678901234567890.5`, `1e-30`, `0.00000000000000000001`, `1.5e-19`, `1e99999999999999999999`, `1e999999999`, `-1E+400`} {
		var d Decimal
		if err := json.Unmarshal([]byte(in), &d); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		pb := huma.NewPathBuffer(nil, 0)
		pb.Push("body")
		pb.Push("x")
		errs := d.Resolve(nil, pb)
		if len(errs) != 1 || errs[0].(*huma.ErrorDetail).Location != "body.x" {
			t.Errorf("%s decoded as %s without a problem: %v", in, d, errs)
		}
	}
	// Any decimal round-trips exactly through JSON.
	rapid.Check(t, func(t *rapid.T) {
		var d Decimal
		s := rapid.StringMatching(`-?(0|[1-9][0-9]{0,8})(\.[0-9]{1,9})?`).Draw(t, "n")
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(d)
		if string(out) != s && !(strings.HasPrefix(s, "-0") && string(out) == s[1:]) {
			t.Fatalf("%s → %s", s, out)
		}
	})
}

func TestMinutes(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "1": time.Minute, "90": 90 * time.Minute, "0.5": 30 * time.Second, "0.001": 60 * time.Millisecond} {
		var fe fieldErrors
		var d Decimal
		_ = json.Unmarshal([]byte(in), &d)
		if got := minutes(&fe, "x", d); got != want || len(fe) != 0 {
			t.Errorf("minutes(%s) = %v %v, want %v", in, got, fe, want)
		}
	}
	for _, in := range []string{"0.00001", "-1"} {
		var fe fieldErrors
		var d Decimal
		_ = json.Unmarshal([]byte(in), &d)
		if minutes(&fe, "x", d); len(fe) != 1 {
			t.Errorf("minutes(%s) accepted", in)
		}
	}
}

func TestKeyedMutex(t *testing.T) {
	var k keyedMutex
	var wg sync.WaitGroup
	var counts [3]int // one per name: only that name's lock guards it
	var inside sync.Map
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := []string{"a", "b", "c"}[i%3]
			unlock := k.lock(name)
			defer unlock()
			if _, busy := inside.LoadOrStore(name, true); busy {
				t.Error("two holders of one name")
			}
			counts[i%3]++ // a data race, which -race reports, unless the lock excludes
			inside.Delete(name)
		}()
	}
	wg.Wait()
	if counts[0]+counts[1]+counts[2] != 200 {
		t.Fatalf("counts %v", counts)
	}
	if len(k.m) != 0 {
		t.Fatalf("%d entries left after every unlock", len(k.m))
	}
}

// TestPoolMetrics exports the real SQLite store's connection counts.
func TestPoolMetrics(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "evbill.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reg := prometheus.NewRegistry()
	if _, err := newMetrics(reg, store); err != nil {
		t.Fatal(err)
	}
	open, inUse, idle := store.PoolStats()
	if open < 1 || open != inUse+idle {
		t.Fatalf("pool stats %d open, %d in use, %d idle", open, inUse, idle)
	}
	want := fmt.Sprintf(`
# HELP evbill_db_connections Database connections in the pool, by state (open = in_use + idle).
# TYPE evbill_db_connections gauge
evbill_db_connections{state="idle"} %d
evbill_db_connections{state="in_use"} %d
evbill_db_connections{state="open"} %d
`, idle, inUse, open)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "evbill_db_connections"); err != nil {
		t.Fatal(err)
	}
	// A store without a pool exports no pool series.
	reg2 := prometheus.NewRegistry()
	if _, err := newMetrics(reg2, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if n, _ := testutil.GatherAndCount(reg2, "evbill_db_connections"); n != 0 {
		t.Fatalf("%d pool series without a pool", n)
	}
}

func TestHumaErrorDropsValues(t *testing.T) {
	p := humaError(422, "validation failed", &huma.ErrorDetail{Message: "expected length >= 16", Location: "body.password", Value: "hunter2"},
		&huma.ErrorDetail{Message: "expected required property name to be present", Location: "body"}).(*Problem)
	if p.Type != ProblemBase+"invalid" || len(p.Errors) != 2 || p.Errors[0].Value != nil || p.Errors[1].Location != "body.name" {
		t.Fatalf("%+v", p)
	}
	if p := humaError(500, "boom: password=x", nil).(*Problem); p.Detail != "internal error" || len(p.Errors) != 0 {
		t.Fatalf("500 shows %+v", p)
	}
}
