package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkIntrospect: one host-app session check (POST /api/v1/introspect)
// through the node's whole handler chain on SQLite, without the network:
// what each check costs the server in time and allocations. The load test
// (`monban bench whoami`) measures the same path over loopback HTTP.
//
//	go test ./internal/web -run '^$' -bench Introspect -benchmem
func BenchmarkIntrospect(b *testing.B) {
	h := newHarness(b, "sqlite")
	a := h.register(map[string]any{"username": "bench_taro", "password": goodPassword})
	key := h.hostKey(false)
	body, _ := json.Marshal(map[string]string{"token": a.Token})
	handler := h.srv.Config.Handler
	req := func() *http.Request {
		r := httptest.NewRequest("POST", "/api/v1/introspect", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+key)
		r.RemoteAddr = "127.0.0.1:40000"
		return r
	}
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, req())
	if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"active":true`)) {
		b.Fatalf("introspect: %d %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req())
		if w.Code != http.StatusOK {
			b.Fatalf("introspect: %d %s", w.Code, w.Body)
		}
	}
}
