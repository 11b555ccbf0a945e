package web

import (
	"net/http"
	"slices"
)

// kind says how a route answers errors and whether it is a form post.
type kind int

const (
	kindPage kind = iota // HTML page: errors as pages
	kindForm             // HTML form post: CSRF-checked, errors as pages
	kindAPI              // JSON API: errors as problem+json
	kindRaw              // a plain handler (metrics, static)
)

type route struct {
	pattern string
	kind    kind
	handle  func(w http.ResponseWriter, r *http.Request) error
	raw     http.Handler
}

// routeIntrospect is the host-app session check, the hottest route.
const routeIntrospect = "POST /api/v1/introspect"

// routes is every route monban serves. docs/openapi.yaml documents each
// /api/ route; a test keeps the two in step.
func (s *Server) routes() []route {
	rs := []route{
		// Pages.
		{pattern: "GET /{$}", kind: kindPage, handle: s.pageHome},
		{pattern: "GET /signup", kind: kindPage, handle: s.pageSignUp},
		{pattern: "POST /signup", kind: kindForm, handle: s.pageSignUpSubmit},
		{pattern: "GET /signin", kind: kindPage, handle: s.pageSignIn},
		{pattern: "POST /signin", kind: kindForm, handle: s.pageSignInSubmit},
		{pattern: "GET /account", kind: kindPage, handle: s.pageAccount},
		{pattern: "POST /account/sessions/{id}/revoke", kind: kindForm, handle: s.pageRevokeSession},
		{pattern: "POST /account/devices/{id}/revoke", kind: kindForm, handle: s.pageRevokeDevice},
		{pattern: "POST /signout", kind: kindForm, handle: s.pageSignOut},
		{pattern: "GET /verify/confirm", kind: kindPage, handle: s.pageVerifyConfirm},
		{pattern: "POST /account/phone", kind: kindForm, handle: s.pageCorrectPhone},
		{pattern: "POST /verify/start", kind: kindForm, handle: s.pageVerifyStart},
		{pattern: "GET /verify/{id}", kind: kindPage, handle: s.pageVerify},
		{pattern: "POST /verify/{id}", kind: kindForm, handle: s.pageVerifySubmit},
		{pattern: "GET /verify/{id}/status", kind: kindAPI, handle: s.pageVerifyStatus},
		{pattern: "GET /verify/{id}/help", kind: kindPage, handle: s.pageVerifyHelp},
		{pattern: "POST /verify/{id}/resend", kind: kindForm, handle: s.pageVerifyResend},
		{pattern: "GET /messages", kind: kindPage, handle: s.pageMessages},
		{pattern: "POST /messages/read", kind: kindForm, handle: s.pageMessagesRead},
		{pattern: "GET /check", kind: kindPage, handle: s.pageCheck},
		{pattern: "POST /check", kind: kindForm, handle: s.pageCheckSubmit},
		{pattern: "GET /account/activity.jsonl", kind: kindPage, handle: s.pageAccountActivity},

		// The second step of signing in, passkeys, security settings and
		// approve-or-deny prompts.
		{pattern: "GET /signin/verify", kind: kindPage, handle: s.pageSigninVerify},
		{pattern: "POST /signin/verify", kind: kindForm, handle: s.pageSigninVerifySubmit},
		{pattern: "POST /signin/verify/send", kind: kindForm, handle: s.pageSigninVerifySend},
		{pattern: "POST /signin/verify/approval", kind: kindForm, handle: s.pageSigninVerifyAsk},
		{pattern: "GET /signin/verify/status", kind: kindAPI, handle: s.pageSigninVerifyStatus},
		{pattern: "POST /signin/verify/complete", kind: kindForm, handle: s.pageSigninVerifyComplete},
		{pattern: "POST /signin/verify/passkey/options", kind: kindAPI, handle: s.pageSigninVerifyPasskeyOptions},
		{pattern: "POST /signin/verify/passkey", kind: kindAPI, handle: s.pageSigninVerifyPasskey},
		{pattern: "POST /signin/passkey/options", kind: kindAPI, handle: s.pagePasskeySignInOptions},
		{pattern: "POST /signin/passkey", kind: kindAPI, handle: s.pagePasskeySignIn},
		{pattern: "GET /account/security", kind: kindPage, handle: s.pageSecurity},
		{pattern: "GET /account/reauth", kind: kindPage, handle: s.pageReauth},
		{pattern: "POST /account/reauth", kind: kindForm, handle: s.pageReauthSubmit},
		{pattern: "POST /account/totp", kind: kindForm, handle: s.pageTOTPEnrol},
		{pattern: "POST /account/totp/{id}/confirm", kind: kindForm, handle: s.pageTOTPConfirm},
		{pattern: "POST /account/recovery-codes", kind: kindForm, handle: s.pageRecoveryCodes},
		{pattern: "POST /account/factors/{id}/rename", kind: kindForm, handle: s.pageFactorRename},
		{pattern: "POST /account/factors/{id}/remove", kind: kindForm, handle: s.pageFactorRemove},
		{pattern: "POST /account/twostep", kind: kindForm, handle: s.pageTwoStep},
		{pattern: "POST /account/devices/{id}/untrust", kind: kindForm, handle: s.pageUntrustDevice},
		{pattern: "POST /account/passkeys/options", kind: kindAPI, handle: s.pagePasskeyOptions},
		{pattern: "POST /account/passkeys", kind: kindAPI, handle: s.pagePasskeyAdd},
		{pattern: "GET /account/approvals.json", kind: kindAPI, handle: s.pageApprovalsJSON},
		{pattern: "POST /account/approvals/{id}", kind: kindForm, handle: s.pageApprovalDecide},
		{pattern: "GET /approve/{token}", kind: kindPage, handle: s.pageApproveLink},
		{pattern: "POST /approve/{token}", kind: kindForm, handle: s.pageApproveLinkSubmit},

		{pattern: "GET /help/signin", kind: kindPage, handle: s.pageHelpSignIn},
		{pattern: "POST /help/signin", kind: kindForm, handle: s.pageHelpSignInSubmit},
		{pattern: "GET /help/signin/{id}", kind: kindPage, handle: s.pageHelpStep},
		{pattern: "POST /help/signin/{id}/code", kind: kindForm, handle: s.pageHelpCode},
		{pattern: "POST /help/signin/{id}/second", kind: kindForm, handle: s.pageHelpSecond},
		{pattern: "POST /help/signin/{id}/password", kind: kindForm, handle: s.pageHelpPassword},
		{pattern: "GET /help/undo/{token}", kind: kindPage, handle: s.pageUndo},
		{pattern: "POST /help/undo/{token}", kind: kindForm, handle: s.pageUndoSubmit},
		{pattern: "GET /account/contact", kind: kindPage, handle: s.pageContact},
		{pattern: "POST /account/contact", kind: kindForm, handle: s.pageContactSubmit},
		{pattern: "GET /account/contact/{id}", kind: kindPage, handle: s.pageContactVerify},
		{pattern: "POST /account/contact/{id}", kind: kindForm, handle: s.pageContactVerifySubmit},

		// A locked account's page and its ways out.
		{pattern: "GET /locked", kind: kindPage, handle: s.pageLocked},
		{pattern: "POST /locked/code", kind: kindForm, handle: s.pageLockedCode},
		{pattern: "GET /locked/code/{id}", kind: kindPage, handle: s.pageLockedCodeForm},
		{pattern: "POST /locked/code/{id}", kind: kindForm, handle: s.pageLockedCodeSubmit},
		{pattern: "POST /locked/password", kind: kindForm, handle: s.pageLockedPassword},
		{pattern: "GET /locked/second-factor", kind: kindPage, handle: s.pageLockedSecond},
		{pattern: "POST /locked/second-factor", kind: kindForm, handle: s.pageLockedSecondSubmit},
		{pattern: "POST /locked/passkey/options", kind: kindAPI, handle: s.pageLockedPasskeyOptions},
		{pattern: "POST /locked/passkey", kind: kindAPI, handle: s.pageLockedPasskey},

		// Support requests without sign-in, and the agent console (desk).
		{pattern: "GET /support/new", kind: kindPage, handle: s.pageSupportNew},
		{pattern: "POST /support/new", kind: kindForm, handle: s.pageSupportSubmit},
		{pattern: "GET /support/challenge", kind: kindAPI, handle: s.pageSupportChallenge},
		{pattern: "GET /support/case/{id}/{token}", kind: kindPage, handle: s.pageSupportCase},
		{pattern: "POST /support/case/{id}/{token}/reply", kind: kindForm, handle: s.pageSupportReply},
		{pattern: "GET /desk", kind: kindPage, handle: s.pageDesk},
		{pattern: "POST /desk/signin", kind: kindForm, handle: s.pageDeskSignIn},
		{pattern: "GET /desk/2fa", kind: kindPage, handle: s.pageDeskTwoStep},
		{pattern: "POST /desk/2fa", kind: kindForm, handle: s.pageDeskTwoStepSubmit},
		{pattern: "POST /desk/signout", kind: kindForm, handle: s.pageDeskSignOut},
		{pattern: "GET /desk/cases/{id}", kind: kindPage, handle: s.pageDeskCase},
		{pattern: "POST /desk/cases/{id}/{action}", kind: kindForm, handle: s.pageDeskAction},

		// Moving an account to a new device (page_transfer.go).
		{pattern: "GET /transfer", kind: kindPage, handle: s.pageTransfer},
		{pattern: "GET /transfer/offer", kind: kindPage, handle: s.pageTransferOffer},
		{pattern: "POST /transfer/offer", kind: kindForm, handle: s.pageTransferOfferSubmit},
		{pattern: "GET /transfer/offer/{id}/status", kind: kindAPI, handle: s.pageTransferOfferStatus},
		{pattern: "GET /transfer/receive", kind: kindPage, handle: s.pageTransferReceive},
		{pattern: "POST /transfer/receive", kind: kindForm, handle: s.pageTransferReceiveSubmit},
		{pattern: "GET /transfer/start", kind: kindPage, handle: s.pageTransferStart},
		{pattern: "POST /transfer/start", kind: kindForm, handle: s.pageTransferStartSubmit},
		{pattern: "GET /transfer/phone", kind: kindPage, handle: s.pageTransferPhone},
		{pattern: "POST /transfer/phone", kind: kindForm, handle: s.pageTransferPhoneCheck},
		{pattern: "POST /transfer/phone/confirm", kind: kindForm, handle: s.pageTransferPhoneConfirm},
		{pattern: "GET /transfer/ways", kind: kindPage, handle: s.pageTransferWays},
		{pattern: "POST /transfer/send", kind: kindForm, handle: s.pageTransferSend},
		{pattern: "POST /transfer/verify", kind: kindForm, handle: s.pageTransferVerify},
		{pattern: "POST /transfer/complete", kind: kindForm, handle: s.pageTransferComplete},
		{pattern: "POST /transfer/grant", kind: kindForm, handle: s.pageTransferGrant},
		{pattern: "POST /transfer/cancel", kind: kindForm, handle: s.pageTransferCancel},
		{pattern: "GET /transfer/status", kind: kindAPI, handle: s.pageTransferStatus},
		{pattern: "POST /transfer/passkey/options", kind: kindAPI, handle: s.pageTransferPasskeyOptions},
		{pattern: "POST /transfer/passkey", kind: kindAPI, handle: s.pageTransferPasskey},

		// JSON API for native apps.
		{pattern: "GET /api/v1/lock", kind: kindAPI, handle: s.apiLock},
		{pattern: "POST /api/v1/lock/code", kind: kindAPI, handle: s.apiLockCode},
		{pattern: "POST /api/v1/lock/code/{id}/verify", kind: kindAPI, handle: s.apiLockCodeVerify},
		{pattern: "POST /api/v1/lock/password", kind: kindAPI, handle: s.apiLockPassword},
		{pattern: "POST /api/v1/lock/totp", kind: kindAPI, handle: s.apiLockTOTP},
		{pattern: "POST /api/v1/accounts", kind: kindAPI, handle: s.apiRegister},
		{pattern: "GET /api/v1/account", kind: kindAPI, handle: s.apiAccount},
		{pattern: "POST /api/v1/sessions", kind: kindAPI, handle: s.apiSignIn},
		{pattern: "GET /api/v1/sessions", kind: kindAPI, handle: s.apiSessions},
		{pattern: "DELETE /api/v1/sessions/{id}", kind: kindAPI, handle: s.apiRevokeSession},
		{pattern: "DELETE /api/v1/session", kind: kindAPI, handle: s.apiSignOut},
		{pattern: "GET /api/v1/devices", kind: kindAPI, handle: s.apiDevices},
		{pattern: "DELETE /api/v1/devices/{id}", kind: kindAPI, handle: s.apiRevokeDevice},
		{pattern: "POST /api/v1/flows", kind: kindAPI, handle: s.apiStartFlow},
		{pattern: "GET /api/v1/flows/{id}", kind: kindAPI, handle: s.apiGetFlow},
		{pattern: "POST /api/v1/flows/{id}/resend", kind: kindAPI, handle: s.apiResendFlow},
		{pattern: "POST /api/v1/flows/{id}/verify", kind: kindAPI, handle: s.apiVerifyFlow},
		{pattern: "GET /api/v1/notices", kind: kindAPI, handle: s.apiNotices},
		{pattern: "POST /api/v1/notices/read", kind: kindAPI, handle: s.apiNoticesRead},
		{pattern: "POST /api/v1/check", kind: kindAPI, handle: s.apiCheck},
		{pattern: "GET /api/v1/account/activity", kind: kindAPI, handle: s.apiAccountActivity},

		{pattern: "POST /api/v1/recoveries", kind: kindAPI, handle: s.apiStartRecovery},
		{pattern: "GET /api/v1/recoveries/{id}", kind: kindAPI, handle: s.apiGetRecovery},
		{pattern: "POST /api/v1/recoveries/{id}/code", kind: kindAPI, handle: s.apiRecoveryCode},
		{pattern: "POST /api/v1/recoveries/{id}/second", kind: kindAPI, handle: s.apiRecoverySecond},
		{pattern: "POST /api/v1/recoveries/{id}/password", kind: kindAPI, handle: s.apiRecoveryPassword},
		{pattern: "POST /api/v1/contact-changes", kind: kindAPI, handle: s.apiStartChange},
		{pattern: "POST /api/v1/contact-changes/{id}/verify", kind: kindAPI, handle: s.apiVerifyChange},
		{pattern: "POST /api/v1/contact-changes/undo", kind: kindAPI, handle: s.apiUndoChange},

		// The second step of signing in for apps, approvals and factors.
		{pattern: "POST /api/v1/signins/{id}", kind: kindAPI, handle: s.apiPendingStatus},
		{pattern: "POST /api/v1/signins/{id}/code", kind: kindAPI, handle: s.apiPendingCode},
		{pattern: "POST /api/v1/signins/{id}/verify", kind: kindAPI, handle: s.apiPendingVerify},
		{pattern: "POST /api/v1/signins/{id}/approval", kind: kindAPI, handle: s.apiPendingApproval},
		{pattern: "POST /api/v1/signins/{id}/passkey/options", kind: kindAPI, handle: s.apiPendingPasskeyOptions},
		{pattern: "POST /api/v1/signins/{id}/passkey", kind: kindAPI, handle: s.apiPendingPasskey},
		{pattern: "GET /api/v1/approvals", kind: kindAPI, handle: s.apiApprovals},
		{pattern: "POST /api/v1/approvals/{id}", kind: kindAPI, handle: s.apiDecideApproval},
		{pattern: "GET /api/v1/factors", kind: kindAPI, handle: s.apiFactors},

		// Managing second factors from an app (api_factors.go).
		{pattern: "POST /api/v1/session/reauth", kind: kindAPI, handle: s.apiReauth},
		{pattern: "POST /api/v1/factors/totp", kind: kindAPI, handle: s.apiTOTPBegin},
		{pattern: "POST /api/v1/factors/totp/{id}/confirm", kind: kindAPI, handle: s.apiTOTPConfirm},
		{pattern: "POST /api/v1/factors/recovery-codes", kind: kindAPI, handle: s.apiRecoveryCodes},
		{pattern: "POST /api/v1/factors/passkeys/options", kind: kindAPI, handle: s.apiPasskeyOptions},
		{pattern: "POST /api/v1/factors/passkeys", kind: kindAPI, handle: s.apiPasskeyAdd},
		{pattern: "PATCH /api/v1/factors/{id}", kind: kindAPI, handle: s.apiFactorRename},
		{pattern: "DELETE /api/v1/factors/{id}", kind: kindAPI, handle: s.apiFactorDelete},
		{pattern: "PUT /api/v1/two-step", kind: kindAPI, handle: s.apiTwoStep},

		// Moving to a new device, for apps (api_transfers.go).
		{pattern: "POST /api/v1/transfers/offer", kind: kindAPI, handle: s.apiTransferOffer},
		{pattern: "POST /api/v1/transfers/receive", kind: kindAPI, handle: s.apiTransferReceive},
		{pattern: "POST /api/v1/transfers", kind: kindAPI, handle: s.apiTransferStart},
		{pattern: "POST /api/v1/transfers/{id}", kind: kindAPI, handle: s.apiTransferStatus},
		{pattern: "POST /api/v1/transfers/{id}/phone", kind: kindAPI, handle: s.apiTransferPhone},
		{pattern: "POST /api/v1/transfers/{id}/code", kind: kindAPI, handle: s.apiTransferCode},
		{pattern: "POST /api/v1/transfers/{id}/verify", kind: kindAPI, handle: s.apiTransferVerify},

		// Host apps (API key).
		{pattern: routeIntrospect, kind: kindAPI, handle: s.apiIntrospect},
		{pattern: "GET /api/v1/transfers/{id}", kind: kindAPI, handle: s.apiTransferGet},
		{pattern: "POST /api/v1/webhooks", kind: kindAPI, handle: s.apiWebhookSubscribe},
		{pattern: "GET /api/v1/webhooks", kind: kindAPI, handle: s.apiWebhooks},
		{pattern: "DELETE /api/v1/webhooks/{id}", kind: kindAPI, handle: s.apiWebhookDelete},
		{pattern: "GET /api/v1/webhooks/deliveries", kind: kindAPI, handle: s.apiWebhookDeliveries},
		{pattern: "POST /api/v1/webhooks/deliveries/{id}/redeliver", kind: kindAPI, handle: s.apiWebhookRedeliver},
		{pattern: "GET /api/v1/admin/audit", kind: kindAPI, handle: s.apiAdminAudit},
		{pattern: "POST /api/v1/signals", kind: kindAPI, handle: s.apiSignals},
		{pattern: "PUT /api/v1/accounts/{id}/knowledge", kind: kindAPI, handle: s.apiKnowledge},

		// Operators (admin API keys).
		{pattern: "POST /api/v1/admin/locks/rollback", kind: kindAPI, handle: s.apiAdminRollback},
		{pattern: "GET /api/v1/admin/breakers", kind: kindAPI, handle: s.apiAdminBreakers},

		// Sign in with monban: OpenID Connect (oidc.go). The protocol
		// endpoints are one raw handler per path prefix; login and consent
		// are monban's own pages.
		{pattern: "GET /oauth/login", kind: kindPage, handle: s.pageOIDCLogin},
		{pattern: "POST /oauth/consent", kind: kindForm, handle: s.pageOIDCConsent},
		{pattern: "/.well-known/openid-configuration", kind: kindRaw, raw: s.oidcProtocol()},
		{pattern: "/oauth/", kind: kindRaw, raw: s.oidcProtocol()},
		{pattern: "GET /api/v1/admin/oidc/clients", kind: kindAPI, handle: s.apiOIDCClients},
		{pattern: "POST /api/v1/admin/oidc/clients", kind: kindAPI, handle: s.apiOIDCClientAdd},
		{pattern: "DELETE /api/v1/admin/oidc/clients/{id}", kind: kindAPI, handle: s.apiOIDCClientRemove},

		// Delivery receipts from SMS and voice providers.
		{pattern: "GET /hooks/kannel/dlr", kind: kindAPI, handle: s.hookKannel},
		{pattern: "POST /hooks/provider/{name}/status", kind: kindAPI, handle: s.hookProvider},

		// Operations and documents.
		{pattern: "GET /api/openapi.yaml", kind: kindAPI, handle: s.apiOpenAPI},
		{pattern: "GET /healthz", kind: kindAPI, handle: s.healthz},
		{pattern: "GET /readyz", kind: kindAPI, handle: s.readyz},
		{pattern: "GET /metrics", kind: kindRaw, raw: s.metrics.handler()},
		{pattern: "GET /static/", kind: kindRaw, raw: staticHandler()},
	}
	if s.cfg.Dev {
		rs = append(rs,
			route{pattern: "GET /dev/outbox", kind: kindPage, handle: s.devOutboxPage},
			route{pattern: "GET /dev/outbox.json", kind: kindAPI, handle: s.devOutboxJSON},
			route{pattern: "POST /dev/outbox/{id}/receipt", kind: kindForm, handle: s.devReceipt},
		)
	}
	return rs
}

// APIRoutes lists the method and path of every /api/ route, for the
// OpenAPI completeness test.
func (s *Server) APIRoutes() []string {
	var out []string
	for _, rt := range s.routes() {
		if isAPIPattern(rt.pattern) {
			out = append(out, rt.pattern)
		}
	}
	slices.Sort(out)
	return out
}

func isAPIPattern(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == ' ' {
			return len(p) > i+5 && p[i+1:i+6] == "/api/"
		}
	}
	return false
}

func (s *Server) buildMux() http.Handler {
	mux := http.NewServeMux()
	s.mux = mux
	cop := http.NewCrossOriginProtection()
	for _, rt := range s.routes() {
		var h http.Handler
		switch rt.kind {
		case kindRaw:
			h = rt.raw
		case kindAPI:
			h = s.apiHandler(rt.handle)
		case kindPage:
			h = s.pageHandler(rt.handle)
		case kindForm:
			h = cop.Handler(s.formHandler(rt.handle))
		}
		mux.Handle(rt.pattern, s.observe(rt.pattern, s.paced(rt.pattern, h)))
	}
	notFound := s.observe("unmatched", http.HandlerFunc(s.unmatched))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			notFound.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) apiHandler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeProblem(w, r, err)
		}
	})
}

func (s *Server) pageHandler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writePageError(w, r, err)
		}
	})
}

func (s *Server) formHandler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			s.writePageError(w, r, errBody(err))
			return
		}
		if err := s.checkCSRF(r); err != nil {
			s.writePageError(w, r, err)
			return
		}
		if err := h(w, r); err != nil {
			s.writePageError(w, r, err)
		}
	})
}

// unmatched answers unknown paths (404) and known paths with the wrong
// method (405 with Allow), in the caller's format.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodPatch} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" {
			allowed = append(allowed, m)
		}
	}
	err := errNotFound()
	if len(allowed) > 0 {
		w.Header().Set("Allow", joinComma(allowed))
		err = errMethod()
	}
	if isAPI(r) || r.Method != http.MethodGet {
		s.writeProblem(w, r, err)
		return
	}
	s.writePageError(w, r, err)
}
