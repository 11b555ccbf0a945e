package web

import (
	"net/http"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
)

type signInRequest struct {
	Identifier string `json:"identifier"`
	Password   string `json:"password"`
	AccountID  string `json:"account_id"`
	DeviceID   string `json:"device_id"`
}

type choiceJSON struct {
	AccountID string `json:"account_id"`
	Username  string `json:"username,omitempty"`
	Email     string `json:"email,omitempty"`
}

func (s *Server) apiSignIn(w http.ResponseWriter, r *http.Request) error {
	var req signInRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := formLimits("identifier", req.Identifier, "account_id", req.AccountID); err != nil {
		return err
	}
	dev, err := appDevice(req.DeviceID)
	if err != nil {
		return err
	}
	res, err := s.accounts.SignIn(r.Context(), account.SignInInput{Identifier: req.Identifier, Password: req.Password,
		AccountID: req.AccountID, Meta: s.meta(r, monban.SessionApp, dev)})
	if err != nil {
		return err
	}
	if res.Held != nil {
		return writeJSON(w, http.StatusAccepted, heldJSON(res.Held))
	}
	if res.SignedIn == nil {
		out := struct {
			Choices []choiceJSON `json:"choose_account"`
		}{}
		for _, c := range res.Choices {
			out.Choices = append(out.Choices, choiceJSON(c))
		}
		return writeJSON(w, http.StatusMultipleChoices, out)
	}
	return writeJSON(w, http.StatusCreated, signedInJSON(res.SignedIn))
}

type sessionJSON struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Device     string    `json:"device"`
	DeviceID   string    `json:"device_id"`
	IP         string    `json:"ip"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
}

func (s *Server) apiSessions(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	ov, err := s.accounts.Overview(r.Context(), cur)
	if err != nil {
		return err
	}
	out := []sessionJSON{}
	for _, x := range ov.Sessions {
		out = append(out, sessionJSON{ID: x.ID, Kind: string(x.Kind), Device: account.DeviceLabel(x.UserAgent),
			DeviceID: x.DeviceID, IP: x.IP, CreatedAt: x.CreatedAt.UTC(), LastSeenAt: x.LastSeenAt.UTC(),
			ExpiresAt: s.accounts.IdleExpiry(&x).UTC(), Current: x.ID == cur.Session.ID})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

func (s *Server) apiRevokeSession(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	if err := s.accounts.RevokeSession(r.Context(), cur, r.PathValue("id"), s.meta(r, monban.SessionApp, cur.Session.DeviceID)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiSignOut(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	if err := s.accounts.SignOut(r.Context(), cur, s.meta(r, monban.SessionApp, cur.Session.DeviceID)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type deviceJSON struct {
	ID           string     `json:"id"`
	Kind         string     `json:"kind"`
	Label        string     `json:"label"`
	CreatedAt    time.Time  `json:"created_at"`
	LastSeenAt   time.Time  `json:"last_seen_at"`
	TrustedUntil *time.Time `json:"trusted_until,omitempty"`
	Current      bool       `json:"current"`
}

func (s *Server) apiDevices(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	ov, err := s.accounts.Overview(r.Context(), cur)
	if err != nil {
		return err
	}
	out := []deviceJSON{}
	for _, d := range ov.Devices {
		j := deviceJSON{ID: d.ID, Kind: string(d.Kind), Label: d.Label, CreatedAt: d.CreatedAt.UTC(),
			LastSeenAt: d.LastSeenAt.UTC(), Current: d.ID == cur.Session.DeviceID}
		if !d.TrustedUntil.IsZero() {
			t := d.TrustedUntil.UTC()
			j.TrustedUntil = &t
		}
		out = append(out, j)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"devices": out})
}

func (s *Server) apiRevokeDevice(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	if err := s.accounts.RevokeDevice(r.Context(), cur, r.PathValue("id"), s.meta(r, monban.SessionApp, cur.Session.DeviceID)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
