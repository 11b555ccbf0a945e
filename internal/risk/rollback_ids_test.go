package risk

import (
	"strings"
	"testing"

	"github.com/monban-dev/monban"
)

// A batch's ids look like monban.NewID's, share their first 48 bits (nine
// characters after the prefix) and differ after them; another batch's
// start elsewhere.
func TestBatchIDs(t *testing.T) {
	ids, other := batchIDs(), batchIDs()
	a, b, c := ids("ntc"), ids("ntc"), other("ntc")
	want := monban.NewID("ntc")
	for _, id := range []string{a, b, c} {
		if len(id) != len(want) || !strings.HasPrefix(id, "ntc_") || strings.ToLower(id) != id {
			t.Fatalf("id %q, want the form of %q", id, want)
		}
	}
	if a[:4+9] != b[:4+9] || a == b {
		t.Errorf("one batch's ids %q and %q: want a shared start and different ids", a, b)
	}
	if a[:4+9] == c[:4+9] {
		t.Errorf("two batches share a start: %q, %q", a, c)
	}
}
