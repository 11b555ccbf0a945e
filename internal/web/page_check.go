package web

import (
	"net/http"
)

// checkPage is the public "is this notice real?" page.
type checkPage struct {
	Input  string
	Answer *checkAnswer
}

// pageCheck shows the check form; with ?ref= (as a person may bookmark or
// be told to type) it checks at once.
func (s *Server) pageCheck(w http.ResponseWriter, r *http.Request) error {
	if ref := r.URL.Query().Get("ref"); ref != "" {
		return s.pageCheckInput(w, r, ref)
	}
	v := s.view(w, r, "check.title")
	v.Data = checkPage{}
	s.render(w, r, http.StatusOK, "check", v)
	return nil
}

// pageCheckSubmit checks a typed reference or a pasted message.
func (s *Server) pageCheckSubmit(w http.ResponseWriter, r *http.Request) error {
	return s.pageCheckInput(w, r, r.PostForm.Get("ref"))
}

func (s *Server) pageCheckInput(w http.ResponseWriter, r *http.Request, input string) error {
	v := s.view(w, r, "check.title")
	p := checkPage{Input: input}
	err := fieldLimit("ref", input, 20000)
	if err == nil {
		p.Answer, err = s.check(r.Context(), v.Lang, input, clientIP(r))
	}
	status := http.StatusOK
	if err != nil {
		e := s.problemOf(r, err)
		setRetryAfter(w, e, s.clock.Now())
		v.Error, v.ErrField, status = v.T(e.Key, s.withRetryTime(e, v.Lang)), e.Field, statusOf[e.Code]
	}
	v.Data = p
	s.render(w, r, status, "check", v)
	return nil
}
