package web

import (
	"context"
	"net/http"
	"time"

	"github.com/monban-dev/monban"
)

// DevOutbox reads what the dev sender recorded (development mode only).
type DevOutbox interface {
	DevOutbox(ctx context.Context, limit int) ([]DevMessage, error)
}

// DevMessage is one message as the dev outbox shows it.
type DevMessage struct {
	ID          string               `json:"id"`
	Channel     monban.Channel       `json:"channel"`
	Destination string               `json:"destination"`
	Purpose     string               `json:"purpose"`
	Template    string               `json:"template"`
	Subject     string               `json:"subject,omitempty"`
	Body        string               `json:"body"`
	Code        string               `json:"code,omitempty"`
	Status      monban.MessageStatus `json:"status"`
	Reason      string               `json:"reason,omitempty"`
	CreatedAt   time.Time            `json:"created_at"`
}

const devOutboxLimit = 200

func (s *Server) devOutboxPage(w http.ResponseWriter, r *http.Request) error {
	msgs, err := s.devOutbox.DevOutbox(r.Context(), devOutboxLimit)
	if err != nil {
		return err
	}
	v := s.view(w, r, "dev.outbox_title")
	v.Data = msgs
	s.render(w, r, http.StatusOK, "dev_outbox", v)
	return nil
}

func (s *Server) devOutboxJSON(w http.ResponseWriter, r *http.Request) error {
	msgs, err := s.devOutbox.DevOutbox(r.Context(), devOutboxLimit)
	if err != nil {
		return err
	}
	if msgs == nil {
		msgs = []DevMessage{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
}

// devReceipt plays a carrier's delivery report for a dev message.
func (s *Server) devReceipt(w http.ResponseWriter, r *http.Request) error {
	st := monban.MessageStatus(r.PostFormValue("status"))
	if st != monban.MessageDelivered && st != monban.MessageFailed {
		return monban.Errorf(monban.EInvalid, "request.malformed").WithField("status")
	}
	reason := ""
	if st == monban.MessageFailed {
		reason = "dev: reported failed"
	}
	if _, err := s.receipts.ApplyReceipt(r.Context(), "dev", "", r.PathValue("id"), st, reason, s.clock.Now()); err != nil {
		return err
	}
	http.Redirect(w, r, "/dev/outbox", http.StatusSeeOther)
	return nil
}
