package web

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"image/png"
	"net/http"
	"strings"
	"time"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/humantime"
	"github.com/monban-dev/monban/internal/transfer"
)

// Moving an account to a new device (seed 001). With the old device:
// /transfer/offer shows a binding code and QR code, /transfer/receive takes
// it on the new device. Without it: /transfer/start (password), then
// /transfer/phone (the registered number, typed and shown back before any
// code is sent), then /transfer/ways (transfer code, approval on another
// signed-in device, other factors, support's bypass).

func (s *Server) transferCookieName() string {
	if s.cfg.Dev {
		return "monban_transfer"
	}
	return "__Host-monban_transfer"
}

// transferHandle reads the lost-device transfer this browser started.
func (s *Server) transferHandle(r *http.Request) (transfer.Handle, bool) {
	if c := callerOf(r, whoTransfer); c != nil && c.transfer != nil {
		return *c.transfer, true
	}
	return s.transferCookie(r)
}

func (s *Server) transferCookie(r *http.Request) (transfer.Handle, bool) {
	c, err := r.Cookie(s.transferCookieName())
	if err != nil {
		return transfer.Handle{}, false
	}
	id, secret, ok := strings.Cut(c.Value, ".")
	return transfer.Handle{ID: id, Secret: secret, Meta: s.meta(r, monban.SessionWeb, s.deviceID(r)), Lang: s.cat.Lang(r)}, ok
}

// transferOver answers a transfer that can no longer go on: the person
// starts again, told why.
func (s *Server) transferOver(w http.ResponseWriter, r *http.Request, err error) error {
	switch errKey(err) {
	case "transfer.invalid", "transfer.expired", "transfer.cancelled", "transfer.completed", "transfer.denied", "transfer.over":
	default:
		return err
	}
	http.SetCookie(w, s.cookie(s.transferCookieName(), "", -time.Second))
	v := s.view(w, r, "transfer.start_title")
	v.Error = v.T(errKey(err))
	s.render(w, r, statusOf[monban.ErrorCodeOf(err)], "transfer_start", v)
	return nil
}

// transferred signs the new device in and goes to the account page.
func (s *Server) transferred(w http.ResponseWriter, r *http.Request, d *transfer.Done) error {
	http.SetCookie(w, s.cookie(s.transferCookieName(), "", -time.Second))
	s.clearPending(w)
	s.setSession(w, d.SignedIn.Token, d.SignedIn.Session.ExpiresAt.Sub(s.clock.Now()))
	s.notifyOutbox()
	http.Redirect(w, r, "/account?done=transferred", http.StatusSeeOther)
	return nil
}

// pageTransfer asks whether the old device is at hand.
func (s *Server) pageTransfer(w http.ResponseWriter, r *http.Request) error {
	v := s.view(w, r, "transfer.title")
	cur, err := s.pageCurrent(r)
	if err != nil {
		return err
	}
	v.SignedIn = cur != nil
	s.render(w, r, http.StatusOK, "transfer", v)
	return nil
}

type offerPage struct {
	ID, Code  string
	QR        template.URL // a data: URL the server drew
	ExpiresAt time.Time
	Minutes   int
}

// pageTransferOffer is the old device's page: the password, then the code.
func (s *Server) pageTransferOffer(w http.ResponseWriter, r *http.Request) error {
	_, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	v := s.view(w, r, "transfer.offer_title")
	v.SignedIn = true
	s.render(w, r, http.StatusOK, "transfer_offer", v)
	return nil
}

func (s *Server) pageTransferOfferSubmit(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	pw := r.PostFormValue("password")
	if err := fieldLimit("password", pw, 1024); err != nil {
		return err
	}
	v := s.view(w, r, "transfer.offer_title")
	v.SignedIn = true
	o, oerr := s.transfer.Offer(r.Context(), cur, pw, s.meta(r, monban.SessionWeb, s.deviceID(r)))
	if oerr != nil {
		return s.formError(w, r, v, "transfer_offer", oerr)
	}
	img, err := qrDataURL(o.URL)
	if err != nil {
		return err
	}
	v.Data = offerPage{ID: o.Transfer.ID, Code: o.Code, QR: img, ExpiresAt: o.Transfer.ExpiresAt,
		Minutes: int(monban.BindingCodeLifetime / time.Minute)}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "transfer_offer", v)
	return nil
}

// qrDataURL draws text as a QR code PNG in a data: URL (the CSP allows
// data: images; nothing leaves the server).
func qrDataURL(text string) (template.URL, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", monban.Internalf("transfer qr: %w", err)
	}
	code, err = barcode.Scale(code, 240, 240)
	if err != nil {
		return "", monban.Internalf("transfer qr scale: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, code); err != nil {
		return "", monban.Internalf("transfer qr png: %w", err)
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())), nil
}

// pageTransferOfferStatus tells the old device's page (by its device
// cookie: its session may have ended already) whether the account moved.
func (s *Server) pageTransferOfferStatus(w http.ResponseWriter, r *http.Request) error {
	t, err := s.transfer.OfferState(r.Context(), r.PathValue("id"), s.deviceID(r))
	if err != nil {
		return err
	}
	lang := s.cat.Lang(r)
	return writeJSON(w, http.StatusOK, map[string]string{"state": string(t.State),
		"text": s.cat.T(lang, "transfer.offer_state."+string(t.State), nil)})
}

type receivePage struct{ Code, TransferID string }

// pageTransferReceive is the new device's page for the binding code; the
// QR code opens it with the code filled in. No sign-in is needed.
func (s *Server) pageTransferReceive(w http.ResponseWriter, r *http.Request) error {
	v := s.view(w, r, "transfer.receive_title")
	q := r.URL.Query()
	v.Data = receivePage{Code: truncateField(q.Get("code"), 32), TransferID: truncateField(q.Get("t"), 64)}
	s.render(w, r, http.StatusOK, "transfer_receive", v)
	return nil
}

func truncateField(s string, n int) string {
	if len(s) > n {
		return ""
	}
	return s
}

func (s *Server) pageTransferReceiveSubmit(w http.ResponseWriter, r *http.Request) error {
	code, tid := r.PostFormValue("code"), r.PostFormValue("t")
	if err := fieldLimit("code", code, 64); err != nil {
		return err
	}
	if err := fieldLimit("t", tid, 64); err != nil {
		return err
	}
	d, err := s.transfer.Redeem(r.Context(), transfer.Redeem{Code: code, TransferID: tid,
		Meta: s.meta(r, monban.SessionWeb, s.deviceID(r))})
	if err != nil {
		v := s.view(w, r, "transfer.receive_title")
		v.Data = receivePage{Code: code, TransferID: tid}
		return s.formError(w, r, v, "transfer_receive", err)
	}
	return s.transferred(w, r, d)
}

// pageTransferStart asks the new device for the identifier and password.
func (s *Server) pageTransferStart(w http.ResponseWriter, r *http.Request) error {
	v := s.view(w, r, "transfer.start_title")
	s.render(w, r, http.StatusOK, "transfer_start", v)
	return nil
}

func (s *Server) pageTransferStartSubmit(w http.ResponseWriter, r *http.Request) error {
	ident, pw := r.PostFormValue("identifier"), r.PostFormValue("password")
	if err := fieldLimit("identifier", ident, 256); err != nil {
		return err
	}
	if err := fieldLimit("password", pw, 1024); err != nil {
		return err
	}
	dev := s.ensureDevice(w, r)
	st, err := s.transfer.Start(r.Context(), transfer.StartInput{Identifier: ident, Password: pw,
		AccountID: r.PostFormValue("account_id"), Meta: s.meta(r, monban.SessionWeb, dev), Lang: s.cat.Lang(r)})
	if err != nil {
		v := s.view(w, r, "transfer.start_title")
		v.Form.Set("identifier", ident)
		return s.formError(w, r, v, "transfer_start", err)
	}
	if st.Transfer == nil {
		// Several accounts share the number: the first one the password
		// proves; a person with several picks through sign-in first.
		return monban.Errorf(monban.EConflict, "transfer.choose_account")
	}
	http.SetCookie(w, s.cookie(s.transferCookieName(), st.Transfer.ID+"."+st.Secret, st.Transfer.ExpiresAt.Sub(s.clock.Now())))
	http.Redirect(w, r, "/transfer/phone", http.StatusSeeOther)
	return nil
}

type phonePage struct {
	View  *transfer.View
	Check *transfer.PhoneCheck
	Guard string // the SMS guard's refusal, in words
}

func (s *Server) transferView(w http.ResponseWriter, r *http.Request, title string) (*View, *transfer.View, transfer.Handle, error) {
	h, ok := s.transferHandle(r)
	if !ok {
		return nil, nil, h, monban.Errorf(monban.EUnauthorized, "transfer.invalid")
	}
	tv, err := s.transfer.View(r.Context(), h)
	if err != nil {
		return nil, nil, h, err
	}
	switch tv.State {
	case monban.TransferExpired, monban.TransferCancelled, monban.TransferCompleted:
		return nil, nil, h, monban.Errorf(monban.EConflict, "transfer."+string(tv.State))
	}
	return s.view(w, r, title), tv, h, nil
}

// pageTransferPhone shows the registered number masked and asks for it.
func (s *Server) pageTransferPhone(w http.ResponseWriter, r *http.Request) error {
	v, tv, _, err := s.transferView(w, r, "transfer.phone_title")
	if err != nil {
		return s.transferOver(w, r, err)
	}
	if tv.Phone == "" || tv.PhoneConfirmed {
		http.Redirect(w, r, "/transfer/ways", http.StatusSeeOther)
		return nil
	}
	v.Data = phonePage{View: tv}
	s.render(w, r, http.StatusOK, "transfer_phone", v)
	return nil
}

// pageTransferPhoneCheck shows the typed number back, parsed, before
// anything is sent: a typo is seen, not texted to a stranger.
func (s *Server) pageTransferPhoneCheck(w http.ResponseWriter, r *http.Request) error {
	v, tv, h, err := s.transferView(w, r, "transfer.phone_title")
	if err != nil {
		return s.transferOver(w, r, err)
	}
	raw := r.PostFormValue("phone")
	if err := fieldLimit("phone", raw, 64); err != nil {
		return err
	}
	v.Form.Set("phone", raw)
	pc, cerr := s.transfer.CheckPhone(r.Context(), h, raw)
	if cerr != nil {
		v.Data = phonePage{View: tv}
		return s.formError(w, r, v, "transfer_phone", cerr)
	}
	p := phonePage{View: tv, Check: pc}
	if pc.Guard != nil {
		if e, ok := monban.AsError(pc.Guard); ok {
			p.Guard = v.T(e.Key, e.Params)
		}
	}
	v.Data = p
	s.render(w, r, http.StatusOK, "transfer_phone", v)
	return nil
}

// pageTransferPhoneConfirm records the confirmed number and opens the
// prompt on the other signed-in devices.
func (s *Server) pageTransferPhoneConfirm(w http.ResponseWriter, r *http.Request) error {
	h, ok := s.transferHandle(r)
	if !ok {
		return s.transferOver(w, r, monban.Errorf(monban.EUnauthorized, "transfer.invalid"))
	}
	if err := s.transfer.ConfirmPhone(r.Context(), h, r.PostFormValue("phone")); err != nil {
		if err := s.transferOver(w, r, err); err == nil {
			return nil
		}
		v, tv, _, verr := s.transferView(w, r, "transfer.phone_title")
		if verr != nil {
			return verr
		}
		v.Data = phonePage{View: tv}
		return s.formError(w, r, v, "transfer_phone", err)
	}
	http.Redirect(w, r, "/transfer/ways", http.StatusSeeOther)
	return nil
}

type waysPage struct {
	View       *transfer.View
	Has        map[string]bool
	CodeWays   []string // "sms", "email": ways that send a code
	Sent       string   // the way a code was just sent
	LastStatus string
	Failed     bool // the last code's message failed or is late: say so, point to the others
	GrantLeft  string
	Waiting    bool
}

func (s *Server) waysView(w http.ResponseWriter, r *http.Request) (*View, error) {
	v, tv, _, err := s.transferView(w, r, "transfer.ways_title")
	if err != nil {
		return nil, err
	}
	if tv.Phone != "" && !tv.PhoneConfirmed {
		return nil, monban.Errorf(monban.EInvalid, "transfer.phone_first")
	}
	p := waysPage{View: tv, Has: map[string]bool{}, Sent: r.URL.Query().Get("sent"),
		Waiting: tv.Approval == monban.PendingWaiting && tv.Sessions > 0}
	for _, way := range tv.Ways {
		p.Has[way] = true
		if way == transfer.WaySMS || way == transfer.WayEmail {
			p.CodeWays = append(p.CodeWays, way)
		}
	}
	if tv.Code != nil && len(tv.Code.Messages) > 0 {
		p.LastStatus = string(tv.Code.Messages[0].Status)
	}
	if tv.Reach != nil {
		p.Failed = tv.Reach.Undelivered
		v.Reach = s.reachView(v.Lang, "/transfer/status", "#ways", tv.Reach)
	}
	if tv.Grant != nil {
		p.GrantLeft = humantime.Wait(v.Lang, tv.Grant.ExpiresAt.Sub(s.clock.Now()))
	}
	v.Data = p
	return v, nil
}

// pageTransferWays offers every way to prove the transfer.
func (s *Server) pageTransferWays(w http.ResponseWriter, r *http.Request) error {
	v, err := s.waysView(w, r)
	if errKey(err) == "transfer.phone_first" {
		http.Redirect(w, r, "/transfer/phone", http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return s.transferOver(w, r, err)
	}
	s.render(w, r, http.StatusOK, "transfer_ways", v)
	return nil
}

// waysError shows err on the ways page, or ends the transfer if it is over.
func (s *Server) waysError(w http.ResponseWriter, r *http.Request, err error) error {
	if oerr := s.transferOver(w, r, err); oerr == nil {
		return nil
	}
	v, verr := s.waysView(w, r)
	if verr != nil {
		return s.transferOver(w, r, verr)
	}
	return s.formError(w, r, v, "transfer_ways", err)
}

// pageTransferSend sends the transfer code (or an email code).
func (s *Server) pageTransferSend(w http.ResponseWriter, r *http.Request) error {
	h, ok := s.transferHandle(r)
	if !ok {
		return s.transferOver(w, r, monban.Errorf(monban.EUnauthorized, "transfer.invalid"))
	}
	way := r.PostFormValue("way")
	if _, err := s.transfer.SendCode(r.Context(), h, way); err != nil {
		return s.waysError(w, r, err)
	}
	s.notifyOutbox()
	http.Redirect(w, r, "/transfer/ways?sent="+way, http.StatusSeeOther)
	return nil
}

// pageTransferVerify completes the transfer with a code or a TOTP code.
func (s *Server) pageTransferVerify(w http.ResponseWriter, r *http.Request) error {
	h, ok := s.transferHandle(r)
	if !ok {
		return s.transferOver(w, r, monban.Errorf(monban.EUnauthorized, "transfer.invalid"))
	}
	code := r.PostFormValue("code")
	if err := fieldLimit("code", code, 64); err != nil {
		return err
	}
	var d *transfer.Done
	var err error
	switch r.PostFormValue("method") {
	case transfer.WayTOTP:
		d, err = s.transfer.VerifyTOTP(r.Context(), h, code)
	default:
		d, err = s.transfer.VerifyCode(r.Context(), h, code)
	}
	if err != nil {
		return s.waysError(w, r, err)
	}
	return s.transferred(w, r, d)
}

// pageTransferComplete finishes an approved transfer (the waiting page
// posts it when the other device said yes).
func (s *Server) pageTransferComplete(w http.ResponseWriter, r *http.Request) error {
	h, ok := s.transferHandle(r)
	if !ok {
		return s.transferOver(w, r, monban.Errorf(monban.EUnauthorized, "transfer.invalid"))
	}
	d, err := s.transfer.Complete(r.Context(), h)
	if err != nil {
		return s.waysError(w, r, err)
	}
	return s.transferred(w, r, d)
}

// pageTransferGrant uses support's bypass of the transfer code.
func (s *Server) pageTransferGrant(w http.ResponseWriter, r *http.Request) error {
	h, ok := s.transferHandle(r)
	if !ok {
		return s.transferOver(w, r, monban.Errorf(monban.EUnauthorized, "transfer.invalid"))
	}
	d, err := s.transfer.UseGrant(r.Context(), h)
	if err != nil {
		return s.waysError(w, r, err)
	}
	return s.transferred(w, r, d)
}

// pageTransferCancel gives the transfer up.
func (s *Server) pageTransferCancel(w http.ResponseWriter, r *http.Request) error {
	if h, ok := s.transferHandle(r); ok {
		if err := s.transfer.Cancel(r.Context(), h); err != nil && monban.ErrorCodeOf(err) != monban.EConflict &&
			monban.ErrorCodeOf(err) != monban.EUnauthorized {
			return err
		}
	}
	http.SetCookie(w, s.cookie(s.transferCookieName(), "", -time.Second))
	http.Redirect(w, r, "/transfer", http.StatusSeeOther)
	return nil
}

// pageTransferStatus feeds the waiting box: the approval's state and the
// last code's delivery status.
func (s *Server) pageTransferStatus(w http.ResponseWriter, r *http.Request) error {
	h, ok := s.transferHandle(r)
	if !ok {
		return monban.Errorf(monban.EUnauthorized, "transfer.invalid")
	}
	tv, err := s.transfer.View(r.Context(), h)
	if err != nil {
		return err
	}
	lang := s.cat.Lang(r)
	out := map[string]any{"state": string(tv.State), "approval": string(tv.Approval),
		"text": s.cat.T(lang, "transfer.approval_state."+approvalWord(tv.Approval), nil), "status": ""}
	if tv.Reach != nil {
		out = mergeParams(out, s.reachJSON(lang, tv.Reach))
	}
	return writeJSON(w, http.StatusOK, out)
}

func approvalWord(st monban.PendingState) string {
	switch st {
	case monban.PendingApproved, monban.PendingDenied, monban.PendingExpired, monban.PendingCompleted:
		return string(st)
	}
	return "pending"
}

// pageTransferPasskeyOptions starts a passkey assertion (JSON).
func (s *Server) pageTransferPasskeyOptions(w http.ResponseWriter, r *http.Request) error {
	h, ok := s.transferHandle(r)
	if !ok {
		return monban.Errorf(monban.EUnauthorized, "transfer.invalid")
	}
	if err := s.checkJSONCSRF(r); err != nil {
		return err
	}
	opts, err := s.transfer.PasskeyOptions(r.Context(), h)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, opts)
}

// pageTransferPasskey completes the transfer with the assertion (JSON).
func (s *Server) pageTransferPasskey(w http.ResponseWriter, r *http.Request) error {
	h, ok := s.transferHandle(r)
	if !ok {
		return monban.Errorf(monban.EUnauthorized, "transfer.invalid")
	}
	body, ceremony, err := s.ceremonyBody(w, r)
	if err != nil {
		return err
	}
	d, err := s.transfer.VerifyPasskey(r.Context(), h, ceremony, body)
	if err != nil {
		return err
	}
	http.SetCookie(w, s.cookie(s.transferCookieName(), "", -time.Second))
	s.setSession(w, d.SignedIn.Token, d.SignedIn.Session.ExpiresAt.Sub(s.clock.Now()))
	s.notifyOutbox()
	return writeJSON(w, http.StatusOK, map[string]string{"next": "/account?done=transferred"})
}
