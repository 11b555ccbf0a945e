package web

import (
	"net/http"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/oidc"
)

// OpenID Connect clients through the admin API (admin API keys only); the
// same as "monban admin clients add|list|remove".

type oidcClientJSON struct {
	ID             string    `json:"client_id"`
	Secret         string    `json:"client_secret,omitempty"` // once, on creation
	Name           string    `json:"name"`
	RedirectURIs   []string  `json:"redirect_uris"`
	PostLogoutURIs []string  `json:"post_logout_redirect_uris"`
	Scopes         []string  `json:"scopes"`
	Public         bool      `json:"public"`
	FirstParty     bool      `json:"first_party"`
	CreatedAt      time.Time `json:"created_at"`
}

func oidcClientOut(c *monban.OIDCClient) oidcClientJSON {
	j := oidcClientJSON{ID: c.ID, Name: c.Name, RedirectURIs: c.RedirectURIs, PostLogoutURIs: c.PostLogoutURIs,
		Scopes: c.Scopes, Public: c.Public, FirstParty: c.FirstParty, CreatedAt: c.CreatedAt}
	for _, p := range []*[]string{&j.RedirectURIs, &j.PostLogoutURIs, &j.Scopes} {
		if *p == nil {
			*p = []string{}
		}
	}
	return j
}

func (s *Server) oidcAdmin(r *http.Request) (*oidc.Service, monban.AuditEvent, error) {
	k, err := s.adminAPIKey(r)
	if err != nil {
		return nil, monban.AuditEvent{}, err
	}
	if s.oidc == nil || s.oidc.svc == nil {
		return nil, monban.AuditEvent{}, errNotFound()
	}
	ev := monban.AuditEvent{IP: clientIP(r), UserAgent: r.UserAgent()}
	ev.Detail = map[string]string{"api_key_id": k.ID}
	return s.oidc.svc, ev, nil
}

func (s *Server) apiOIDCClients(w http.ResponseWriter, r *http.Request) error {
	svc, _, err := s.oidcAdmin(r)
	if err != nil {
		return err
	}
	cs, err := svc.Clients(r.Context())
	if err != nil {
		return err
	}
	out := []oidcClientJSON{}
	for i := range cs {
		out = append(out, oidcClientOut(&cs[i]))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"clients": out})
}

func (s *Server) apiOIDCClientAdd(w http.ResponseWriter, r *http.Request) error {
	svc, ev, err := s.oidcAdmin(r)
	if err != nil {
		return err
	}
	var in struct {
		Name           string   `json:"name"`
		RedirectURIs   []string `json:"redirect_uris"`
		PostLogoutURIs []string `json:"post_logout_redirect_uris"`
		Scopes         []string `json:"scopes"`
		Public         bool     `json:"public"`
		FirstParty     bool     `json:"first_party"`
	}
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	c, secret, err := svc.AddClient(r.Context(), oidc.ClientInput{Name: in.Name, RedirectURIs: in.RedirectURIs,
		PostLogoutURIs: in.PostLogoutURIs, Scopes: in.Scopes, Public: in.Public, FirstParty: in.FirstParty}, ev)
	if err != nil {
		return err
	}
	out := oidcClientOut(c)
	out.Secret = secret
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) apiOIDCClientRemove(w http.ResponseWriter, r *http.Request) error {
	svc, ev, err := s.oidcAdmin(r)
	if err != nil {
		return err
	}
	err = svc.RemoveClient(r.Context(), r.PathValue("id"), ev)
	if monban.IsNotFound(err) {
		return monban.Errorf(monban.ENotFound, "oidc.client_not_found")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
