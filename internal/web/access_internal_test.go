package web

import (
	"strings"
	"testing"
)

// TestRouteWithoutPrincipal: a route that does not say who may call it, or
// names a principal the wrapper does not know, stops the server at
// start-up (buildMux, and so New, returns the error).
func TestRouteWithoutPrincipal(t *testing.T) {
	ok := route{pattern: "GET /fine", kind: kindPage, who: whoAnyone}
	for _, tc := range []struct {
		name string
		rt   route
		want string
	}{
		{"no principal", route{pattern: "GET /forgot", kind: kindPage}, `"GET /forgot" does not say who may call it`},
		{"unknown principal", route{pattern: "GET /odd", kind: kindAPI, who: "nobody"}, `unknown principal "nobody"`},
		{"raw with a principal", route{pattern: "GET /raw", kind: kindRaw, who: whoPerson}, "cannot have its caller resolved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRoutes([]route{ok, tc.rt})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("checkRoutes = %v, want an error with %q", err, tc.want)
			}
		})
	}
	if err := checkRoutes([]route{ok}); err != nil {
		t.Fatalf("a complete table refused: %v", err)
	}
}
