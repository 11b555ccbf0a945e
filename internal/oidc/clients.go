package oidc

import (
	"context"
	"crypto/subtle"
	"net"
	"net/url"
	"strings"

	"github.com/monban-dev/monban"
)

// ClientInput registers a relying party.
type ClientInput struct {
	Name           string
	RedirectURIs   []string
	PostLogoutURIs []string
	Scopes         []string // beyond openid; default profile email phone offline_access
	Public         bool
	FirstParty     bool
}

// DefaultScopes are what a client may ask for unless told otherwise.
var DefaultScopes = []string{"profile", "email", "phone", "offline_access"}

// SecretPrefix marks client secrets so leaked ones are recognisable.
const SecretPrefix = "mbcs_"

func invalid(key, field string) error {
	return monban.Errorf(monban.EInvalid, key).WithField(field)
}

// checkRedirect accepts an absolute URI without a fragment: https for
// anyone; http only on a loopback host; a private-use scheme (com.example.app:/cb)
// only for public (native) clients.
func checkRedirect(raw string, public bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Fragment != "" || strings.ContainsAny(raw, " \t\r\n") || len(raw) > 512 {
		return invalid("oidc.redirect_invalid", "redirect_uris")
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return invalid("oidc.redirect_invalid", "redirect_uris")
		}
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return invalid("oidc.redirect_http", "redirect_uris")
		}
	default:
		if !public || !strings.Contains(u.Scheme, ".") {
			return invalid("oidc.redirect_scheme", "redirect_uris")
		}
	}
	return nil
}

// AddClient registers a client. The secret (confidential clients only) is
// returned once and stored as a hash.
func (s *Service) AddClient(ctx context.Context, in ClientInput, by monban.AuditEvent) (*monban.OIDCClient, string, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 100 {
		return nil, "", invalid("oidc.name_invalid", "name")
	}
	if len(in.RedirectURIs) == 0 || len(in.RedirectURIs) > 20 {
		return nil, "", invalid("oidc.redirect_invalid", "redirect_uris")
	}
	for _, u := range append(append([]string{}, in.RedirectURIs...), in.PostLogoutURIs...) {
		if err := checkRedirect(u, in.Public); err != nil {
			return nil, "", err
		}
	}
	if in.Scopes == nil {
		in.Scopes = DefaultScopes
	}
	for _, sc := range in.Scopes {
		if sc == "" || len(sc) > 64 || strings.ContainsAny(sc, " \t\r\n\"\\") {
			return nil, "", invalid("oidc.scope_invalid", "scopes")
		}
	}
	c := &monban.OIDCClient{ID: monban.NewID("cli"), Name: in.Name, RedirectURIs: in.RedirectURIs,
		PostLogoutURIs: in.PostLogoutURIs, Scopes: in.Scopes, Public: in.Public, FirstParty: in.FirstParty,
		CreatedAt: s.clock.Now()}
	var secret string
	if !in.Public {
		var err error
		if secret, err = s.randomToken(SecretPrefix); err != nil {
			return nil, "", err
		}
		c.SecretHash = hash(secret)
	}
	by.At, by.Action = c.CreatedAt, monban.AuditOIDCClientAdded
	by.Detail = map[string]string{"client_id": c.ID, "name": c.Name}
	if err := s.store.CreateOIDCClient(ctx, c, by); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// Clients lists the registered clients.
func (s *Service) Clients(ctx context.Context) ([]monban.OIDCClient, error) {
	return s.store.OIDCClients(ctx)
}

// RemoveClient deletes a client and revokes every token it holds.
func (s *Service) RemoveClient(ctx context.Context, id string, by monban.AuditEvent) error {
	now := s.clock.Now()
	by.At, by.Action = now, monban.AuditOIDCClientRemoved
	by.Detail = map[string]string{"client_id": id}
	return s.store.DeleteOIDCClient(ctx, id, now, by)
}

// checkSecret compares a presented client secret with the stored hash in
// constant time.
func checkSecret(c *monban.OIDCClient, secret string) bool {
	if c.Public || c.SecretHash == nil || secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare(hash(secret), c.SecretHash) == 1
}

// Client returns the registered client id, or ENotFound.
func (s *Service) Client(ctx context.Context, id string) (*monban.OIDCClient, error) {
	return s.store.OIDCClient(ctx, id)
}
