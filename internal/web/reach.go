package web

import (
	"github.com/monban-dev/monban/internal/codes"
)

// The code pages' shared "where is my code" part: the partial "reach"
// (templates/_reach.html), static/reach.js polling the page's status URL,
// and the same object in the JSON API (docs/openapi.yaml, Reach).

// reachView is what the partial shows.
type reachView struct {
	URL        string // the page's status endpoint, polled by reach.js
	WaysURL    string // where "other ways" leads: the page's list or its help page
	R          *codes.Reach
	Sentence   string // follows the status: never "sent" after "failed"
	StatusText string
}

// reachSentence is the key of the sentence that says where the code is.
func reachSentence(r *codes.Reach) string {
	switch r.Status {
	case codes.DeliveryFailed:
		return "reach.failed_" + string(r.Channel)
	case codes.DeliveryNotDelivered:
		return "reach.late_" + string(r.Channel)
	}
	return "verify.sent_" + string(r.Channel)
}

func (s *Server) reachView(lang, url, waysURL string, r *codes.Reach) *reachView {
	if r == nil {
		return nil
	}
	return &reachView{URL: url, WaysURL: waysURL, R: r,
		Sentence:   s.cat.T(lang, reachSentence(r), map[string]any{"destination": r.Masked}),
		StatusText: s.cat.T(lang, "status."+string(r.Status), nil)}
}

// reachJSON is the status endpoints' answer: the object, and the words
// the page puts in place.
func (s *Server) reachJSON(lang string, r *codes.Reach) map[string]any {
	v := s.reachView(lang, "", "", r)
	return map[string]any{"reach": r, "sentence": v.Sentence, "status": string(r.Status), "status_text": v.StatusText,
		"offer_others": r.Undelivered, "completed": r.Complete}
}
