package web

import (
	"net/http"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
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

// codeStatus answers a code page's poll for cur's flow {id}; purpose, when
// set, is the only purpose that page shows (another flow is not found).
func (s *Server) codeStatus(w http.ResponseWriter, r *http.Request, cur *account.Current, purpose monban.Purpose) error {
	return s.flowStatus(w, r, cur, r.PathValue("id"), purpose)
}

// flowStatus is codeStatus for flowID.
func (s *Server) flowStatus(w http.ResponseWriter, r *http.Request, cur *account.Current, flowID string, purpose monban.Purpose) error {
	ov, err := s.accounts.Overview(r.Context(), cur)
	if err != nil {
		return err
	}
	contacts := contactsOf(ov.Identifiers)
	if purpose == monban.PurposeContactChange {
		contacts = nil // a new address is verified only where it is
	}
	reach, err := s.codes.Reach(r.Context(), flowID, cur.Account.ID, contacts)
	if err != nil {
		return err
	}
	if purpose != "" {
		st, err := s.codes.Status(r.Context(), reach.FlowID, cur.Account.ID)
		if err != nil {
			return err
		}
		if st.Flow.Purpose != purpose {
			return errNotFound()
		}
	}
	return writeJSON(w, http.StatusOK, s.reachJSON(s.cat.Lang(r), reach))
}
