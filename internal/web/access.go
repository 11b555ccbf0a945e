package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/delivery"
	"github.com/monban-dev/monban/internal/desk"
	"github.com/monban-dev/monban/internal/transfer"
	"github.com/monban-dev/monban/internal/twostep"
)

// principal is who may call a route. The wrapper buildMux puts around each
// handler resolves it before the handler runs, refuses the request without
// it in the route's format, and leaves it with the request (reqInfo), where
// the helpers handlers already call (pageCurrent, apiCurrent, hostKey, …)
// find it.
type principal string

const (
	whoAnyone principal = "anyone" // no credential (a handler may still read an optional session)
	// whoPerson is a signed-in, unlocked session: the session cookie on
	// pages, the bearer token under /api/. A locked session is refused
	// with account.locked (pages: to /locked).
	whoPerson principal = "person"
	// whoLocked is a session admitted under its lock: the lock pages and
	// their ways out. Pages send a session without a lock on to /account;
	// GET /api/v1/lock answers such a session "not locked".
	whoLocked principal = "locked"
	// whoPending is a sign-in held for its second step: the pending cookie
	// on pages; under /api/ the held sign-in's id is in the path and its
	// secret in the JSON body, which the twostep service checks.
	whoPending principal = "pending"
	// whoTransfer is the new device of a transfer: the transfer cookie on
	// pages; under /api/ the id in the path and the secret in the body,
	// which the transfer service checks.
	whoTransfer  principal = "transfer"
	whoHost      principal = "host"       // a host app's API key (bearer)
	whoAdmin     principal = "admin"      // an API key created with --admin
	whoAgent     principal = "agent"      // a desk agent's full (2-step) session; roles are per action (desk.Allowed)
	whoAgentStep principal = "agent_step" // a desk agent past the password, before or after the code
	whoDev       principal = "dev"        // development mode only (the dev outbox)
	whoProvider  principal = "provider"   // a delivery-receipt provider, authenticated by its receipt parser
)

// secret is a guessable thing a route checks, which a limit must guard.
// Session cookies, bearer tokens and API keys are the principal, not a
// secret; a code that confirms a factor the caller is enrolling proves
// nothing about the caller and is not listed.
type secret string

const (
	secPassword      secret = "password"
	secTOTP          secret = "totp"
	secRecoveryCode  secret = "recovery_code"
	secCode          secret = "code"         // a one-time code sent by SMS, email or voice
	secBindingCode   secret = "binding_code" // the code the old device shows a new one
	secPhone         secret = "phone"        // the full number behind a masked one
	secStatusLink    secret = "status_link"  // a support case's status link
	secNoticeRef     secret = "notice_ref"   // a notice's reference, at the public check
	secUndoToken     secret = "undo_token"
	secApprovalToken secret = "approval_token"
	// secPasskey is a WebAuthn assertion: a signature over a fresh
	// challenge, nothing to guess; listed so the table says where.
	secPasskey secret = "passkey"
)

// checkRoutes refuses a table with a route that does not say who may call
// it, names an unknown principal, or is a raw handler with a principal the
// wrapper cannot resolve.
func checkRoutes(rs []route) error {
	for _, rt := range rs {
		switch rt.who {
		case whoAnyone, whoPerson, whoLocked, whoPending, whoTransfer, whoHost, whoAdmin,
			whoAgent, whoAgentStep, whoDev, whoProvider:
		case "":
			return fmt.Errorf("web: route %q does not say who may call it", rt.pattern)
		default:
			return fmt.Errorf("web: route %q: unknown principal %q", rt.pattern, rt.who)
		}
		if rt.kind == kindRaw && (rt.who != whoAnyone || len(rt.secrets) > 0) {
			return fmt.Errorf("web: raw route %q cannot have its caller resolved", rt.pattern)
		}
	}
	return nil
}

// caller is the principal the wrapper resolved for a request.
type caller struct {
	who      principal
	cur      *account.Current  // person, locked
	key      *monban.APIKey    // host, admin
	agent    *desk.Agent       // agent, agent_step
	pending  *twostep.Finish   // pending (pages)
	transfer *transfer.Handle  // transfer (pages)
	receipt  *delivery.Receipt // provider
}

// callerOf returns the resolved caller if it is of kind who.
func callerOf(r *http.Request, who ...principal) *caller {
	ri, _ := r.Context().Value(requestIDKey).(*reqInfo)
	if ri == nil {
		return nil
	}
	c := &ri.caller
	for _, w := range who {
		if c.who == w {
			return c
		}
	}
	return nil
}

// admit wraps a route's handler: the route's principal is resolved first
// and left in the request's reqInfo for the handler; without it the
// handler does not run. Refusals that are errors go back to the route's kind handler, which
// writes them as a page or problem+json; the redirects the pages used
// before the table said who may call them are written here.
func (s *Server) admit(rt route, h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	if rt.who == whoAnyone {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		ri, _ := r.Context().Value(requestIDKey).(*reqInfo)
		if ri == nil { // not served through observe (buildMux wraps every route in it)
			return monban.Internalf("route %s: no request info", rt.pattern)
		}
		if ok, err := s.resolve(rt, w, r, &ri.caller); !ok {
			ri.caller = caller{}
			return err
		}
		return h(w, r)
	}
}

// resolve finds the caller of a route into c, or refuses: (false, err) for
// an error the kind handler writes, (false, nil) after writing a redirect.
func (s *Server) resolve(rt route, w http.ResponseWriter, r *http.Request, c *caller) (bool, error) {
	api := strings.HasPrefix(r.URL.Path, "/api/")
	redirect := func(to string) (bool, error) {
		http.Redirect(w, r, to, http.StatusSeeOther)
		return false, nil
	}
	*c = caller{who: rt.who}
	switch rt.who {
	case whoPerson:
		if api {
			cur, err := s.authBearer(r, r.Context())
			if err != nil {
				return false, err
			}
			c.cur = cur
			return true, nil
		}
		cur, err := s.authCookie(r, r.Context())
		switch {
		case err != nil:
			return false, err
		case cur == nil && rt.kind == kindAPI:
			return false, monban.Errorf(monban.EUnauthorized, "session.invalid")
		case cur == nil:
			return redirect("/signin")
		}
		c.cur = cur
	case whoLocked:
		ctx := account.AllowLocked(r.Context())
		if api {
			cur, err := s.authBearer(r, ctx)
			if err != nil {
				return false, err
			}
			c.cur = cur
			return true, nil
		}
		cur, err := s.authCookie(r, ctx)
		switch {
		case err != nil:
			return false, err
		case rt.kind == kindAPI && (cur == nil || cur.Lock == nil):
			return false, errNotLockedNow()
		case cur == nil:
			return redirect("/signin")
		case cur.Lock == nil:
			return redirect("/account")
		}
		c.cur = cur
	case whoPending:
		if api {
			return true, nil // id and secret travel in the body (apiFinish)
		}
		f, err := s.pendingCookie(r)
		switch {
		case err == nil:
			c.pending = &f
		case rt.kind == kindAPI:
			return false, err
		case rt.kind == kindPage:
			return redirect("/signin")
		default:
			return false, s.pendingOver(w, r, err)
		}
	case whoTransfer:
		if api {
			return true, nil // id and secret travel in the body (apiHandle)
		}
		th, ok := s.transferCookie(r)
		switch {
		case ok:
			c.transfer = &th
		case rt.kind == kindAPI:
			return false, monban.Errorf(monban.EUnauthorized, "transfer.invalid")
		default:
			return false, s.transferOver(w, r, monban.Errorf(monban.EUnauthorized, "transfer.invalid"))
		}
	case whoHost, whoAdmin:
		k, err := s.checkKey(r)
		if err != nil {
			return false, err
		}
		if rt.who == whoAdmin && !k.Admin {
			return false, monban.Errorf(monban.EForbidden, "apikey.not_admin")
		}
		c.key = k
	case whoAgent, whoAgentStep:
		a := s.deskCookieAgent(r)
		switch {
		case a == nil:
			return redirect("/desk")
		case rt.who == whoAgent && a.Session.Level < desk.LevelFull:
			return redirect("/desk/2fa")
		}
		c.agent = a
	case whoDev:
		if !s.cfg.Dev {
			return false, errNotFound()
		}
	case whoProvider:
		name := r.PathValue("name")
		if strings.HasPrefix(r.URL.Path, "/hooks/kannel/") {
			name = "kannel"
		} else if name == "kannel" {
			return false, errNotFound()
		}
		parse, ok := s.parsers[name]
		if !ok {
			return false, errNotFound()
		}
		if name != "kannel" {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		rc, err := parse(r)
		if err != nil {
			return false, errReceipt(err)
		}
		c.receipt = &rc
	default:
		return false, monban.Internalf("route %s: principal %q", rt.pattern, rt.who)
	}
	return true, nil
}
