package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestPacedFaultsGoOutAtOnce: a paced route's answer from a fault of
// monban's (503 while the database is gone) is not held to the route's
// floor, while a refusal (401) on the same route still is. Pacing is about
// the wall-clock time a client sees, so this measures it; the floor is
// made long (200 ms) so that the two cases are far apart on a busy machine.
func TestPacedFaultsGoOutAtOnce(t *testing.T) {
	const pattern, floor = "POST /api/v1/sessions", 200 * time.Millisecond
	s := &Server{pacers: newPacers(floor)}
	status := http.StatusServiceUnavailable
	h := s.paced(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	call := func() (int, time.Duration) {
		start := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/sessions", nil))
		return rec.Code, time.Since(start)
	}
	for range 3 {
		if code, took := call(); code != http.StatusServiceUnavailable || took >= floor/2 {
			t.Fatalf("a 503 answered %d after %v, want 503 at once (under %v)", code, took, floor/2)
		}
	}
	status = http.StatusUnauthorized
	if code, took := call(); code != http.StatusUnauthorized || took < floor {
		t.Fatalf("a 401 answered %d after %v, want 401 held to the %v floor", code, took, floor)
	}
}
