package web

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/desk"
	"github.com/monban-dev/monban/internal/risk"
)

// The agent console lives under /desk with its own cookie, short sessions
// and a mandatory authenticator app; it shares nothing with account
// sessions.

func (s *Server) deskCookieName() string {
	if s.cfg.Dev {
		return "monban_desk"
	}
	return "__Host-monban_desk"
}

func (s *Server) setDeskCookie(w http.ResponseWriter, tok string) {
	c := s.cookie(s.deskCookieName(), tok, 0)
	c.SameSite = http.SameSiteStrictMode
	http.SetCookie(w, c)
}

// deskAgent returns the signed-in agent at any session level, or nil.
func (s *Server) deskAgent(r *http.Request) *desk.Agent {
	if c := callerOf(r, whoAgent, whoAgentStep); c != nil {
		return c.agent
	}
	return s.deskCookieAgent(r)
}

func (s *Server) deskCookieAgent(r *http.Request) *desk.Agent {
	c, err := r.Cookie(s.deskCookieName())
	if err != nil || s.desk == nil {
		return nil
	}
	a, err := s.desk.Authenticate(r.Context(), c.Value)
	if err != nil {
		return nil
	}
	return a
}

// deskFull returns the agent with a full (2-step) session, or redirects to
// the sign-in or code step and returns nil.
func (s *Server) deskFull(w http.ResponseWriter, r *http.Request) *desk.Agent {
	a := s.deskAgent(r)
	switch {
	case a == nil:
		http.Redirect(w, r, "/desk", http.StatusSeeOther)
		return nil
	case a.Session.Level < desk.LevelFull:
		http.Redirect(w, r, "/desk/2fa", http.StatusSeeOther)
		return nil
	}
	return a
}

// deskView is the common data of console pages.
type deskView struct {
	Agent *desk.Agent
	Can   map[string]bool
	Page  any
}

func (s *Server) deskView(w http.ResponseWriter, r *http.Request, title string, a *desk.Agent, page any) *View {
	v := s.view(w, r, title)
	can := map[string]bool{}
	if a != nil {
		for _, act := range desk.Actions {
			can[string(act)] = desk.Allowed(a.Role, act)
		}
	}
	v.Data = deskView{Agent: a, Can: can, Page: page}
	return v
}

func (s *Server) deskError(w http.ResponseWriter, r *http.Request, v *View, page string, err error) {
	e := s.problemOf(r, err)
	setRetryAfter(w, e, s.clock.Now())
	v.Error, v.ErrField = v.T(e.Key, s.withRetryTime(e, v.Lang)), e.Field
	s.render(w, r, statusOf[e.Code], page, v)
}

// pageDesk is the sign-in form, or the queue once signed in.
func (s *Server) pageDesk(w http.ResponseWriter, r *http.Request) error {
	if s.desk == nil {
		return errNotFound()
	}
	a := s.deskAgent(r)
	if a == nil {
		s.render(w, r, http.StatusOK, "desk_signin", s.deskView(w, r, "desk.signin_title", nil, nil))
		return nil
	}
	if a.Session.Level < desk.LevelFull {
		http.Redirect(w, r, "/desk/2fa", http.StatusSeeOther)
		return nil
	}
	return s.pageDeskQueue(w, r, a)
}

func (s *Server) pageDeskSignIn(w http.ResponseWriter, r *http.Request) error {
	if s.desk == nil {
		return errNotFound()
	}
	tok, err := s.desk.SignIn(r.Context(), r.PostForm.Get("username"), r.PostForm.Get("password"), clientIP(r), r.UserAgent())
	if err != nil {
		v := s.deskView(w, r, "desk.signin_title", nil, nil)
		v.Form.Set("username", r.PostForm.Get("username"))
		s.deskError(w, r, v, "desk_signin", err)
		return nil
	}
	s.setDeskCookie(w, tok)
	http.Redirect(w, r, "/desk/2fa", http.StatusSeeOther)
	return nil
}

// deskTwoStepPage enrols an authenticator on first sign-in, else asks for
// its code.
type deskTwoStepPage struct {
	Enrol *desk.Enrolment
	// QR is the enrolment's data: URL, drawn by the server; html/template
	// would blank an untyped one.
	QR template.URL
}

func newDeskTwoStepPage(e *desk.Enrolment) deskTwoStepPage {
	if e == nil {
		return deskTwoStepPage{}
	}
	return deskTwoStepPage{Enrol: e, QR: template.URL(e.QR)}
}

func (s *Server) pageDeskTwoStep(w http.ResponseWriter, r *http.Request) error {
	a := s.deskAgent(r)
	if a == nil {
		http.Redirect(w, r, "/desk", http.StatusSeeOther)
		return nil
	}
	p := deskTwoStepPage{}
	if !a.Enrolled {
		e, err := s.desk.StartEnrol(r.Context(), a)
		if err != nil {
			return err
		}
		p = newDeskTwoStepPage(e)
	}
	s.render(w, r, http.StatusOK, "desk_2fa", s.deskView(w, r, "desk.twostep_title", a, p))
	return nil
}

func (s *Server) pageDeskTwoStepSubmit(w http.ResponseWriter, r *http.Request) error {
	a := s.deskAgent(r)
	if a == nil {
		http.Redirect(w, r, "/desk", http.StatusSeeOther)
		return nil
	}
	code := r.PostForm.Get("code")
	var err error
	if sealed := r.PostForm.Get("enrol"); sealed != "" && !a.Enrolled {
		err = s.desk.ConfirmEnrol(r.Context(), a, sealed, code)
	} else {
		err = s.desk.VerifyCode(r.Context(), a, code)
	}
	if err != nil {
		p := deskTwoStepPage{}
		if !a.Enrolled {
			// Keep the same key on the page: the app already has it.
			p = newDeskTwoStepPage(s.desk.ResumeEnrol(a, r.PostForm.Get("enrol")))
		}
		s.deskError(w, r, s.deskView(w, r, "desk.twostep_title", a, p), "desk_2fa", err)
		return nil
	}
	http.Redirect(w, r, "/desk", http.StatusSeeOther)
	return nil
}

func (s *Server) pageDeskSignOut(w http.ResponseWriter, r *http.Request) error {
	if a := s.deskAgent(r); a != nil {
		if err := s.desk.SignOut(r.Context(), a); err != nil {
			return err
		}
	}
	http.SetCookie(w, s.cookie(s.deskCookieName(), "", -time.Second))
	http.Redirect(w, r, "/desk", http.StatusSeeOther)
	return nil
}

// deskQueuePage is the queue with its filters, counts and, for leads, the
// desk's numbers.
type deskQueuePage struct {
	Cases      []monban.Case
	Linked     map[string][]string // case id → refs of the account's other open cases
	Counts     map[string]int
	Filter     monban.CaseFilter
	Age        string
	Categories []string
	Statuses   []string
	Now        time.Time
	Metrics    *monban.CaseMetrics
}

var queueAges = map[string]time.Duration{"1h": time.Hour, "1d": 24 * time.Hour, "3d": 72 * time.Hour}

func (s *Server) pageDeskQueue(w http.ResponseWriter, r *http.Request, a *desk.Agent) error {
	q := r.URL.Query()
	f := monban.CaseFilter{Category: q.Get("category"), Status: q.Get("status"), Lang: q.Get("lang"), OlderThan: queueAges[q.Get("age")]}
	if f.Category != "" && !slices.Contains(monban.CaseCategories, f.Category) {
		f.Category = ""
	}
	if f.Status != "" && f.Status != "all" && !slices.Contains(monban.CaseStatuses, f.Status) {
		f.Status = ""
	}
	if f.Lang != "ja" && f.Lang != "en" {
		f.Lang = ""
	}
	cases, counts, err := s.desk.Queue(r.Context(), a, f)
	if err != nil {
		return err
	}
	linked, err := s.desk.Linked(r.Context(), a, cases)
	if err != nil {
		return err
	}
	p := deskQueuePage{Cases: cases, Linked: linked, Counts: counts, Filter: f, Age: q.Get("age"), Categories: monban.CaseCategories,
		Statuses: monban.CaseStatuses, Now: s.clock.Now()}
	if desk.Allowed(a.Role, desk.ActMetrics) {
		if p.Metrics, err = s.desk.Metrics(r.Context(), a, s.clock.Now().Add(-30*24*time.Hour)); err != nil {
			return err
		}
	}
	s.render(w, r, http.StatusOK, "desk_queue", s.deskView(w, r, "desk.queue_title", a, p))
	return nil
}

// deskCasePage is one case with the account's timeline and the checklist.
type deskCasePage struct {
	*desk.CaseView
	Results   []desk.CheckResult
	Fields    []string
	Steps     []string
	Templates []string
	Statuses  []string
	Now       time.Time
	// Evidence is the lock in force's evidence, read for the table; nil
	// when there is none or it is not a rule's.
	Evidence *risk.Evidence
}

func (s *Server) pageDeskCase(w http.ResponseWriter, r *http.Request) error {
	a := s.deskFull(w, r)
	if a == nil {
		return nil
	}
	return s.renderDeskCase(w, r, a, nil, nil, s.deskDoneNotice(r))
}

func (s *Server) renderDeskCase(w http.ResponseWriter, r *http.Request, a *desk.Agent, results []desk.CheckResult, actErr error, notice string) error {
	cv, err := s.desk.Case(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	p := deskCasePage{CaseView: cv, Results: results, Fields: monban.KnowledgeFields, Steps: monban.GrantSteps,
		Templates: desk.ReplyTemplateNames, Statuses: monban.CaseStatuses, Now: s.clock.Now()}
	if cv.Lock != nil {
		if e, ok := risk.ParseEvidence(cv.Lock.Evidence); ok {
			p.Evidence = &e
		}
	}
	v := s.deskView(w, r, "desk.case_title", a, p)
	if notice != "" {
		v.Notice = v.T(notice)
	}
	if actErr != nil {
		s.deskError(w, r, v, "desk_case", actErr)
		return nil
	}
	s.render(w, r, http.StatusOK, "desk_case", v)
	return nil
}

// pageDeskAction runs one action on a case and shows the case again with
// the result; a refusal changes nothing and says why.
func (s *Server) pageDeskAction(w http.ResponseWriter, r *http.Request) error {
	a := s.deskFull(w, r)
	if a == nil {
		return nil
	}
	id, f := r.PathValue("id"), r.PostForm
	ctx := r.Context()
	var err error
	var results []desk.CheckResult
	notice := "desk.done." + r.PathValue("action")
	switch r.PathValue("action") {
	case "check":
		answers := map[string]string{}
		for _, k := range monban.KnowledgeFields {
			answers[k] = f.Get(k)
		}
		results, err = s.desk.CheckIdentity(ctx, a, id, answers)
		notice = ""
	case "lift":
		_, err = s.desk.LiftLock(ctx, a, id)
	case "grant":
		hours, _ := strconv.Atoi(f.Get("hours"))
		_, err = s.desk.GrantBypass(ctx, a, id, f.Get("step"), time.Duration(hours)*time.Hour)
	case "phone":
		err = s.desk.VerifyPhone(ctx, a, id, f.Get("phone"))
	case "reset-2fa":
		err = s.desk.ResetTwoStep(ctx, a, id)
	case "reply":
		err = s.desk.Reply(ctx, a, id, f.Get("template"), f.Get("text"), f.Get("status"))
	case "status":
		err = s.desk.SetStatus(ctx, a, id, f.Get("status"))
	default:
		return errNotFound()
	}
	if err != nil {
		notice = ""
	}
	if err == nil && results == nil {
		// Post/redirect/get, so a reload does not repeat the action.
		http.Redirect(w, r, "/desk/cases/"+url.PathEscape(id)+"?done="+url.QueryEscape(r.PathValue("action")), http.StatusSeeOther)
		return nil
	}
	return s.renderDeskCase(w, r, a, results, err, notice)
}

// deskDoneNotice names what the last action did, from ?done=.
func (s *Server) deskDoneNotice(r *http.Request) string {
	d := r.URL.Query().Get("done")
	if d == "" || strings.ContainsAny(d, "./") {
		return ""
	}
	return "desk.done." + d
}
