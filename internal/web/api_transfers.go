package web

import (
	"net/http"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/transfer"
)

// Transfers for native apps (the same steps as the /transfer pages) and
// the host app's read of a transfer's state.

type transferRequest struct {
	Secret     string `json:"secret"`
	Password   string `json:"password"`
	Identifier string `json:"identifier"`
	AccountID  string `json:"account_id"`
	DeviceID   string `json:"device_id"`
	Code       string `json:"code"`
	TransferID string `json:"transfer_id"`
	Phone      string `json:"phone"`
	Way        string `json:"way"`
	Method     string `json:"method"`
	Lang       string `json:"lang"`
}

func (s *Server) transferRequest(w http.ResponseWriter, r *http.Request) (transferRequest, error) {
	var req transferRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return req, err
	}
	return req, formLimits("secret", req.Secret, "identifier", req.Identifier, "account_id", req.AccountID,
		"code", req.Code, "transfer_id", req.TransferID, "phone", req.Phone, "way", req.Way, "method", req.Method)
}

// apiTransferOffer: the signed-in old device asks for a binding code.
func (s *Server) apiTransferOffer(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	req, err := s.transferRequest(w, r)
	if err != nil {
		return err
	}
	o, err := s.transfer.Offer(r.Context(), cur, req.Password, s.meta(r, monban.SessionApp, cur.Session.DeviceID))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"transfer_id": o.Transfer.ID, "code": o.Code, "url": o.URL,
		"expires_at": o.Transfer.ExpiresAt.UTC()})
}

// apiTransferReceive: the new device enters the binding code and gets the
// account's session.
func (s *Server) apiTransferReceive(w http.ResponseWriter, r *http.Request) error {
	req, err := s.transferRequest(w, r)
	if err != nil {
		return err
	}
	dev, err := appDevice(req.DeviceID)
	if err != nil {
		return err
	}
	d, err := s.transfer.Redeem(r.Context(), transfer.Redeem{Code: req.Code, TransferID: req.TransferID, AccountID: req.AccountID,
		Meta: s.meta(r, monban.SessionApp, dev)})
	if err != nil {
		return err
	}
	s.notifyOutbox()
	return writeJSON(w, http.StatusCreated, transferDoneJSON(d))
}

type transferDone struct {
	sessionCreated
	TransferID   string   `json:"transfer_id"`
	Method       string   `json:"method"`
	EndedDevices []string `json:"ended_devices"`
}

func transferDoneJSON(d *transfer.Done) transferDone {
	ended := d.Ended
	if ended == nil {
		ended = []string{}
	}
	return transferDone{sessionCreated: signedInJSON(d.SignedIn), TransferID: d.Transfer.ID, Method: d.Transfer.Method, EndedDevices: ended}
}

// apiTransferStart: identifier and password on the new device.
func (s *Server) apiTransferStart(w http.ResponseWriter, r *http.Request) error {
	req, err := s.transferRequest(w, r)
	if err != nil {
		return err
	}
	dev, err := appDevice(req.DeviceID)
	if err != nil {
		return err
	}
	st, err := s.transfer.Start(r.Context(), transfer.StartInput{Identifier: req.Identifier, Password: req.Password,
		AccountID: req.AccountID, Meta: s.meta(r, monban.SessionApp, dev), Lang: req.Lang})
	if err != nil {
		return err
	}
	if st.Transfer == nil {
		out := struct {
			Choices []choiceJSON `json:"choose_account"`
		}{}
		for _, c := range st.Choices {
			out.Choices = append(out.Choices, choiceJSON(c))
		}
		return writeJSON(w, http.StatusMultipleChoices, out)
	}
	h := transfer.Handle{ID: st.Transfer.ID, Secret: st.Secret}
	tv, err := s.transfer.View(r.Context(), h)
	if err != nil {
		return err
	}
	out := s.transferViewJSON(r, tv)
	out["secret"] = st.Secret
	return writeJSON(w, http.StatusCreated, out)
}

// apiHandle reads the transfer id (path) and secret (body).
func (s *Server) apiHandle(w http.ResponseWriter, r *http.Request) (transfer.Handle, transferRequest, error) {
	req, err := s.transferRequest(w, r)
	if err != nil {
		return transfer.Handle{}, req, err
	}
	lang := req.Lang
	if lang == "" {
		lang = s.cat.Lang(r)
	}
	return transfer.Handle{ID: r.PathValue("id"), Secret: req.Secret, Meta: s.meta(r, monban.SessionApp, ""), Lang: lang}, req, nil
}

func (s *Server) transferViewJSON(r *http.Request, tv *transfer.View) map[string]any {
	out := map[string]any{"id": tv.Transfer.ID, "state": string(tv.State), "phone": tv.Phone,
		"phone_confirmed": tv.PhoneConfirmed, "ways": orEmpty(tv.Ways), "other_sessions": tv.Sessions,
		"approval": string(tv.Approval), "attempts_left": tv.AttemptsLeft, "support_url": tv.SupportURL,
		"expires_at": tv.Transfer.ExpiresAt.UTC()}
	if !tv.ResetAt.IsZero() {
		out["attempts_reset_at"] = tv.ResetAt.UTC()
	}
	if tv.Grant != nil {
		out["grant_expires_at"] = tv.Grant.ExpiresAt.UTC()
	}
	if tv.Code != nil {
		c := map[string]any{"channel": tv.Code.Flow.Channel, "destination": tv.Code.Masked}
		if len(tv.Code.Messages) > 0 {
			c["status"] = tv.Code.Messages[0].Status
			c["status_text"] = s.cat.T(s.cat.Lang(r), "status."+string(tv.Code.Messages[0].Status), nil)
		}
		out["code"] = c
	}
	if tv.Reach != nil {
		out["reach"] = tv.Reach
	}
	return out
}

func orEmpty(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// apiTransferStatus returns the transfer as the new device sees it; once
// another session approved, it completes and returns the session.
func (s *Server) apiTransferStatus(w http.ResponseWriter, r *http.Request) error {
	h, _, err := s.apiHandle(w, r)
	if err != nil {
		return err
	}
	tv, err := s.transfer.View(r.Context(), h)
	if err != nil {
		return err
	}
	if tv.State == monban.TransferApproved || tv.State == monban.TransferPending && tv.Approval == monban.PendingApproved {
		d, err := s.transfer.Complete(r.Context(), h)
		if err != nil {
			return err
		}
		s.notifyOutbox()
		return writeJSON(w, http.StatusCreated, transferDoneJSON(d))
	}
	return writeJSON(w, http.StatusOK, s.transferViewJSON(r, tv))
}

// apiTransferPhone checks the typed number ("confirm": false shows it back
// only) or confirms it.
func (s *Server) apiTransferPhone(w http.ResponseWriter, r *http.Request) error {
	h, req, err := s.apiHandle(w, r)
	if err != nil {
		return err
	}
	pc, err := s.transfer.CheckPhone(r.Context(), h, req.Phone)
	if err != nil {
		return err
	}
	out := map[string]any{"typed": pc.Typed, "e164": pc.E164, "matches": pc.Matches, "confirmed": false}
	if pc.Guard != nil {
		if e, ok := monban.AsError(pc.Guard); ok {
			out["sms_refused"] = map[string]string{"key": e.Key, "detail": s.cat.T(s.cat.Lang(r), e.Key, e.Params)}
		}
	}
	if req.Method == "confirm" {
		if err := s.transfer.ConfirmPhone(r.Context(), h, req.Phone); err != nil {
			return err
		}
		out["confirmed"] = true
	}
	return writeJSON(w, http.StatusOK, out)
}

// apiTransferCode sends the transfer code (way sms) or an email code.
func (s *Server) apiTransferCode(w http.ResponseWriter, r *http.Request) error {
	h, req, err := s.apiHandle(w, r)
	if err != nil {
		return err
	}
	f, err := s.transfer.SendCode(r.Context(), h, req.Way)
	if err != nil {
		return err
	}
	s.notifyOutbox()
	st, err := s.codes.Status(r.Context(), f.ID, f.AccountID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]any{"channel": f.Channel, "destination": st.Masked,
		"next_send_at": st.NextSendAt.UTC()})
}

// apiTransferVerify completes the transfer: method "code" (the code sent),
// "totp", or "grant" (support's bypass of the transfer code).
func (s *Server) apiTransferVerify(w http.ResponseWriter, r *http.Request) error {
	h, req, err := s.apiHandle(w, r)
	if err != nil {
		return err
	}
	var d *transfer.Done
	switch req.Method {
	case "code":
		d, err = s.transfer.VerifyCode(r.Context(), h, req.Code)
	case transfer.WayTOTP:
		d, err = s.transfer.VerifyTOTP(r.Context(), h, req.Code)
	case transfer.WayGrant:
		d, err = s.transfer.UseGrant(r.Context(), h)
	default:
		return monban.Errorf(monban.EInvalid, "transfer.way_unavailable").WithField("method")
	}
	if err != nil {
		return err
	}
	s.notifyOutbox()
	return writeJSON(w, http.StatusCreated, transferDoneJSON(d))
}

// apiTransferGet is the host app's read of a transfer (API key): which
// device holds the account now, so it can restore the backup there and
// retire the old install.
func (s *Server) apiTransferGet(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.hostKey(r); err != nil {
		return err
	}
	t, err := s.transfer.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := map[string]any{"id": t.ID, "account_id": t.AccountID, "kind": t.Kind, "state": t.State, "method": t.Method,
		"device_id": t.NewDeviceID, "device": t.NewDeviceLabel, "session_id": t.NewSessionID, "old_device_id": t.OldDeviceID,
		"created_at": t.CreatedAt.UTC(), "expires_at": t.ExpiresAt.UTC()}
	if !t.CompletedAt.IsZero() {
		out["completed_at"] = t.CompletedAt.UTC().Format(time.RFC3339Nano)
	}
	return writeJSON(w, http.StatusOK, out)
}
