package web

import (
	"net/http"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/factors"
)

// sessionFrom is where a locked person's second-factor guess comes from:
// their session's device (its own counter once known) and the peer IP.
func sessionFrom(r *http.Request, cur *account.Current) factors.From {
	return factors.From{DeviceID: cur.Session.DeviceID, IP: clientIP(r)}
}

// The second-factor way out of a lock: a code from an authenticator app
// (a form) or a passkey (twostep.js, mode "unlock"); either lifts the lock
// at once. Offered only when the lock allows it.

// lockedSecond is what the page shows.
type lockedSecond struct {
	TOTP, Passkey bool
}

func (s *Server) lockedSecondView(w http.ResponseWriter, r *http.Request, cur *monban.Account) (*View, error) {
	v := s.view(w, r, "lock.second_title")
	v.SignedIn = true
	totp, err := s.factors.Has(r.Context(), cur.ID, monban.FactorTOTP)
	if err != nil {
		return nil, err
	}
	pk := false
	if s.factors.PasskeysEnabled() {
		if pk, err = s.factors.Has(r.Context(), cur.ID, monban.FactorPasskey); err != nil {
			return nil, err
		}
	}
	v.Data = lockedSecond{TOTP: totp, Passkey: pk}
	return v, nil
}

// pageLockedSecond offers the account's second factors.
func (s *Server) pageLockedSecond(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requireLocked(w, r)
	if !ok {
		return err
	}
	if !cur.Lock.Allows(monban.WaySecondFactor) {
		http.Redirect(w, r, "/locked", http.StatusSeeOther)
		return nil
	}
	v, err := s.lockedSecondView(w, r, cur.Account)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "locked_second", v)
	return nil
}

// pageLockedSecondSubmit checks an authenticator code and lifts the lock.
func (s *Server) pageLockedSecondSubmit(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requireLocked(w, r)
	if !ok {
		return err
	}
	code := r.PostFormValue("code")
	if err := fieldLimit("code", code, 32); err != nil {
		return err
	}
	if _, uerr := s.risk.UnlockWithTOTP(r.Context(), cur.Account.ID, code, sessionFrom(r, cur)); uerr != nil {
		v, err := s.lockedSecondView(w, r, cur.Account)
		if err != nil {
			return err
		}
		return s.formError(w, r, v, "locked_second", uerr)
	}
	http.Redirect(w, r, "/account?done=unlocked", http.StatusSeeOther)
	return nil
}

// pageLockedPasskeyOptions starts the passkey assertion (JSON).
func (s *Server) pageLockedPasskeyOptions(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkJSONCSRF(r); err != nil {
		return err
	}
	cur, err := s.lockedPage(r)
	if err != nil {
		return err
	}
	if cur == nil || cur.Lock == nil {
		return errNotLockedNow()
	}
	if !cur.Lock.Allows(monban.WaySecondFactor) {
		return monban.Errorf(monban.EForbidden, "lock.way_not_allowed")
	}
	opts, err := s.factors.BeginPasskeyCheck(r.Context(), cur.Account.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, opts)
}

// pageLockedPasskey checks the assertion and lifts the lock (JSON out:
// where to go next).
func (s *Server) pageLockedPasskey(w http.ResponseWriter, r *http.Request) error {
	body, ceremony, err := s.ceremonyBody(w, r)
	if err != nil {
		return err
	}
	cur, err := s.lockedPage(r)
	if err != nil {
		return err
	}
	if cur == nil || cur.Lock == nil {
		return errNotLockedNow()
	}
	if _, err := s.risk.UnlockWithPasskey(r.Context(), cur.Account.ID, ceremony, body); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"next": "/account?done=unlocked"})
}

// apiLockTOTP lifts a lock that allows a second factor with an
// authenticator code.
func (s *Server) apiLockTOTP(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.lockedAPI(r)
	if err != nil {
		return err
	}
	var req struct {
		Code string `json:"code"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if _, err := s.risk.UnlockWithTOTP(r.Context(), cur.Account.ID, req.Code, sessionFrom(r, cur)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"locked": false})
}

// errNotLockedNow answers a way out asked of an account not locked (or
// not signed in).
func errNotLockedNow() error { return monban.Errorf(monban.EConflict, "lock.not_active") }
