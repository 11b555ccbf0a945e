package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/factors"
)

// Second factors for native apps, behind the app's session token. Each
// change calls the same factors.Service use case as the security page
// (page_security.go), so it needs the same recent password proof
// (sign-in or POST /api/v1/session/reauth within the window), writes the
// same audit entry and sends the same factor.changed notice.

type factorJSON struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	Remaining  *int       `json:"remaining,omitempty"`
}

func factorOut(f monban.Factor) factorJSON {
	o := factorJSON{ID: f.ID, Kind: string(f.Kind), Name: f.Name, CreatedAt: f.CreatedAt.UTC()}
	if !f.LastUsedAt.IsZero() {
		t := f.LastUsedAt.UTC()
		o.LastUsedAt = &t
	}
	if f.Kind == monban.FactorRecoveryCodes {
		n := f.Remaining
		o.Remaining = &n
	}
	return o
}

// apiFactors lists the account's second factors, never their secrets.
func (s *Server) apiFactors(w http.ResponseWriter, r *http.Request) error {
	return s.writeFactors(w, r, http.StatusOK)
}

// writeFactors answers with the account's factors and 2-step state as they
// are now, read afresh after a change (removing the last strong factor
// turns 2-step off): the session is authenticated again rather than taken
// from the route's wrapper, whose account is from before the change.
func (s *Server) writeFactors(w http.ResponseWriter, r *http.Request, status int) error {
	cur, err := s.authBearer(r, r.Context())
	if err != nil {
		return err
	}
	fs, err := s.factors.List(r.Context(), cur.Account.ID)
	if err != nil {
		return err
	}
	out := []factorJSON{}
	for _, f := range fs {
		out = append(out, factorOut(f))
	}
	return writeJSON(w, status, map[string]any{"two_step": cur.Account.TwoStep, "factors": out})
}

// apiChange authenticates the app's session, says who is changing factors
// (and when the session last proved the password), and reads the JSON body
// into req unless it is nil.
func (s *Server) apiChange(w http.ResponseWriter, r *http.Request, req any) (*account.Current, factors.Actor, error) {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return nil, factors.Actor{}, err
	}
	if req != nil {
		if err := s.decodeJSON(w, r, req); err != nil {
			return nil, factors.Actor{}, err
		}
	}
	a, err := s.actor(r, cur)
	return cur, a, err
}

// apiReauth proves the password again for this session, as the
// re-authentication page does for a browser, so that factor changes may
// follow within the window.
func (s *Server) apiReauth(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Password string `json:"password"`
	}
	cur, _, err := s.apiChange(w, r, &req)
	if err != nil {
		return err
	}
	if err := s.twostep.Reauthenticate(r.Context(), cur, req.Password, s.meta(r, monban.SessionApp, cur.Session.DeviceID)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"recent_until": s.clock.Now().Add(s.factors.Config().ReauthWindow).UTC()})
}

// apiTOTPBegin creates an unconfirmed authenticator-app factor: it counts
// for nothing until a code from the app confirms it.
func (s *Server) apiTOTPBegin(w http.ResponseWriter, r *http.Request) error {
	cur, a, err := s.apiChange(w, r, nil)
	if err != nil {
		return err
	}
	en, err := s.factors.EnrolTOTP(r.Context(), a, s.accountLabel(r, cur))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]string{"id": en.FactorID, "secret": en.Secret, "otpauth_uri": en.URL})
}

// apiTOTPConfirm activates the app with its first code; a wrong code
// changes nothing.
func (s *Server) apiTOTPConfirm(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Code string `json:"code"`
		Name string `json:"name"`
	}
	cur, a, err := s.apiChange(w, r, &req)
	if err != nil {
		return err
	}
	if err := formLimits("code", req.Code, "name", req.Name); err != nil {
		return err
	}
	if err := s.confirmTOTP(r, cur, a, r.PathValue("id"), req.Code, req.Name); err != nil {
		return err
	}
	return s.writeFactors(w, r, http.StatusOK)
}

// apiRecoveryCodes makes ten new recovery codes, shown this once; the old
// set stops working.
func (s *Server) apiRecoveryCodes(w http.ResponseWriter, r *http.Request) error {
	cur, a, err := s.apiChange(w, r, nil)
	if err != nil {
		return err
	}
	codes, err := s.newRecoveryCodes(r, cur, a)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"codes": codes})
}

// apiPasskeyOptions starts registering a passkey: the WebAuthn creation
// options for the platform's passkey API and the ceremony id to send back.
func (s *Server) apiPasskeyOptions(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	return s.writePasskeyOptions(w, r, cur)
}

// apiPasskeyAdd checks the attestation response and stores the passkey.
func (s *Server) apiPasskeyAdd(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		CeremonyID string          `json:"ceremony_id"`
		Name       string          `json:"name"`
		Credential json.RawMessage `json:"credential"`
	}
	cur, a, err := s.apiChange(w, r, &req)
	if err != nil {
		return err
	}
	if err := formLimits("ceremony_id", req.CeremonyID, "name", req.Name); err != nil {
		return err
	}
	if err := s.addPasskey(r, cur, a, req.CeremonyID, req.Credential, req.Name); err != nil {
		return err
	}
	return s.writeFactors(w, r, http.StatusCreated)
}

// apiFactorRename names one of the account's factors.
func (s *Server) apiFactorRename(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
	}
	_, a, err := s.apiChange(w, r, &req)
	if err != nil {
		return err
	}
	if err := s.factors.Rename(r.Context(), a, r.PathValue("id"), req.Name); err != nil {
		return err
	}
	return s.writeFactors(w, r, http.StatusOK)
}

// apiFactorDelete removes one of the account's factors; removing the last
// authenticator app or passkey turns 2-step off, as on the security page.
func (s *Server) apiFactorDelete(w http.ResponseWriter, r *http.Request) error {
	cur, a, err := s.apiChange(w, r, nil)
	if err != nil {
		return err
	}
	if err := s.removeFactor(r, cur, a, r.PathValue("id")); err != nil {
		return err
	}
	return s.writeFactors(w, r, http.StatusOK)
}

// apiTwoStep turns 2-step verification on or off. Turning it on with SMS
// or email codes as the only second step needs codes_only, the API's
// answer to the page that explains the risk first.
func (s *Server) apiTwoStep(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		On        *bool `json:"on"`
		CodesOnly bool  `json:"codes_only"`
	}
	cur, a, err := s.apiChange(w, r, &req)
	if err != nil {
		return err
	}
	if req.On == nil {
		return monban.Errorf(monban.EInvalid, "request.field_missing").WithField("on").WithParams(map[string]any{"field": "on"})
	}
	weak, err := s.codesOnlyTwoStep(r, cur, *req.On, req.CodesOnly)
	if err != nil {
		return err
	}
	if weak {
		return monban.Errorf(monban.EConflict, "twostep.codes_only").WithField("codes_only")
	}
	if err := s.setTwoStep(r, cur, a, *req.On); err != nil {
		return err
	}
	return s.writeFactors(w, r, http.StatusOK)
}
