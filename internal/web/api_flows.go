package web

import (
	"net/http"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/account"
	"github.com/monban-dev/monban/internal/codes"
	"github.com/monban-dev/monban/internal/identifier"
)

type messageJSON struct {
	ID          string     `json:"id"`
	Channel     string     `json:"channel"`
	Destination string     `json:"destination"` // masked
	Status      string     `json:"status"`
	Reason      string     `json:"reason,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	SentAt      *time.Time `json:"sent_at,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	FailedAt    *time.Time `json:"failed_at,omitempty"`
}

type alternativeJSON struct {
	Channel     string `json:"channel"`
	Destination string `json:"destination"`
}

type flowJSON struct {
	ID           string            `json:"id"`
	Purpose      string            `json:"purpose"`
	Channel      string            `json:"channel"`
	Destination  string            `json:"destination"` // masked
	Digits       int               `json:"digits"`
	Completed    bool              `json:"completed"`
	NextSendAt   time.Time         `json:"next_send_at"`
	OfferOthers  bool              `json:"offer_other_ways"`
	Messages     []messageJSON     `json:"messages"`
	Alternatives []alternativeJSON `json:"alternatives"`
	Reach        *codes.Reach      `json:"reach,omitempty"` // where the code is, what else can be done
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func maskDestination(ch monban.Channel, dest string) string {
	if ch == monban.ChannelEmail {
		return identifier.MaskEmail(dest)
	}
	return identifier.MaskPhone(dest)
}

func toFlowJSON(v *flowView) flowJSON {
	out := flowJSON{ID: v.FlowID, Purpose: string(v.Purpose), Channel: string(v.Channel), Destination: v.Masked,
		Digits: v.Digits, Completed: v.Completed, NextSendAt: v.NextSendAt.UTC(), OfferOthers: v.OfferOthers,
		Messages: []messageJSON{}, Alternatives: []alternativeJSON{}, Reach: v.Reach}
	for _, m := range v.Messages {
		out.Messages = append(out.Messages, messageJSON{ID: m.ID, Channel: string(m.Channel),
			Destination: maskDestination(m.Channel, m.Destination), Status: string(m.Status), Reason: m.Reason,
			CreatedAt: m.CreatedAt.UTC(), SentAt: optTime(m.SentAt), DeliveredAt: optTime(m.DeliveredAt), FailedAt: optTime(m.FailedAt)})
	}
	for _, a := range v.Alternatives {
		out.Alternatives = append(out.Alternatives, alternativeJSON{Channel: a.Channel, Destination: a.Masked})
	}
	return out
}

func (s *Server) apiFlowStatus(w http.ResponseWriter, r *http.Request, cur *account.Current, flowID string, status int) error {
	st, err := s.codes.Status(r.Context(), flowID, cur.Account.ID)
	if err != nil {
		return err
	}
	v, err := s.flowView(r.Context(), st, cur, s.cat.Lang(r))
	if err != nil {
		return err
	}
	return writeJSON(w, status, toFlowJSON(v))
}

func (s *Server) apiStartFlow(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	var req struct {
		Kind    string `json:"kind"`
		Channel string `json:"channel"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	f, err := s.startVerify(r, cur, req.Kind, req.Channel, cur.Account.Lang)
	if err != nil {
		return err
	}
	return s.apiFlowStatus(w, r, cur, f.ID, http.StatusCreated)
}

func (s *Server) apiGetFlow(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	return s.apiFlowStatus(w, r, cur, r.PathValue("id"), http.StatusOK)
}

func (s *Server) apiResendFlow(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	if _, err := s.codes.Resend(r.Context(), r.PathValue("id"), cur.Account.ID, clientIP(r)); err != nil {
		return err
	}
	s.notifyOutbox()
	return s.apiFlowStatus(w, r, cur, r.PathValue("id"), http.StatusOK)
}

func (s *Server) apiVerifyFlow(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.apiCurrent(r)
	if err != nil {
		return err
	}
	var req struct {
		Code string `json:"code"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	f, err := s.codes.Verify(r.Context(), r.PathValue("id"), cur.Account.ID, req.Code)
	if err != nil {
		return err
	}
	// The answer is what the verification itself returned: a finished flow
	// needs no delivery status or alternatives, and re-reading them would
	// cost more than the check.
	return writeJSON(w, http.StatusOK, verifiedJSON{ID: f.ID, Purpose: string(f.Purpose), Channel: string(f.Channel),
		Destination: maskDestination(f.Channel, f.Destination), Completed: true, CompletedAt: f.CompletedAt.UTC()})
}

type verifiedJSON struct {
	ID          string    `json:"id"`
	Purpose     string    `json:"purpose"`
	Channel     string    `json:"channel"`
	Destination string    `json:"destination"` // masked
	Completed   bool      `json:"completed"`
	CompletedAt time.Time `json:"completed_at"`
}
