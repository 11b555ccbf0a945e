package web

import (
	"net/http"

	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/factors"
)

// Factor changes as the security page and the app API both make them: the
// factors use case (which checks the recent password proof and writes the
// audit entry), then the factor.changed notice. Both paths call these, so
// neither can forget the notice.

func (s *Server) confirmTOTP(r *http.Request, cur *account.Current, a factors.Actor, id, code, name string) error {
	if err := s.factors.ConfirmTOTP(r.Context(), a, id, code, name); err != nil {
		return err
	}
	s.factorChanged(r, cur, "totp")
	return nil
}

func (s *Server) newRecoveryCodes(r *http.Request, cur *account.Current, a factors.Actor) ([]string, error) {
	codes, err := s.factors.GenerateRecoveryCodes(r.Context(), a)
	if err != nil {
		return nil, err
	}
	s.factorChanged(r, cur, "recovery_codes")
	return codes, nil
}

func (s *Server) addPasskey(r *http.Request, cur *account.Current, a factors.Actor, ceremony string, response []byte, name string) error {
	if _, err := s.factors.FinishPasskey(r.Context(), a, ceremony, response, name); err != nil {
		return err
	}
	s.factorChanged(r, cur, "passkey")
	return nil
}

func (s *Server) removeFactor(r *http.Request, cur *account.Current, a factors.Actor, id string) error {
	if err := s.factors.Remove(r.Context(), a, id); err != nil {
		return err
	}
	s.factorChanged(r, cur, "removed")
	return nil
}

// codesOnlyTwoStep reports whether turning 2-step on would leave SMS or
// email codes as the only second step, which the person must first be told
// about and accept (NIST SP 800-63B-4 §3.2.9).
func (s *Server) codesOnlyTwoStep(r *http.Request, cur *account.Current, on, accepted bool) (bool, error) {
	if !on || accepted {
		return false, nil
	}
	strong, err := s.factors.HasStrongFactor(r.Context(), cur.Account.ID)
	if err != nil {
		return false, err
	}
	return !strong, nil
}

// setTwoStep turns 2-step verification on or off and tells the person.
func (s *Server) setTwoStep(r *http.Request, cur *account.Current, a factors.Actor, on bool) error {
	if err := s.factors.SetTwoStep(r.Context(), a, on); err != nil {
		return err
	}
	s.factorChanged(r, cur, "two_step")
	return nil
}

// writePasskeyOptions starts adding a passkey for cur and answers with the
// WebAuthn creation options (for the page's script and for apps).
func (s *Server) writePasskeyOptions(w http.ResponseWriter, r *http.Request, cur *account.Current) error {
	a, err := s.actor(r, cur)
	if err != nil {
		return err
	}
	opts, err := s.factors.BeginPasskey(r.Context(), a, s.accountLabel(r, cur))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, opts)
}
