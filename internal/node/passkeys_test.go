package node

import (
	"strings"
	"testing"
)

// TestPasskeyParty: passkeys need a domain name. With passkeys on, an IP
// public_url is refused, saying why; in dev mode they are turned off so
// that serve --dev on 127.0.0.1 starts; passkeys: off never refuses.
func TestPasskeyParty(t *testing.T) {
	for _, c := range []struct {
		name, url, passkeys string
		dev                 bool
		rpID, origin, err   string
	}{
		{"domain", "https://id.example.jp", "", false, "id.example.jp", "https://id.example.jp", ""},
		{"localhost with port", "http://localhost:8080", "on", false, "localhost", "http://localhost:8080", ""},
		{"IPv4 refused", "http://192.0.2.10:8080", "", false, "", "", "is an IP address, and passkeys need a domain name"},
		{"IPv6 refused", "http://[2001:db8::1]:8080", "on", false, "", "", "passkeys: off"},
		{"IP in dev: off, still starts", "http://127.0.0.1:8080", "", true, "", "", ""},
		{"IP with passkeys off", "http://192.0.2.10", "off", false, "", "", ""},
		{"unknown setting", "https://id.example.jp", "yes", false, "", "", "passkeys must be on or off"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.PublicURL, cfg.Passkeys, cfg.Dev = c.url, c.passkeys, c.dev
			rp, origin, err := passkeyParty(cfg)
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("err = %v, want %q", err, c.err)
			}
			if rp != c.rpID || origin != c.origin {
				t.Fatalf("party = %q %q, want %q %q", rp, origin, c.rpID, c.origin)
			}
		})
	}
	if _, _, err := passkeyParty(DefaultConfig()); err != nil {
		t.Fatalf("the default configuration does not start: %v", err)
	}
}
