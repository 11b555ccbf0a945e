package web

import (
	"context"
	"net/http"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/delivery"
)

// ReceiptStore applies delivery receipts to outbox messages.
type ReceiptStore interface {
	ApplyReceipt(ctx context.Context, provider, providerID, messageID string, status monban.MessageStatus, reason string, now time.Time) (bool, error)
}

// ReceiptParser reads and authenticates one provider's delivery report.
type ReceiptParser func(r *http.Request) (delivery.Receipt, error)

func errReceipt(err error) error {
	return monban.Errorf(monban.EForbidden, "receipt.invalid").Wrap(err)
}

// applyReceipt records an authenticated receipt. Unknown or repeated
// receipts change nothing and still answer 200, so providers stop retrying.
func (s *Server) applyReceipt(w http.ResponseWriter, r *http.Request, rc delivery.Receipt) error {
	if _, err := s.receipts.ApplyReceipt(r.Context(), rc.Provider, rc.ProviderID, rc.MessageID, rc.Status, rc.Reason, s.clock.Now()); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// hookKannel takes Kannel's delivery reports (dlr-url). The route's
// wrapper found the parser and authenticated the report (access.go).
func (s *Server) hookKannel(w http.ResponseWriter, r *http.Request) error {
	return s.applyReceipt(w, r, *callerOf(r, whoProvider).receipt)
}

// hookProvider takes a configured HTTP provider's signed status callbacks,
// authenticated by the route's wrapper.
func (s *Server) hookProvider(w http.ResponseWriter, r *http.Request) error {
	return s.applyReceipt(w, r, *callerOf(r, whoProvider).receipt)
}
