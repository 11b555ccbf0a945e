package web

import (
	"net/http"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
)

type identifierJSON struct {
	Kind     monban.IdentifierKind `json:"kind"`
	Value    string                `json:"value"`
	Verified bool                  `json:"verified"`
}

func identifiersJSON(ids []monban.Identifier) []identifierJSON {
	out := make([]identifierJSON, 0, len(ids))
	for _, id := range ids {
		out = append(out, identifierJSON{Kind: id.Kind, Value: id.Value, Verified: id.Verified})
	}
	return out
}

type sessionCreated struct {
	AccountID string    `json:"account_id"`
	SessionID string    `json:"session_id"`
	Token     string    `json:"token"`
	DeviceID  string    `json:"device_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

func signedInJSON(si *account.SignedIn) sessionCreated {
	return sessionCreated{AccountID: si.Account.ID, SessionID: si.Session.ID, Token: si.Token,
		DeviceID: si.DeviceID, ExpiresAt: si.Session.ExpiresAt.UTC()}
}

type registerRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Phone    string `json:"phone"`
	Password string `json:"password"`
	Lang     string `json:"lang"`
	DeviceID string `json:"device_id"`
}

// appDevice accepts an app-provided install key as the device id.
func appDevice(id string) (string, error) {
	if id == "" {
		return "", nil
	}
	if len(id) < 16 || len(id) > 64 {
		return "", monban.Errorf(monban.EInvalid, "request.device_id").WithField("device_id")
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", monban.Errorf(monban.EInvalid, "request.device_id").WithField("device_id")
		}
	}
	return "app_" + id, nil
}

func (s *Server) apiRegister(w http.ResponseWriter, r *http.Request) error {
	var req registerRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := formLimits("username", req.Username, "email", req.Email, "phone", req.Phone); err != nil {
		return err
	}
	dev, err := appDevice(req.DeviceID)
	if err != nil {
		return err
	}
	lang := req.Lang
	if lang == "" {
		lang = s.cat.Lang(r)
	}
	si, err := s.accounts.Register(r.Context(), account.RegisterInput{Username: req.Username, Email: req.Email,
		Phone: req.Phone, Password: req.Password, Lang: lang, Meta: s.meta(r, monban.SessionApp, dev)})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, signedInJSON(si))
}

type accountJSON struct {
	ID          string           `json:"id"`
	Status      string           `json:"status"`
	Lang        string           `json:"lang"`
	TwoStep     bool             `json:"two_step"`
	CreatedAt   time.Time        `json:"created_at"`
	Identifiers []identifierJSON `json:"identifiers"`
}

func (s *Server) apiAccount(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	ov, err := s.accounts.Overview(r.Context(), cur)
	if err != nil {
		return err
	}
	a := cur.Account
	return writeJSON(w, http.StatusOK, accountJSON{ID: a.ID, Status: string(a.Status), Lang: a.Lang, TwoStep: a.TwoStep,
		CreatedAt: a.CreatedAt.UTC(), Identifiers: identifiersJSON(ov.Identifiers)})
}
