package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/monban-dev/monban"
)

// DevProvider names the dev outbox as a provider.
const DevProvider = "dev"

// DevStore records what the dev sender would have sent.
type DevStore interface {
	AddDevMessage(ctx context.Context, m *monban.Message, subject, body, code string, now time.Time) error
}

// Dev is the sender of development mode (--dev): it delivers every
// message to the dev outbox, code included, so the service works without
// any provider. Like a real provider it only accepts: the message stays
// "sent" until a receipt (posted from the dev outbox page) says more.
type Dev struct {
	store DevStore
	clock monban.Clock
}

var _ Sender = (*Dev)(nil)

// NewDev returns the dev sender; clock may be nil (wall clock).
func NewDev(store DevStore, clock monban.Clock) *Dev {
	if clock == nil {
		clock = monban.SystemClock{}
	}
	return &Dev{store: store, clock: clock}
}

// Provider returns "dev".
func (d *Dev) Provider() string { return DevProvider }

// Send records out; the provider's id is the message's own id.
func (d *Dev) Send(ctx context.Context, out *Outgoing) (string, error) {
	body := out.Text
	if body == "" {
		body = out.HTML
	}
	if err := d.store.AddDevMessage(ctx, out.Message, out.Subject, body, out.Code, d.clock.Now()); err != nil {
		return "", fmt.Errorf("dev outbox: %w", err)
	}
	return out.Message.ID, nil
}
