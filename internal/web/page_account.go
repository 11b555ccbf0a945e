package web

import (
	"net/http"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/identifier"
)

type identifierRow struct {
	Kind     monban.IdentifierKind
	Display  string
	Verified bool
}

type sessionRow struct {
	ID, Label, IP         string
	CreatedAt, LastSeenAt time.Time
	Current               bool
}

type deviceRow struct {
	ID, Label             string
	CreatedAt, LastSeenAt time.Time
	Current               bool
}

type accountPage struct {
	Identifiers []identifierRow
	Sessions    []sessionRow
	Devices     []deviceRow
	Unread      int // unread notices in the message center
}

// displayIdentifier shows a phone in national format, the rest as stored.
func displayIdentifier(id monban.Identifier) string {
	switch id.Kind {
	case monban.KindPhone:
		if p, err := identifier.NormalizePhone(id.Value, "JP"); err == nil {
			return p.National
		}
	case monban.KindUsername:
		return "@" + id.Value
	}
	return id.Value
}

func (s *Server) pageAccount(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.pageCurrent(r)
	if err != nil {
		return err
	}
	if cur == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil
	}
	ov, err := s.accounts.Overview(r.Context(), cur)
	if err != nil {
		return err
	}
	v := s.view(w, r, "account.title")
	v.SignedIn = true
	if k := doneKey(r.URL.Query().Get("done")); k != "" {
		v.Notice = v.T(k)
	}
	p := accountPage{}
	for _, id := range ov.Identifiers {
		p.Identifiers = append(p.Identifiers, identifierRow{Kind: id.Kind, Display: displayIdentifier(id), Verified: id.Verified})
	}
	for _, x := range ov.Sessions {
		p.Sessions = append(p.Sessions, sessionRow{ID: x.ID, Label: account.DeviceLabel(x.UserAgent), IP: x.IP,
			CreatedAt: x.CreatedAt, LastSeenAt: x.LastSeenAt, Current: x.ID == cur.Session.ID})
	}
	for _, d := range ov.Devices {
		p.Devices = append(p.Devices, deviceRow{ID: d.ID, Label: d.Label, CreatedAt: d.CreatedAt, LastSeenAt: d.LastSeenAt,
			Current: d.ID == cur.Session.DeviceID})
	}
	if _, p.Unread, err = s.noticeStore.NoticesByAccount(r.Context(), cur.Account.ID, 1); err != nil {
		return err
	}
	v.Data = p
	s.render(w, r, http.StatusOK, "account", v)
	return nil
}

func (s *Server) pageRevokeSession(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.pageCurrent(r)
	if err != nil {
		return err
	}
	if cur == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil
	}
	id := r.PathValue("id")
	if err := s.accounts.RevokeSession(r.Context(), cur, id, s.meta(r, monban.SessionWeb, s.deviceID(r))); err != nil {
		return err
	}
	if id == cur.Session.ID {
		s.clearSession(w)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
	return nil
}

// pageRevokeDevice signs a device out everywhere and forgets it.
func (s *Server) pageRevokeDevice(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	id := r.PathValue("id")
	if err := s.accounts.RevokeDevice(r.Context(), cur, id, s.meta(r, monban.SessionWeb, s.deviceID(r))); err != nil {
		return err
	}
	if id == cur.Session.DeviceID {
		s.clearSession(w)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
	return nil
}
