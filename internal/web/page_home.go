package web

import "net/http"

func (s *Server) pageHome(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.pageCurrent(r)
	if err != nil {
		return err
	}
	if cur != nil {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	} else {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
	}
	return nil
}
