package delivery

import (
	"context"
	"time"

	"github.com/monban-dev/monban"
)

// ReceiptStore applies delivery receipts to outbox messages (sqlstore.DB).
type ReceiptStore interface {
	ApplyReceipt(ctx context.Context, provider, providerID, messageID string,
		status monban.MessageStatus, reason string, now time.Time) (applied bool, err error)
}

// ApplyReceipt checks r and records it. A receipt moves a sent message to
// delivered, failed or expired; one that says only "sent" (accepted,
// buffered) or repeats an earlier one changes nothing and reports applied
// false, so a provider's retries and duplicates are harmless.
func ApplyReceipt(ctx context.Context, store ReceiptStore, r Receipt, now time.Time) (applied bool, err error) {
	switch {
	case r.Provider == "":
		return false, monban.Errorf(monban.EInvalid, "receipt.no_provider").WithField("provider")
	case r.ProviderID == "" && r.MessageID == "":
		return false, monban.Errorf(monban.EInvalid, "receipt.no_id").WithField("provider_id")
	}
	switch r.Status {
	case monban.MessageSent, monban.MessageDelivered, monban.MessageFailed, monban.MessageExpired:
	default:
		return false, monban.Errorf(monban.EInvalid, "receipt.status").WithField("status")
	}
	return store.ApplyReceipt(ctx, r.Provider, r.ProviderID, r.MessageID, r.Status, clip(r.Reason, 500), now)
}
