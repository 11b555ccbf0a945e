package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/codes"
)

// Every failure page ends at a human: the layout shows the "None of these
// work" box (templates/_human.html) on every page not listed in noHuman,
// linking the support form with the category, the flow and the channel that
// failed filled in. A new page gets the box unless it is named here, with
// the reason; TestHumanOnEveryFailurePage walks the templates.

// noHuman are the pages that are not a way in and cannot fail a person
// trying to get in: the support form itself, the signed-in account pages,
// the agents' desk and developer tools.
var noHuman = map[string]string{
	"support_new": "is the support form", "support_filed": "is the filed case", "support_case": "is the case page",
	"account": "signed in", "security": "signed in", "messages": "signed in", "recovery_codes": "signed in, shows codes",
	"totp_enrol": "signed in", "oidc_consent": "signed in, an app asks for consent",
	"desk_case": "agents", "desk_queue": "agents", "desk_signin": "agents", "desk_2fa": "agents",
	"dev_outbox": "developers",
}

// humanFlow names, per page, which flow the person was in and the support
// category it belongs to. Pages not named here ask under cant_sign_in.
var humanFlow = map[string][2]string{
	"verify": {"signup", monban.CaseCodeNotArriving}, "verify_help": {"signup", monban.CaseCodeNotArriving},
	"confirm": {"signup", monban.CaseCodeNotArriving},
	// The sign-up page fails a person when it refuses a contact (a number
	// that cannot get SMS): the box says the situation is filled in.
	"signup":        {"signup", monban.CaseCantSignIn},
	"signin_verify": {"signin", monban.CaseCantSignIn}, "twostep_sms": {"signin", monban.CaseCantSignIn},
	"help_signin": {"login_help", monban.CaseCantSignIn}, "help_step": {"login_help", monban.CaseCantSignIn},
	"help_undo": {"login_help", monban.CaseTakeover}, "choose": {"login_help", monban.CaseCantSignIn},
	"locked": {"locked", monban.CaseLocked}, "locked_code": {"locked", monban.CaseLocked}, "locked_second": {"locked", monban.CaseLocked},
	"contact_change": {"contact_change", monban.CaseCodeNotArriving}, "contact_verify": {"contact_change", monban.CaseCodeNotArriving},
	"transfer": {"transfer", monban.CaseTransfer}, "transfer_start": {"transfer", monban.CaseTransfer},
	"transfer_phone": {"transfer", monban.CaseTransfer}, "transfer_ways": {"transfer", monban.CaseTransfer},
	"transfer_receive": {"transfer", monban.CaseTransfer}, "transfer_offer": {"transfer", monban.CaseTransfer},
}

// failedChanneler is page data that knows its last message went astray.
type failedChanneler interface{ failedChannel(now time.Time) string }

func (f flowView) failedChannel(now time.Time) string {
	if f.Last != nil && codes.Undelivered(f.Last, now) {
		return string(f.Last.Channel)
	}
	return ""
}

func (p signinVerifyPage) failedChannel(now time.Time) string {
	if p.Code == nil {
		return ""
	}
	return p.Code.failedChannel(now)
}

func (p waysPage) failedChannel(now time.Time) string {
	if p.Failed && p.View != nil && p.View.Code != nil && len(p.View.Code.Messages) > 0 {
		return string(p.View.Code.Messages[0].Channel)
	}
	return ""
}

// humanURL is the support form's address for a page, or "" when the page
// does not show the box. The error page shows it for refusals and limits.
func (s *Server) humanURL(name string, v *View, status int) string {
	if _, ok := noHuman[name]; ok {
		return ""
	}
	flow, category := "", monban.CaseCantSignIn
	if fc, ok := humanFlow[name]; ok {
		flow, category = fc[0], fc[1]
	}
	if name == "error" {
		switch status {
		case http.StatusTooManyRequests:
			flow = "limit"
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict, http.StatusLocked:
			flow = "error"
		default:
			return ""
		}
	}
	if p, ok := v.Data.(signinVerifyPage); ok && p.Reason == monban.HoldNewDevice {
		flow = "signin_new_device"
	}
	q := url.Values{"category": {category}}
	if flow != "" {
		q.Set("flow", flow)
	}
	if fc, ok := v.Data.(failedChanneler); ok {
		if ch := fc.failedChannel(s.clock.Now()); ch != "" {
			q.Set("failed", ch)
		}
	}
	if v.Lang != "" {
		q.Set("lang", v.Lang)
	}
	return "/support/new?" + q.Encode()
}
