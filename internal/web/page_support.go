package web

import (
	"net/http"
	"slices"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/desk"
)

// supportPage is the request form: open to anyone, signed in or not.
type supportPage struct {
	Categories []string
	Filed      *desk.Filed
	Context    string // where the person came from, in their words ("" if from nowhere)
}

// pageSupportNew shows the request form; ?category= preselects one (the
// lock page links category=locked, login help category=cant_sign_in).
func (s *Server) pageSupportNew(w http.ResponseWriter, r *http.Request) error {
	if s.desk == nil {
		return errNotFound()
	}
	v := s.view(w, r, "support.title")
	if c := r.URL.Query().Get("category"); slices.Contains(monban.CaseCategories, c) {
		v.Form.Set("category", c)
	}
	if id := r.URL.Query().Get("identifier"); len(id) <= 200 {
		v.Form.Set("identifier", id)
	}
	// A failure page's "None of these work" names the flow and the channel
	// that failed: shown, sent back with the form and recorded in the case.
	q := r.URL.Query()
	if f := q.Get("flow"); slices.Contains(desk.Flows, f) {
		v.Form.Set("flow", f)
		if c := q.Get("failed"); slices.Contains(desk.FailedChannels, c) {
			v.Form.Set("failed", c)
		}
		where := desk.ContextLabel(v.Lang, "flow."+f)
		if c := v.Form.Get("failed"); c != "" {
			v.Form.Set("description", v.T("support.prefill_failed", "where", where, "channel", desk.ContextLabel(v.Lang, "channel."+c)))
		} else {
			v.Form.Set("description", v.T("support.prefill", "where", where))
		}
	}
	v.Data = supportPage{Categories: monban.CaseCategories, Context: desk.Context(v.Lang, v.Form.Get("flow"), v.Form.Get("failed"))}
	s.render(w, r, http.StatusOK, "support_new", v)
	return nil
}

// pageSupportSubmit files a request. A known and an unknown identifier get
// the same page, word for word; a merged repeat says which case it joined.
func (s *Server) pageSupportSubmit(w http.ResponseWriter, r *http.Request) error {
	if s.desk == nil {
		return errNotFound()
	}
	v := s.view(w, r, "support.title")
	f := r.PostForm
	req := desk.Request{Identifier: f.Get("identifier"), Contact: f.Get("contact"), Category: f.Get("category"),
		Platform: f.Get("platform"), Device: f.Get("device"), Description: f.Get("description"), Lang: v.Lang,
		Flow: f.Get("flow"), Failed: f.Get("failed"),
		PoW: f.Get("altcha"), IP: clientIP(r)}
	// A signed-in session proves the account (a locked or expired one
	// proves nothing: the request is filed as without sign-in).
	if cur, err := s.pageCurrent(r); err == nil && cur != nil {
		req.AccountID = cur.Account.ID
	}
	filed, err := s.desk.File(r.Context(), req)
	if err != nil {
		e := s.problemOf(r, err)
		setRetryAfter(w, e, s.clock.Now())
		v.Error, v.ErrField = v.T(e.Key, s.withRetryTime(e, v.Lang)), e.Field
		for _, k := range []string{"identifier", "contact", "category", "platform", "device", "description", "flow", "failed"} {
			v.Form.Set(k, f.Get(k))
		}
		v.Data = supportPage{Categories: monban.CaseCategories, Context: desk.Context(v.Lang, f.Get("flow"), f.Get("failed"))}
		s.render(w, r, statusOf[e.Code], "support_new", v)
		return nil
	}
	if !s.cfg.Dev {
		filed.StatusURL = "" // it goes by email only
	}
	v.Data = supportPage{Filed: filed}
	s.render(w, r, http.StatusOK, "support_filed", v)
	return nil
}

// pageSupportChallenge hands the form's script a proof-of-work challenge.
func (s *Server) pageSupportChallenge(w http.ResponseWriter, r *http.Request) error {
	if s.desk == nil {
		return errNotFound()
	}
	c, err := s.desk.Challenge()
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, c)
}

// supportCasePage is a case's status page, reached by its signed link.
type supportCasePage struct {
	Case   *monban.Case
	Thread []monban.CaseMessage
	Action string
	Status string
}

func (s *Server) pageSupportCase(w http.ResponseWriter, r *http.Request) error {
	if s.desk == nil {
		return errNotFound()
	}
	id, tok := r.PathValue("id"), r.PathValue("token")
	pc, err := s.desk.CaseForLink(r.Context(), id, tok, clientIP(r))
	if err != nil {
		return err
	}
	v := s.view(w, r, "support.case_title")
	if r.URL.Query().Get("sent") == "1" {
		v.Notice = v.T("support.reply_sent")
	}
	v.Data = supportCasePage{Case: pc.Case, Thread: pc.Thread, Action: "/support/case/" + id + "/" + tok + "/reply",
		Status: desk.Label(v.Lang, "status."+pc.Case.Status)}
	s.render(w, r, http.StatusOK, "support_case", v)
	return nil
}

func (s *Server) pageSupportReply(w http.ResponseWriter, r *http.Request) error {
	if s.desk == nil {
		return errNotFound()
	}
	id, tok := r.PathValue("id"), r.PathValue("token")
	if err := s.desk.PersonReply(r.Context(), id, tok, r.PostForm.Get("body"), clientIP(r)); err != nil {
		return err
	}
	http.Redirect(w, r, "/support/case/"+id+"/"+tok+"?sent=1", http.StatusSeeOther)
	return nil
}

// apiKnowledge stores what the host app knows about an account for
// support's identity checks, as keyed hashes.
func (s *Server) apiKnowledge(w http.ResponseWriter, r *http.Request) error {
	key, err := s.hostKey(r)
	if err != nil {
		return err
	}
	if s.desk == nil {
		return errNotFound()
	}
	var body map[string]string
	if err := s.decodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := s.desk.SetKnowledge(r.Context(), key.ID, r.PathValue("id"), body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
