package web_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzAPIBodies throws arbitrary bodies at every JSON endpoint that takes
// one. Whatever arrives, the answer is never a 500, an error is always a
// problem+json with a translated detail, and nothing but a success (or the
// audit entry of a refused sign-in) changes the store.
func FuzzAPIBodies(f *testing.F) {
	for _, seed := range []string{
		`{"identifier":"@taro","password":"x"}`,
		`{"username":"ｔａｒｏ","password":"correct horse battery staple"}`,
		`{"token":"mbs_x"}`, `{"code":"１２３４５６"}`, `{"kind":"phone","channel":"sms"}`,
		`{`, `[]`, `null`, `{"password":{"a":1}}`, "{\"identifier\":\"\u0000\"}", `{"a":1}{"b":2}`,
	} {
		f.Add(seed, 0)
	}
	h := newHarness(f, "sqlite")
	acct := h.register(map[string]any{"username": "fuzzer", "password": "a quiet lake under the moonlight"})
	paths := []string{"/api/v1/accounts", "/api/v1/sessions", "/api/v1/introspect", "/api/v1/flows", "/api/v1/flows/flw_x/verify"}
	f.Fuzz(func(t *testing.T, body string, which int) {
		h := *h // the same node, reporting to this input's t
		h.t = t
		path := paths[uint(which)%uint(len(paths))]
		before := h.snapshot()
		r := h.do(request{method: http.MethodPost, path: path, body: body, bearer: acct.Token})
		if r.status >= 500 {
			t.Fatalf("POST %s %q: status %d: %s", path, body, r.status, r.body)
		}
		if r.status >= 400 {
			var p struct {
				Type, Detail, Key string
			}
			if err := json.Unmarshal(r.body, &p); err != nil || p.Type == "" || p.Detail == "" || p.Detail == p.Key {
				t.Fatalf("POST %s %q: %d answered without a translated problem: %s", path, body, r.status, r.body)
			}
			// Refused sign-ins are audited on purpose (the log of attempts
			// is how stuffing is seen); nothing else may change.
			after := h.snapshot()
			after.Audit = before.Audit
			if after != before {
				t.Fatalf("POST %s %q: refused (%d) but the store changed: %+v → %+v", path, body, r.status, before, after)
			}
		}
	})
}
