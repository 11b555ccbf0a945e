package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestPacedFaultsGoOutAtOnce: a paced route's answer from a fault of
// monban's (503 while the database is gone) is not held to the target, and
// its long duration does not raise the target of the answers after it; a
// refusal (401) is held as before.
func TestPacedFaultsGoOutAtOnce(t *testing.T) {
	const pattern = "POST /api/v1/sessions"
	s := &Server{pacers: newPacers(50 * time.Millisecond)}
	status, work := http.StatusServiceUnavailable, 120*time.Millisecond
	h := s.paced(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(work) // the handler's own work (a connect timeout), not a test wait
		w.WriteHeader(status)
	}))
	call := func() time.Duration {
		start := time.Now()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v1/sessions", nil))
		return time.Since(start)
	}
	for range 3 {
		if took := call(); took > work+40*time.Millisecond {
			t.Fatalf("a 503 took %v, want about its own work %v (not paced)", took, work)
		}
	}
	if got := s.pacers[pattern].Target(); got > 60*time.Millisecond {
		t.Fatalf("target after three slow 503s = %v, want the floor (50ms)", got)
	}
	status, work = http.StatusUnauthorized, 0
	if took := call(); took < 50*time.Millisecond {
		t.Fatalf("a 401 took %v, want at least the 50ms floor", took)
	}
}
