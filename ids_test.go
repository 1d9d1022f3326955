package evbill

import (
	"sort"
	"strings"
	"testing"
	"time"
)

func TestNewIDSortsByTime(t *testing.T) {
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, NewID(PrefixSite))
		time.Sleep(2 * time.Millisecond)
	}
	if !sort.StringsAreSorted(ids) {
		t.Errorf("IDs made over time do not sort: %v", ids)
	}
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := NewID(PrefixToken)
		if seen[id] || !strings.HasPrefix(id, "tok_") || len(id) != 30 {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}
