package web

import (
	"net/http"

	"github.com/monban-dev/monban"
)

// apiNotices lists the signed-in account's message center, newest first.
func (s *Server) apiNotices(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	ns, unread, err := s.noticeStore.NoticesByAccount(r.Context(), cur.Account.ID, 100)
	if err != nil {
		return err
	}
	lang := s.cat.Lang(r)
	out := struct {
		Unread  int          `json:"unread"`
		Notices []noticeView `json:"notices"`
	}{Unread: unread, Notices: make([]noticeView, 0, len(ns))}
	for _, n := range ns {
		out.Notices = append(out.Notices, s.noticeView(lang, n))
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, out)
}

// apiNoticesRead marks notices read: the ids given, or all when none are.
func (s *Server) apiNoticesRead(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	var req struct {
		IDs []string `json:"ids"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.IDs) > 100 {
		return monban.Errorf(monban.EInvalid, "notices.too_many").WithField("ids")
	}
	n, err := s.noticeStore.MarkNoticesRead(r.Context(), cur.Account.ID, req.IDs, s.clock.Now())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]int{"marked": n})
}

// apiCheck is the public "is this notice real?" check: no sign-in,
// limited per IP, the same answer shape for unknown references.
func (s *Server) apiCheck(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Ref  string `json:"ref"`
		Text string `json:"text"` // or the pasted message
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	input := req.Ref
	if input == "" {
		input = req.Text
	}
	a, err := s.check(r.Context(), s.cat.Lang(r), input, clientIP(r))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, a)
}
