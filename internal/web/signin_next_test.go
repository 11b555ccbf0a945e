package web

import "testing"

func TestSameOriginPath(t *testing.T) {
	for raw, want := range map[string]string{
		"/oauth/login?id=oar_1": "/oauth/login?id=oar_1",
		"/account":              "/account",
		"":                      "",
		"//evil.example/x":      "",
		"/\\evil.example":       "",
		"https://evil.example/": "",
		"javascript:alert(1)":   "",
		"account":               "",
		"/a\r\nSet-Cookie: x":   "",
		"/\tevil":               "",
		"/%0d%0a":               "/%0d%0a",
	} {
		if got := sameOriginPath(raw); got != want {
			t.Errorf("sameOriginPath(%q) = %q, want %q", raw, got, want)
		}
	}
}
