package web

import (
	"net/http"
)

// messagesPage is the message center.
type messagesPage struct {
	Unread  int
	Notices []noticeView
}

// pageMessages shows the account's notices, newest first, unread marked.
func (s *Server) pageMessages(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	ns, unread, err := s.noticeStore.NoticesByAccount(r.Context(), cur.Account.ID, 100)
	if err != nil {
		return err
	}
	v := s.view(w, r, "messages.title")
	v.SignedIn = true
	p := messagesPage{Unread: unread}
	for _, n := range ns {
		p.Notices = append(p.Notices, s.noticeView(v.Lang, n))
	}
	v.Data = p
	s.render(w, r, http.StatusOK, "messages", v)
	return nil
}

// pageMessagesRead marks one notice (id) or all of them read.
func (s *Server) pageMessagesRead(w http.ResponseWriter, r *http.Request) error {
	cur, ok, err := s.requirePage(w, r)
	if !ok {
		return err
	}
	var ids []string
	if id := r.PostForm.Get("id"); id != "" {
		ids = []string{id}
	}
	if _, err := s.noticeStore.MarkNoticesRead(r.Context(), cur.Account.ID, ids, s.clock.Now()); err != nil {
		return err
	}
	http.Redirect(w, r, "/messages", http.StatusSeeOther)
	return nil
}
