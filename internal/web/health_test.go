package web_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/monban-dev/monban"
)

func TestHealthAndReadiness(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		h.do(request{method: "GET", path: "/healthz"}).wantStatus(t, http.StatusOK)
		h.do(request{method: "GET", path: "/readyz"}).wantStatus(t, http.StatusOK)

		if err := h.n.DB.Close(); err != nil {
			t.Fatal(err)
		}
		// Not a timing assertion: the client gives up after 2 s, so a hung
		// probe fails the test instead of hanging it.
		h.c.Timeout = 2 * time.Second
		for _, lang := range []string{"en", "ja"} {
			r := h.do(request{method: "GET", path: "/readyz", lang: lang}).wantStatus(t, http.StatusServiceUnavailable)
			if p := r.problem(t); p.Key != "error.unavailable" || p.Code != "unavailable" {
				t.Errorf("%s: %+v", lang, p)
			}
			if r.header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
		}
		h.do(request{method: "GET", path: "/healthz"}).wantStatus(t, http.StatusOK)

		// Requests that need the database fail the same way, not with 500.
		r := h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro", "password": goodPassword}})
		if p := r.wantStatus(t, http.StatusServiceUnavailable).problem(t); p.Key != "error.unavailable" {
			t.Errorf("sign-in with the database closed: %+v", p)
		}
	})
}

func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t, "sqlite")
	r := h.do(request{method: "GET", path: "/api/openapi.yaml"}).wantStatus(t, http.StatusOK)
	if !bytes.Equal(r.body, monban.OpenAPI) || r.header.Get("Content-Type") != "application/yaml" {
		t.Errorf("served %d bytes as %q", len(r.body), r.header.Get("Content-Type"))
	}
}
