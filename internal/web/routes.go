package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"unicode/utf8"

	"github.com/monban-dev/monban"
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
	who     principal // who may call it, resolved before handle runs (access.go)
	secrets []secret  // the guessable secrets it checks, each behind a limit
	handle  func(w http.ResponseWriter, r *http.Request) error
	raw     http.Handler
}

// routeIntrospect is the host-app session check, the hottest route.
const routeIntrospect = "POST /api/v1/introspect"

// routes is every route monban serves. docs/openapi.yaml documents each
// /api/ route; a test keeps the two in step.
//
// who says who may call a route (principal, access.go): the wrapper
// buildMux puts around the handler resolves it, refuses the request
// without it (pages: the redirect to sign-in they always made; the API:
// problem+json 401 or 403) and hands it to the handler in the context. A
// route without one stops the server at start-up. secrets lists what a
// route checks that could be guessed (password, codes, links); each is
// behind a limit, which TestSecretRouteTable proves route by route, as
// TestAccessRouteTable proves the refusals.
func (s *Server) routes() []route {
	rs := []route{
		// Pages.
		{pattern: "GET /{$}", kind: kindPage, who: whoAnyone, handle: s.pageHome},
		{pattern: "GET /signup", kind: kindPage, who: whoAnyone, handle: s.pageSignUp},
		{pattern: "POST /signup", kind: kindForm, who: whoAnyone, handle: s.pageSignUpSubmit},
		{pattern: "GET /signin", kind: kindPage, who: whoAnyone, handle: s.pageSignIn},
		{pattern: "POST /signin", kind: kindForm, who: whoAnyone, secrets: []secret{secPassword}, handle: s.pageSignInSubmit},
		{pattern: "GET /account", kind: kindPage, who: whoPerson, handle: s.pageAccount},
		{pattern: "POST /account/sessions/{id}/revoke", kind: kindForm, who: whoPerson, handle: s.pageRevokeSession},
		{pattern: "POST /account/devices/{id}/revoke", kind: kindForm, who: whoPerson, handle: s.pageRevokeDevice},
		{pattern: "POST /signout", kind: kindForm, who: whoAnyone, handle: s.pageSignOut}, // ends the session if there is one
		{pattern: "GET /verify/confirm", kind: kindPage, who: whoPerson, handle: s.pageVerifyConfirm},
		{pattern: "POST /account/phone", kind: kindForm, who: whoPerson, handle: s.pageCorrectPhone},
		{pattern: "POST /verify/start", kind: kindForm, who: whoPerson, handle: s.pageVerifyStart},
		{pattern: "GET /verify/{id}", kind: kindPage, who: whoPerson, handle: s.pageVerify},
		{pattern: "POST /verify/{id}", kind: kindForm, who: whoPerson, secrets: []secret{secCode}, handle: s.pageVerifySubmit},
		{pattern: "GET /verify/{id}/status", kind: kindAPI, who: whoPerson, handle: s.pageVerifyStatus},
		{pattern: "GET /verify/{id}/help", kind: kindPage, who: whoPerson, handle: s.pageVerifyHelp},
		{pattern: "POST /verify/{id}/resend", kind: kindForm, who: whoPerson, handle: s.pageVerifyResend},
		{pattern: "GET /messages", kind: kindPage, who: whoPerson, handle: s.pageMessages},
		{pattern: "POST /messages/read", kind: kindForm, who: whoPerson, handle: s.pageMessagesRead},
		{pattern: "GET /check", kind: kindPage, who: whoAnyone, secrets: []secret{secNoticeRef}, handle: s.pageCheck},
		{pattern: "POST /check", kind: kindForm, who: whoAnyone, secrets: []secret{secNoticeRef}, handle: s.pageCheckSubmit},
		{pattern: "GET /account/activity.jsonl", kind: kindPage, who: whoPerson, handle: s.pageAccountActivity},

		// The second step of signing in, passkeys, security settings and
		// approve-or-deny prompts.
		{pattern: "GET /signin/verify", kind: kindPage, who: whoPending, handle: s.pageSigninVerify},
		{pattern: "POST /signin/verify", kind: kindForm, who: whoPending, secrets: []secret{secTOTP, secRecoveryCode, secCode}, handle: s.pageSigninVerifySubmit},
		{pattern: "POST /signin/verify/send", kind: kindForm, who: whoPending, handle: s.pageSigninVerifySend},
		{pattern: "POST /signin/verify/approval", kind: kindForm, who: whoPending, handle: s.pageSigninVerifyAsk},
		{pattern: "GET /signin/verify/status", kind: kindAPI, who: whoPending, handle: s.pageSigninVerifyStatus},
		{pattern: "POST /signin/verify/complete", kind: kindForm, who: whoPending, handle: s.pageSigninVerifyComplete},
		{pattern: "POST /signin/verify/passkey/options", kind: kindAPI, who: whoPending, handle: s.pageSigninVerifyPasskeyOptions},
		{pattern: "POST /signin/verify/passkey", kind: kindAPI, who: whoPending, secrets: []secret{secPasskey}, handle: s.pageSigninVerifyPasskey},
		{pattern: "POST /signin/passkey/options", kind: kindAPI, who: whoAnyone, handle: s.pagePasskeySignInOptions},
		{pattern: "POST /signin/passkey", kind: kindAPI, who: whoAnyone, secrets: []secret{secPasskey}, handle: s.pagePasskeySignIn},
		{pattern: "GET /account/security", kind: kindPage, who: whoPerson, handle: s.pageSecurity},
		{pattern: "GET /account/reauth", kind: kindPage, who: whoPerson, handle: s.pageReauth},
		{pattern: "POST /account/reauth", kind: kindForm, who: whoPerson, secrets: []secret{secPassword}, handle: s.pageReauthSubmit},
		{pattern: "POST /account/totp", kind: kindForm, who: whoPerson, handle: s.pageTOTPEnrol},
		{pattern: "POST /account/totp/{id}/confirm", kind: kindForm, who: whoPerson, handle: s.pageTOTPConfirm},
		{pattern: "POST /account/recovery-codes", kind: kindForm, who: whoPerson, handle: s.pageRecoveryCodes},
		{pattern: "POST /account/factors/{id}/rename", kind: kindForm, who: whoPerson, handle: s.pageFactorRename},
		{pattern: "POST /account/factors/{id}/remove", kind: kindForm, who: whoPerson, handle: s.pageFactorRemove},
		{pattern: "POST /account/twostep", kind: kindForm, who: whoPerson, handle: s.pageTwoStep},
		{pattern: "POST /account/devices/{id}/untrust", kind: kindForm, who: whoPerson, handle: s.pageUntrustDevice},
		{pattern: "POST /account/passkeys/options", kind: kindAPI, who: whoPerson, handle: s.pagePasskeyOptions},
		{pattern: "POST /account/passkeys", kind: kindAPI, who: whoPerson, handle: s.pagePasskeyAdd},
		{pattern: "GET /account/approvals.json", kind: kindAPI, who: whoPerson, handle: s.pageApprovalsJSON},
		{pattern: "POST /account/approvals/{id}", kind: kindForm, who: whoPerson, handle: s.pageApprovalDecide},
		{pattern: "GET /approve/{token}", kind: kindPage, who: whoAnyone, secrets: []secret{secApprovalToken}, handle: s.pageApproveLink},
		{pattern: "POST /approve/{token}", kind: kindForm, who: whoAnyone, secrets: []secret{secApprovalToken}, handle: s.pageApproveLinkSubmit},

		{pattern: "GET /help/signin", kind: kindPage, who: whoAnyone, handle: s.pageHelpSignIn},
		{pattern: "POST /help/signin", kind: kindForm, who: whoAnyone, handle: s.pageHelpSignInSubmit},
		{pattern: "GET /help/signin/{id}", kind: kindPage, who: whoAnyone, handle: s.pageHelpStep}, // the attempt's id, bound to the device that started it
		{pattern: "POST /help/signin/{id}/code", kind: kindForm, who: whoAnyone, secrets: []secret{secCode}, handle: s.pageHelpCode},
		{pattern: "POST /help/signin/{id}/second", kind: kindForm, who: whoAnyone, secrets: []secret{secTOTP, secRecoveryCode}, handle: s.pageHelpSecond},
		{pattern: "POST /help/signin/{id}/password", kind: kindForm, who: whoAnyone, handle: s.pageHelpPassword},
		{pattern: "GET /help/undo/{token}", kind: kindPage, who: whoAnyone, secrets: []secret{secUndoToken}, handle: s.pageUndo},
		{pattern: "POST /help/undo/{token}", kind: kindForm, who: whoAnyone, secrets: []secret{secUndoToken}, handle: s.pageUndoSubmit},
		{pattern: "GET /account/contact", kind: kindPage, who: whoPerson, handle: s.pageContact},
		{pattern: "POST /account/contact", kind: kindForm, who: whoPerson, secrets: []secret{secPassword}, handle: s.pageContactSubmit},
		{pattern: "GET /account/contact/{id}", kind: kindPage, who: whoPerson, handle: s.pageContactVerify},
		{pattern: "GET /account/contact/{id}/status", kind: kindAPI, who: whoPerson, handle: s.pageContactVerifyStatus},
		{pattern: "POST /account/contact/{id}", kind: kindForm, who: whoPerson, secrets: []secret{secCode}, handle: s.pageContactVerifySubmit},

		// A locked account's page and its ways out.
		{pattern: "GET /locked", kind: kindPage, who: whoLocked, handle: s.pageLocked},
		{pattern: "POST /locked/code", kind: kindForm, who: whoLocked, handle: s.pageLockedCode},
		{pattern: "GET /locked/code/{id}", kind: kindPage, who: whoLocked, handle: s.pageLockedCodeForm},
		{pattern: "GET /locked/code/{id}/status", kind: kindAPI, who: whoLocked, handle: s.pageLockedCodeStatus},
		{pattern: "POST /locked/code/{id}", kind: kindForm, who: whoLocked, secrets: []secret{secCode}, handle: s.pageLockedCodeSubmit},
		{pattern: "POST /locked/password", kind: kindForm, who: whoLocked, secrets: []secret{secPassword}, handle: s.pageLockedPassword},
		{pattern: "GET /locked/second-factor", kind: kindPage, who: whoLocked, handle: s.pageLockedSecond},
		{pattern: "POST /locked/second-factor", kind: kindForm, who: whoLocked, secrets: []secret{secTOTP}, handle: s.pageLockedSecondSubmit},
		{pattern: "POST /locked/passkey/options", kind: kindAPI, who: whoLocked, handle: s.pageLockedPasskeyOptions},
		{pattern: "POST /locked/passkey", kind: kindAPI, who: whoLocked, secrets: []secret{secPasskey}, handle: s.pageLockedPasskey},

		// Support requests without sign-in, and the agent console (desk).
		{pattern: "GET /support/new", kind: kindPage, who: whoAnyone, handle: s.pageSupportNew},
		{pattern: "POST /support/new", kind: kindForm, who: whoAnyone, handle: s.pageSupportSubmit},
		{pattern: "GET /support/challenge", kind: kindAPI, who: whoAnyone, handle: s.pageSupportChallenge},
		{pattern: "GET /support/case/{id}/{token}", kind: kindPage, who: whoAnyone, secrets: []secret{secStatusLink}, handle: s.pageSupportCase},
		{pattern: "POST /support/case/{id}/{token}/reply", kind: kindForm, who: whoAnyone, secrets: []secret{secStatusLink}, handle: s.pageSupportReply},
		{pattern: "GET /desk", kind: kindPage, who: whoAnyone, handle: s.pageDesk},
		{pattern: "POST /desk/signin", kind: kindForm, who: whoAnyone, secrets: []secret{secPassword}, handle: s.pageDeskSignIn},
		{pattern: "GET /desk/2fa", kind: kindPage, who: whoAgentStep, handle: s.pageDeskTwoStep},
		{pattern: "POST /desk/2fa", kind: kindForm, who: whoAgentStep, secrets: []secret{secTOTP}, handle: s.pageDeskTwoStepSubmit},
		{pattern: "POST /desk/signout", kind: kindForm, who: whoAnyone, handle: s.pageDeskSignOut}, // ends the agent's session if there is one
		{pattern: "GET /desk/cases/{id}", kind: kindPage, who: whoAgent, handle: s.pageDeskCase},
		{pattern: "POST /desk/cases/{id}/{action}", kind: kindForm, who: whoAgent, handle: s.pageDeskAction},

		// Moving an account to a new device (page_transfer.go).
		{pattern: "GET /transfer", kind: kindPage, who: whoAnyone, handle: s.pageTransfer},
		{pattern: "GET /transfer/offer", kind: kindPage, who: whoPerson, handle: s.pageTransferOffer},
		{pattern: "POST /transfer/offer", kind: kindForm, who: whoPerson, secrets: []secret{secPassword}, handle: s.pageTransferOfferSubmit},
		{pattern: "GET /transfer/offer/{id}/status", kind: kindAPI, who: whoAnyone, handle: s.pageTransferOfferStatus}, // answers only the device that made the offer
		{pattern: "GET /transfer/receive", kind: kindPage, who: whoAnyone, handle: s.pageTransferReceive},
		{pattern: "POST /transfer/receive", kind: kindForm, who: whoAnyone, secrets: []secret{secBindingCode}, handle: s.pageTransferReceiveSubmit},
		{pattern: "GET /transfer/start", kind: kindPage, who: whoAnyone, handle: s.pageTransferStart},
		{pattern: "POST /transfer/start", kind: kindForm, who: whoAnyone, secrets: []secret{secPassword}, handle: s.pageTransferStartSubmit},
		{pattern: "GET /transfer/phone", kind: kindPage, who: whoTransfer, handle: s.pageTransferPhone},
		{pattern: "POST /transfer/phone", kind: kindForm, who: whoTransfer, secrets: []secret{secPhone}, handle: s.pageTransferPhoneCheck},
		{pattern: "POST /transfer/phone/confirm", kind: kindForm, who: whoTransfer, handle: s.pageTransferPhoneConfirm},
		{pattern: "GET /transfer/ways", kind: kindPage, who: whoTransfer, handle: s.pageTransferWays},
		{pattern: "POST /transfer/send", kind: kindForm, who: whoTransfer, handle: s.pageTransferSend},
		{pattern: "POST /transfer/verify", kind: kindForm, who: whoTransfer, secrets: []secret{secCode, secTOTP}, handle: s.pageTransferVerify},
		{pattern: "POST /transfer/complete", kind: kindForm, who: whoTransfer, handle: s.pageTransferComplete},
		{pattern: "POST /transfer/grant", kind: kindForm, who: whoTransfer, handle: s.pageTransferGrant},
		{pattern: "POST /transfer/cancel", kind: kindForm, who: whoAnyone, handle: s.pageTransferCancel}, // cancels the transfer if there is one
		{pattern: "GET /transfer/status", kind: kindAPI, who: whoTransfer, handle: s.pageTransferStatus},
		{pattern: "POST /transfer/passkey/options", kind: kindAPI, who: whoTransfer, handle: s.pageTransferPasskeyOptions},
		{pattern: "POST /transfer/passkey", kind: kindAPI, who: whoTransfer, secrets: []secret{secPasskey}, handle: s.pageTransferPasskey},

		// JSON API for native apps.
		{pattern: "GET /api/v1/lock", kind: kindAPI, who: whoLocked, handle: s.apiLock},
		{pattern: "POST /api/v1/lock/code", kind: kindAPI, who: whoLocked, handle: s.apiLockCode},
		{pattern: "POST /api/v1/lock/code/{id}/verify", kind: kindAPI, who: whoLocked, secrets: []secret{secCode}, handle: s.apiLockCodeVerify},
		{pattern: "POST /api/v1/lock/password", kind: kindAPI, who: whoLocked, secrets: []secret{secPassword}, handle: s.apiLockPassword},
		{pattern: "POST /api/v1/lock/totp", kind: kindAPI, who: whoLocked, secrets: []secret{secTOTP}, handle: s.apiLockTOTP},
		{pattern: "POST /api/v1/accounts", kind: kindAPI, who: whoAnyone, handle: s.apiRegister},
		{pattern: "GET /api/v1/account", kind: kindAPI, who: whoPerson, handle: s.apiAccount},
		{pattern: "POST /api/v1/sessions", kind: kindAPI, who: whoAnyone, secrets: []secret{secPassword}, handle: s.apiSignIn},
		{pattern: "GET /api/v1/sessions", kind: kindAPI, who: whoPerson, handle: s.apiSessions},
		{pattern: "DELETE /api/v1/sessions/{id}", kind: kindAPI, who: whoPerson, handle: s.apiRevokeSession},
		{pattern: "DELETE /api/v1/session", kind: kindAPI, who: whoPerson, handle: s.apiSignOut},
		{pattern: "GET /api/v1/devices", kind: kindAPI, who: whoPerson, handle: s.apiDevices},
		{pattern: "DELETE /api/v1/devices/{id}", kind: kindAPI, who: whoPerson, handle: s.apiRevokeDevice},
		{pattern: "POST /api/v1/flows", kind: kindAPI, who: whoPerson, handle: s.apiStartFlow},
		{pattern: "GET /api/v1/flows/{id}", kind: kindAPI, who: whoPerson, handle: s.apiGetFlow},
		{pattern: "POST /api/v1/flows/{id}/resend", kind: kindAPI, who: whoPerson, handle: s.apiResendFlow},
		{pattern: "POST /api/v1/flows/{id}/verify", kind: kindAPI, who: whoPerson, secrets: []secret{secCode}, handle: s.apiVerifyFlow},
		{pattern: "GET /api/v1/notices", kind: kindAPI, who: whoPerson, handle: s.apiNotices},
		{pattern: "POST /api/v1/notices/read", kind: kindAPI, who: whoPerson, handle: s.apiNoticesRead},
		{pattern: "POST /api/v1/check", kind: kindAPI, who: whoAnyone, secrets: []secret{secNoticeRef}, handle: s.apiCheck},
		{pattern: "GET /api/v1/account/activity", kind: kindAPI, who: whoPerson, handle: s.apiAccountActivity},

		{pattern: "POST /api/v1/recoveries", kind: kindAPI, who: whoAnyone, handle: s.apiStartRecovery},
		{pattern: "GET /api/v1/recoveries/{id}", kind: kindAPI, who: whoAnyone, handle: s.apiGetRecovery},
		{pattern: "POST /api/v1/recoveries/{id}/code", kind: kindAPI, who: whoAnyone, secrets: []secret{secCode}, handle: s.apiRecoveryCode},
		{pattern: "POST /api/v1/recoveries/{id}/second", kind: kindAPI, who: whoAnyone, secrets: []secret{secTOTP, secRecoveryCode}, handle: s.apiRecoverySecond},
		{pattern: "POST /api/v1/recoveries/{id}/password", kind: kindAPI, who: whoAnyone, handle: s.apiRecoveryPassword},
		{pattern: "POST /api/v1/contact-changes", kind: kindAPI, who: whoPerson, secrets: []secret{secPassword}, handle: s.apiStartChange},
		{pattern: "POST /api/v1/contact-changes/{id}/verify", kind: kindAPI, who: whoPerson, secrets: []secret{secCode}, handle: s.apiVerifyChange},
		{pattern: "POST /api/v1/contact-changes/undo", kind: kindAPI, who: whoAnyone, secrets: []secret{secUndoToken}, handle: s.apiUndoChange},

		// The second step of signing in for apps, approvals and factors.
		{pattern: "POST /api/v1/signins/{id}", kind: kindAPI, who: whoPending, handle: s.apiPendingStatus},
		{pattern: "POST /api/v1/signins/{id}/code", kind: kindAPI, who: whoPending, handle: s.apiPendingCode},
		{pattern: "POST /api/v1/signins/{id}/verify", kind: kindAPI, who: whoPending, secrets: []secret{secCode, secTOTP, secRecoveryCode}, handle: s.apiPendingVerify},
		{pattern: "POST /api/v1/signins/{id}/approval", kind: kindAPI, who: whoPending, handle: s.apiPendingApproval},
		{pattern: "POST /api/v1/signins/{id}/passkey/options", kind: kindAPI, who: whoPending, handle: s.apiPendingPasskeyOptions},
		{pattern: "POST /api/v1/signins/{id}/passkey", kind: kindAPI, who: whoPending, secrets: []secret{secPasskey}, handle: s.apiPendingPasskey},
		{pattern: "GET /api/v1/approvals", kind: kindAPI, who: whoPerson, handle: s.apiApprovals},
		{pattern: "POST /api/v1/approvals/{id}", kind: kindAPI, who: whoPerson, handle: s.apiDecideApproval},
		{pattern: "GET /api/v1/factors", kind: kindAPI, who: whoPerson, handle: s.apiFactors},

		// Managing second factors from an app (api_factors.go).
		{pattern: "POST /api/v1/session/reauth", kind: kindAPI, who: whoPerson, secrets: []secret{secPassword}, handle: s.apiReauth},
		{pattern: "POST /api/v1/factors/totp", kind: kindAPI, who: whoPerson, handle: s.apiTOTPBegin},
		{pattern: "POST /api/v1/factors/totp/{id}/confirm", kind: kindAPI, who: whoPerson, handle: s.apiTOTPConfirm},
		{pattern: "POST /api/v1/factors/recovery-codes", kind: kindAPI, who: whoPerson, handle: s.apiRecoveryCodes},
		{pattern: "POST /api/v1/factors/passkeys/options", kind: kindAPI, who: whoPerson, handle: s.apiPasskeyOptions},
		{pattern: "POST /api/v1/factors/passkeys", kind: kindAPI, who: whoPerson, handle: s.apiPasskeyAdd},
		{pattern: "PATCH /api/v1/factors/{id}", kind: kindAPI, who: whoPerson, handle: s.apiFactorRename},
		{pattern: "DELETE /api/v1/factors/{id}", kind: kindAPI, who: whoPerson, handle: s.apiFactorDelete},
		{pattern: "PUT /api/v1/two-step", kind: kindAPI, who: whoPerson, handle: s.apiTwoStep},

		// Moving to a new device, for apps (api_transfers.go).
		{pattern: "POST /api/v1/transfers/offer", kind: kindAPI, who: whoPerson, secrets: []secret{secPassword}, handle: s.apiTransferOffer},
		{pattern: "POST /api/v1/transfers/receive", kind: kindAPI, who: whoAnyone, secrets: []secret{secBindingCode}, handle: s.apiTransferReceive},
		{pattern: "POST /api/v1/transfers", kind: kindAPI, who: whoAnyone, secrets: []secret{secPassword}, handle: s.apiTransferStart},
		{pattern: "POST /api/v1/transfers/{id}", kind: kindAPI, who: whoTransfer, handle: s.apiTransferStatus},
		{pattern: "POST /api/v1/transfers/{id}/phone", kind: kindAPI, who: whoTransfer, secrets: []secret{secPhone}, handle: s.apiTransferPhone},
		{pattern: "POST /api/v1/transfers/{id}/code", kind: kindAPI, who: whoTransfer, handle: s.apiTransferCode},
		{pattern: "POST /api/v1/transfers/{id}/verify", kind: kindAPI, who: whoTransfer, secrets: []secret{secCode, secTOTP}, handle: s.apiTransferVerify},

		// Host apps (API key).
		{pattern: routeIntrospect, kind: kindAPI, who: whoHost, handle: s.apiIntrospect},
		{pattern: "GET /api/v1/transfers/{id}", kind: kindAPI, who: whoHost, handle: s.apiTransferGet},
		{pattern: "POST /api/v1/webhooks", kind: kindAPI, who: whoHost, handle: s.apiWebhookSubscribe},
		{pattern: "GET /api/v1/webhooks", kind: kindAPI, who: whoHost, handle: s.apiWebhooks},
		{pattern: "DELETE /api/v1/webhooks/{id}", kind: kindAPI, who: whoHost, handle: s.apiWebhookDelete},
		{pattern: "GET /api/v1/webhooks/deliveries", kind: kindAPI, who: whoHost, handle: s.apiWebhookDeliveries},
		{pattern: "POST /api/v1/webhooks/deliveries/{id}/redeliver", kind: kindAPI, who: whoHost, handle: s.apiWebhookRedeliver},
		{pattern: "GET /api/v1/admin/audit", kind: kindAPI, who: whoAdmin, handle: s.apiAdminAudit},
		{pattern: "POST /api/v1/signals", kind: kindAPI, who: whoHost, handle: s.apiSignals},
		{pattern: "PUT /api/v1/accounts/{id}/knowledge", kind: kindAPI, who: whoHost, handle: s.apiKnowledge},

		// Operators (admin API keys).
		{pattern: "POST /api/v1/admin/locks/rollback", kind: kindAPI, who: whoAdmin, handle: s.apiAdminRollback},
		{pattern: "GET /api/v1/admin/breakers", kind: kindAPI, who: whoAdmin, handle: s.apiAdminBreakers},

		// Sign in with monban: OpenID Connect (oidc.go). The protocol
		// endpoints are one raw handler per path prefix; login and consent
		// are monban's own pages.
		{pattern: "GET /oauth/login", kind: kindPage, who: whoAnyone, handle: s.pageOIDCLogin},
		{pattern: "POST /oauth/consent", kind: kindForm, who: whoAnyone, handle: s.pageOIDCConsent}, // without a session: back to /oauth/login
		{pattern: "/.well-known/openid-configuration", kind: kindRaw, who: whoAnyone, raw: s.oidcProtocol()},
		{pattern: "/oauth/", kind: kindRaw, who: whoAnyone, raw: s.oidcProtocol()}, // the protocol authenticates clients and tokens
		{pattern: "GET /api/v1/admin/oidc/clients", kind: kindAPI, who: whoAdmin, handle: s.apiOIDCClients},
		{pattern: "POST /api/v1/admin/oidc/clients", kind: kindAPI, who: whoAdmin, handle: s.apiOIDCClientAdd},
		{pattern: "DELETE /api/v1/admin/oidc/clients/{id}", kind: kindAPI, who: whoAdmin, handle: s.apiOIDCClientRemove},

		// Delivery receipts from SMS and voice providers.
		{pattern: "GET /hooks/kannel/dlr", kind: kindAPI, who: whoProvider, handle: s.hookKannel},
		{pattern: "POST /hooks/provider/{name}/status", kind: kindAPI, who: whoProvider, handle: s.hookProvider},

		// Operations and documents.
		{pattern: "GET /api/openapi.yaml", kind: kindAPI, who: whoAnyone, handle: s.apiOpenAPI},
		{pattern: "GET /healthz", kind: kindAPI, who: whoAnyone, handle: s.healthz},
		{pattern: "GET /readyz", kind: kindAPI, who: whoAnyone, handle: s.readyz},
		{pattern: "GET /metrics", kind: kindRaw, who: whoAnyone, raw: s.metrics.handler()},
		{pattern: "GET /static/", kind: kindRaw, who: whoAnyone, raw: staticHandler()},
	}
	if s.cfg.Dev {
		rs = append(rs,
			route{pattern: "GET /dev/outbox", kind: kindPage, who: whoDev, handle: s.devOutboxPage},
			route{pattern: "GET /dev/outbox.json", kind: kindAPI, who: whoDev, handle: s.devOutboxJSON},
			route{pattern: "POST /dev/outbox/{id}/receipt", kind: kindForm, who: whoDev, handle: s.devReceipt},
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

func (s *Server) buildMux() (http.Handler, error) {
	mux := http.NewServeMux()
	s.mux = mux
	cop := http.NewCrossOriginProtection()
	rs := s.routes()
	if err := checkRoutes(rs); err != nil {
		return nil, err
	}
	for _, rt := range rs {
		var h http.Handler
		switch rt.kind {
		case kindRaw:
			h = rt.raw
		case kindAPI:
			h = s.apiHandler(s.admit(rt, s.checkBody(rt.handle)))
		case kindPage:
			h = s.pageHandler(s.admit(rt, rt.handle))
		case kindForm:
			h = cop.Handler(s.formHandler(s.admit(rt, rt.handle)))
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
	}), nil
}

func (s *Server) apiHandler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeProblem(w, r, err)
		}
	})
}

// checkBody refuses a bad JSON body against the route's schema before
// anything is looked up or spent. It runs after the caller was admitted
// (admit), so a request without credentials is refused as such whatever
// its body.
func (s *Server) checkBody(h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.schemas[r.Pattern] != nil {
			b, err := s.checkedBody(w, r)
			if err != nil {
				return err
			}
			r = r.WithContext(context.WithValue(r.Context(), bodyKey, b))
		}
		return h(w, r)
	}
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
		if !validUTF8Form(r.Form) { // %FF would reach the handler as a byte no person typed
			s.writePageError(w, r, monban.Errorf(monban.EInvalid, "request.invalid_utf8"))
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

// validUTF8Form reports whether every name and value of a parsed form
// (body and query) is valid UTF-8.
func validUTF8Form(f url.Values) bool {
	for k, vs := range f {
		if !utf8.ValidString(k) {
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
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
