package web

import (
	"net/http"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/recovery"
)

// Login help and contact changes for native apps. The id of a recovery is
// its capability: it is returned only to the client that asked.

type recoveryJSON struct {
	ID         string `json:"id"`
	Step       string `json:"step"`
	Identifier string `json:"identifier"` // as the pages show it
	TwoStep    bool   `json:"two_step"`
	Message    string `json:"message"`
}

func (s *Server) recoveryJSON(r *http.Request, at *recovery.Attempt) recoveryJSON {
	lang := s.cat.Lang(r)
	msg := ""
	switch at.Step {
	case recovery.StepCode:
		msg = s.cat.T(lang, "recover.sent", map[string]any{"identifier": at.Recovery.Shown})
	case recovery.StepSecond:
		msg = s.cat.T(lang, "recover.second_lead", nil)
	case recovery.StepPassword:
		msg = s.cat.T(lang, "recover.password_lead", nil)
	case recovery.StepDone:
		msg = s.cat.T(lang, "recover.done", nil)
	}
	return recoveryJSON{ID: at.Recovery.ID, Step: string(at.Step), Identifier: at.Recovery.Shown, TwoStep: at.TwoStep, Message: msg}
}

func (s *Server) apiRecoveryAnswer(w http.ResponseWriter, r *http.Request, id string, status int) error {
	at, err := s.recovery.Get(r.Context(), id, "")
	if err != nil {
		return err
	}
	return writeJSON(w, status, s.recoveryJSON(r, at))
}

func (s *Server) apiStartRecovery(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Identifier string `json:"identifier"`
		Channel    string `json:"channel"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := formLimits("identifier", req.Identifier, "channel", req.Channel); err != nil {
		return err
	}
	m := s.recoveryMeta(r)
	m.DeviceID = ""
	rec, err := s.recovery.Start(r.Context(), recovery.StartInput{Identifier: req.Identifier, Channel: monban.Channel(req.Channel),
		Lang: s.cat.Lang(r), Meta: m})
	if err != nil {
		return err
	}
	return s.apiRecoveryAnswer(w, r, rec.ID, http.StatusAccepted)
}

func (s *Server) apiGetRecovery(w http.ResponseWriter, r *http.Request) error {
	return s.apiRecoveryAnswer(w, r, r.PathValue("id"), http.StatusOK)
}

type codeRequest struct {
	Kind string `json:"kind,omitempty"`
	Code string `json:"code"`
}

func (s *Server) decodeCode(w http.ResponseWriter, r *http.Request) (codeRequest, error) {
	var req codeRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return req, err
	}
	return req, formLimits("kind", req.Kind, "code", req.Code)
}

func (s *Server) apiRecoveryCode(w http.ResponseWriter, r *http.Request) error {
	req, err := s.decodeCode(w, r)
	if err != nil {
		return err
	}
	if _, err := s.recovery.VerifyCode(r.Context(), r.PathValue("id"), "", req.Code); err != nil {
		return err
	}
	return s.apiRecoveryAnswer(w, r, r.PathValue("id"), http.StatusOK)
}

func (s *Server) apiRecoverySecond(w http.ResponseWriter, r *http.Request) error {
	req, err := s.decodeCode(w, r)
	if err != nil {
		return err
	}
	if _, err := s.recovery.VerifySecond(r.Context(), r.PathValue("id"), "", clientIP(r), req.Kind, req.Code); err != nil {
		return err
	}
	return s.apiRecoveryAnswer(w, r, r.PathValue("id"), http.StatusOK)
}

func (s *Server) apiRecoveryPassword(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Password string `json:"password"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	m := s.recoveryMeta(r)
	m.DeviceID = ""
	if err := s.recovery.ResetPassword(r.Context(), r.PathValue("id"), req.Password, m); err != nil {
		return err
	}
	return s.apiRecoveryAnswer(w, r, r.PathValue("id"), http.StatusOK)
}

type changeJSON struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Destination string `json:"destination"` // masked
	Completed   bool   `json:"completed"`
}

func toChangeJSON(c *monban.ContactChange) changeJSON {
	return changeJSON{ID: c.ID, Kind: string(c.Kind), Destination: maskDestination(channelOf(c.Kind), c.NewValue),
		Completed: !c.CompletedAt.IsZero()}
}

func (s *Server) apiStartChange(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	var req struct {
		Kind     string `json:"kind"`
		Value    string `json:"value"`
		Password string `json:"password"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := formLimits("kind", req.Kind, "value", req.Value); err != nil {
		return err
	}
	c, err := s.recovery.StartChange(r.Context(), recovery.ChangeInput{AccountID: cur.Account.ID, SessionID: cur.Session.ID,
		Kind: monban.IdentifierKind(req.Kind), Value: req.Value, Password: req.Password, Lang: cur.Account.Lang,
		Meta: s.changeMeta(r, cur), Current: cur, Auth: s.meta(r, monban.SessionApp, cur.Session.DeviceID)})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toChangeJSON(c))
}

func (s *Server) apiVerifyChange(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	req, err := s.decodeCode(w, r)
	if err != nil {
		return err
	}
	c, err := s.recovery.ConfirmChange(r.Context(), cur.Account.ID, r.PathValue("id"), req.Code, s.changeMeta(r, cur))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toChangeJSON(c))
}

func (s *Server) apiUndoChange(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Token string `json:"token"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	m := s.recoveryMeta(r)
	m.DeviceID = ""
	rec, err := s.recovery.Undo(r.Context(), req.Token, s.cat.Lang(r), m)
	if err != nil {
		return err
	}
	return s.apiRecoveryAnswer(w, r, rec.ID, http.StatusOK)
}
