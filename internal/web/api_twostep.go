package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/twostep"
)

// The second step for native apps: POST /api/v1/sessions answers 202 with
// a pending sign-in (id, secret, ways); the app finishes it here with the
// secret, and answers approve-or-deny prompts with its own session.

type pendingJSON struct {
	ID        string    `json:"id"`
	Secret    string    `json:"secret,omitempty"`
	Reason    string    `json:"reason"`
	State     string    `json:"state,omitempty"`
	Ways      []string  `json:"ways"`
	ExpiresAt time.Time `json:"expires_at"`
}

func heldJSON(h *account.Held) map[string]any {
	return map[string]any{"pending_signin": pendingJSON{ID: h.ID, Secret: h.Secret, Reason: h.Reason, State: "pending",
		Ways: h.Ways, ExpiresAt: h.ExpiresAt.UTC()}}
}

type pendingRequest struct {
	Secret     string          `json:"secret"`
	Method     string          `json:"method"` // sms | email | totp | recovery_code | code
	Code       string          `json:"code"`
	Remember   bool            `json:"remember"`
	CeremonyID string          `json:"ceremony_id"`
	Credential json.RawMessage `json:"credential"`
}

func (s *Server) apiFinish(w http.ResponseWriter, r *http.Request) (twostep.Finish, pendingRequest, error) {
	var req pendingRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return twostep.Finish{}, req, err
	}
	if err := formLimits("secret", req.Secret, "code", req.Code); err != nil {
		return twostep.Finish{}, req, err
	}
	return twostep.Finish{ID: r.PathValue("id"), Secret: req.Secret, Remember: req.Remember, Lang: s.cat.Lang(r),
		Meta: s.meta(r, monban.SessionApp, "")}, req, nil
}

// apiPendingStatus reports the pending sign-in; once approved it finishes
// it and answers 201 with the session.
func (s *Server) apiPendingStatus(w http.ResponseWriter, r *http.Request) error {
	f, _, err := s.apiFinish(w, r)
	if err != nil {
		return err
	}
	p, si, err := s.twostep.Poll(r.Context(), f)
	if err != nil {
		return err
	}
	if si != nil {
		return writeJSON(w, http.StatusCreated, signedInJSON(si))
	}
	out := map[string]any{"pending_signin": pendingJSON{ID: p.ID, Reason: p.Reason,
		State: string(p.State), Ways: p.Ways, ExpiresAt: p.ExpiresAt.UTC()}}
	reach, err := s.twostep.Reach(r.Context(), p)
	if err != nil {
		return err
	}
	if reach != nil {
		out["reach"] = reach
	}
	return writeJSON(w, http.StatusOK, out)
}

// apiPendingCode sends a code by SMS or email.
func (s *Server) apiPendingCode(w http.ResponseWriter, r *http.Request) error {
	f, req, err := s.apiFinish(w, r)
	if err != nil {
		return err
	}
	flow, err := s.twostep.StartCode(r.Context(), f, req.Method)
	if err != nil {
		return err
	}
	s.notifyOutbox()
	st, err := s.codes.Status(r.Context(), flow.ID, flow.AccountID)
	if err != nil {
		return err
	}
	out := map[string]any{"channel": flow.Channel, "destination": st.Masked,
		"digits": st.Digits, "next_send_at": st.NextSendAt.UTC()}
	if p, err := s.twostep.Open(r.Context(), f.ID, f.Secret); err == nil {
		if reach, err := s.twostep.Reach(r.Context(), p); err == nil && reach != nil {
			out["reach"] = reach
		}
	}
	return writeJSON(w, http.StatusAccepted, out)
}

// apiPendingVerify finishes the sign-in with a code, a TOTP code or a
// recovery code.
func (s *Server) apiPendingVerify(w http.ResponseWriter, r *http.Request) error {
	f, req, err := s.apiFinish(w, r)
	if err != nil {
		return err
	}
	var si *account.SignedIn
	switch req.Method {
	case "code", twostep.WaySMS, twostep.WayEmail:
		si, err = s.twostep.VerifyCode(r.Context(), f, req.Code)
	case twostep.WayTOTP:
		si, err = s.twostep.VerifyTOTP(r.Context(), f, req.Code)
	case twostep.WayRecovery:
		si, err = s.twostep.UseRecoveryCode(r.Context(), f, req.Code)
	default:
		err = monban.Errorf(monban.EInvalid, "signin.way_unavailable").WithField("method")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, signedInJSON(si))
}

// apiPendingApproval asks the account's trusted sessions to approve.
func (s *Server) apiPendingApproval(w http.ResponseWriter, r *http.Request) error {
	f, _, err := s.apiFinish(w, r)
	if err != nil {
		return err
	}
	if _, err := s.twostep.AskApproval(r.Context(), f); err != nil {
		return err
	}
	s.notifyOutbox() // the link by email and SMS
	return writeJSON(w, http.StatusAccepted, map[string]any{"state": "pending",
		"expires_at": s.clock.Now().Add(s.twostep.Config().ApprovalLifetime).UTC()})
}

// apiPendingPasskeyOptions starts a passkey assertion for the sign-in.
func (s *Server) apiPendingPasskeyOptions(w http.ResponseWriter, r *http.Request) error {
	f, _, err := s.apiFinish(w, r)
	if err != nil {
		return err
	}
	accountID, err := s.twostep.PasskeyAccount(r.Context(), f)
	if err != nil {
		return err
	}
	opts, err := s.factors.BeginPasskeyCheck(r.Context(), accountID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, opts)
}

// apiPendingPasskey finishes the sign-in with a passkey assertion.
func (s *Server) apiPendingPasskey(w http.ResponseWriter, r *http.Request) error {
	f, req, err := s.apiFinish(w, r)
	if err != nil {
		return err
	}
	si, err := s.twostep.VerifyPasskey(r.Context(), f, req.CeremonyID, req.Credential)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, signedInJSON(si))
}

// apiApprovals lists the prompts the app's session may answer.
func (s *Server) apiApprovals(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	ps, err := s.twostep.Prompts(r.Context(), cur)
	if err != nil {
		return err
	}
	type promptOut struct {
		ID        string    `json:"id"`
		Reason    string    `json:"reason"`
		Device    string    `json:"device"`
		IP        string    `json:"ip"`
		At        time.Time `json:"at"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	out := []promptOut{}
	for _, p := range ps {
		out = append(out, promptOut{ID: p.ID, Reason: p.Reason, Device: p.Device, IP: p.IP, At: p.At.UTC(), ExpiresAt: p.ExpiresAt.UTC()})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"approvals": out})
}

// apiDecideApproval approves or denies a prompt.
func (s *Server) apiDecideApproval(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	var req struct {
		Decision string `json:"decision"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Decision != "approve" && req.Decision != "deny" {
		return monban.Errorf(monban.EInvalid, "approval.decision").WithField("decision")
	}
	if err := s.twostep.Decide(r.Context(), cur, r.PathValue("id"), req.Decision == "approve",
		s.meta(r, monban.SessionApp, cur.Session.DeviceID)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
