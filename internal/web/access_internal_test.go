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

// TestOpenAPISecurityMatchesPrincipals: docs/openapi.yaml asks for the
// credential the route table says each /api/ route takes: a session token
// for a person's (or a locked person's) routes, an API key for host and
// admin routes, none where the caller is anyone or proves itself in the
// body (a held sign-in, a transfer).
func TestOpenAPISecurityMatchesPrincipals(t *testing.T) {
	s, err := New(Config{}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[principal]string{whoPerson: "sessionToken", whoLocked: "sessionToken", whoHost: "apiKey", whoAdmin: "apiKey",
		whoAnyone: "", whoPending: "", whoTransfer: ""}
	doc := loadOpenAPI(t)
	for _, rt := range s.routes() {
		if !isAPIPattern(rt.pattern) {
			continue
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		op := doc.Paths[path][strings.ToLower(method)]
		if op == nil {
			continue // TestOpenAPIMatchesRoutes reports it
		}
		w, ok := want[rt.who]
		if !ok {
			t.Errorf("%s: no credential known for principal %q", rt.pattern, rt.who)
			continue
		}
		var got []string
		secs, _ := op["security"].([]any)
		for _, sec := range secs {
			m, _ := sec.(map[string]any)
			for name := range m {
				got = append(got, name)
			}
		}
		switch {
		case w == "" && len(got) > 0:
			t.Errorf("%s (%s): the document asks for %v, the route takes none", rt.pattern, rt.who, got)
		case w != "" && (len(got) != 1 || got[0] != w):
			t.Errorf("%s (%s): the document asks for %v, want %s", rt.pattern, rt.who, got, w)
		}
	}
}
