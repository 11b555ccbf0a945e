package web

import (
	"time"

	"net/http"

	"github.com/monban-dev/monban"
)

// Approve-or-deny prompts, answered from a signed-in session (the account
// page polls approvals.json) or through the one-time link.

type promptJSON struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	Question  string `json:"question"`
	Device    string `json:"device"`
	IP        string `json:"ip"`
	At        string `json:"at"`
	ExpiresAt string `json:"expires_at"`
}

// pageApprovalsJSON lists the prompts this session may answer, with their
// text in the page's language.
func (s *Server) pageApprovalsJSON(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.pageCurrent(r)
	if err != nil {
		return err
	}
	if cur == nil {
		return monban.Errorf(monban.EUnauthorized, "session.invalid")
	}
	ps, err := s.twostep.Prompts(r.Context(), cur)
	if err != nil {
		return err
	}
	lang := s.cat.Lang(r)
	out := []promptJSON{}
	for _, p := range ps {
		title := "approval.title"
		if p.Reason == monban.HoldTransfer {
			title = "transfer.approval_title"
		}
		out = append(out, promptJSON{ID: p.ID, Title: s.cat.T(lang, title, nil), Device: p.Device, IP: p.IP,
			At: pageFuncs["fmtTime"].(func(string, time.Time) string)(lang, p.At), ExpiresAt: localClock(lang, p.ExpiresAt),
			Question: s.cat.T(lang, approvalQuestion(p.Reason), map[string]any{"device": p.Device, "ip": p.IP})})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"prompts": out,
		"labels": map[string]string{"approve": s.cat.T(lang, "approval.approve", nil), "deny": s.cat.T(lang, "approval.deny", nil),
			"title": s.cat.T(lang, "approval.title", nil), "until": s.cat.T(lang, "approval.until", nil)}})
}

// approvalQuestion is the prompt's question: a transfer to a new device
// asks something else than a sign-in.
func approvalQuestion(reason string) string {
	if reason == monban.HoldTransfer {
		return "transfer.approval_question"
	}
	return "approval.question"
}

// pageApprovalDecide approves or denies from the account page.
func (s *Server) pageApprovalDecide(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	approve := r.PostFormValue("decision") == "approve"
	if err := s.twostep.Decide(r.Context(), cur, r.PathValue("id"), approve, s.meta(r, monban.SessionWeb, s.deviceID(r))); err != nil {
		return err
	}
	done := "approved"
	if !approve {
		done = "denied"
	}
	http.Redirect(w, r, "/account/security?done="+done, http.StatusSeeOther)
	return nil
}

type approveLinkPage struct {
	Token, Device, IP string
	At                string
}

// pageApproveLink shows the prompt a one-time link opens.
func (s *Server) pageApproveLink(w http.ResponseWriter, r *http.Request) error {
	p, err := s.twostep.LinkPrompt(r.Context(), r.PathValue("token"), clientIP(r))
	if err != nil {
		return err
	}
	v := s.view(w, r, "approval.title")
	v.Data = approveLinkPage{Token: r.PathValue("token"), Device: p.Device, IP: p.IP,
		At: pageFuncs["fmtTime"].(func(string, time.Time) string)(v.Lang, p.At)}
	s.render(w, r, http.StatusOK, "approve_link", v)
	return nil
}

// pageApproveLinkSubmit decides through the one-time link.
func (s *Server) pageApproveLinkSubmit(w http.ResponseWriter, r *http.Request) error {
	approve := r.PostFormValue("decision") == "approve"
	if err := s.twostep.DecideByLink(r.Context(), r.PathValue("token"), approve, s.meta(r, monban.SessionWeb, s.deviceID(r))); err != nil {
		return err
	}
	v := s.view(w, r, "approval.title")
	if approve {
		v.Notice = v.T("approval.done_approved")
	} else {
		v.Notice = v.T("approval.done_denied")
	}
	v.Data = approveLinkPage{}
	s.render(w, r, http.StatusOK, "approve_link", v)
	return nil
}
