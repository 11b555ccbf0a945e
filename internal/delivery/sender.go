package delivery

import (
	"context"
	"errors"
	"fmt"

	"github.com/monban-dev/monban"
)

// Outgoing is a rendered message ready for a channel.
type Outgoing struct {
	Message *monban.Message
	Subject string // email only
	Text    string // plain text: the SMS body, the email text part, the voice script
	HTML    string // email only
	// IdempotencyKey is stable across retries of one message, for providers
	// that deduplicate (sent as a header or parameter where supported).
	IdempotencyKey string
	// Code is the one-time code the message carries, if any. Only the dev
	// outbox shows it; no sender sends it apart from Text and HTML or logs it.
	Code string
}

// Sender hands a message to one provider. It returns the provider's id for
// the message (used to match delivery receipts) or an error; wrap an error
// with Permanent when retrying cannot help.
type Sender interface {
	// Provider names the provider, e.g. "smtp", "kannel", "dev".
	Provider() string
	Send(ctx context.Context, out *Outgoing) (providerID string, err error)
}

// PermanentError is a send failure that retrying cannot fix (e.g. the
// provider rejected the number). Reason is shown to people and agents.
type PermanentError struct {
	Reason string
	Err    error
}

func (e *PermanentError) Error() string { return fmt.Sprintf("permanent: %s: %v", e.Reason, e.Err) }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(reason string, err error) error { return &PermanentError{Reason: reason, Err: err} }

// IsPermanent reports whether err (or its cause) is permanent.
func IsPermanent(err error) (*PermanentError, bool) {
	var p *PermanentError
	ok := errors.As(err, &p)
	return p, ok
}

// Receipt is a delivery report from a provider.
type Receipt struct {
	Provider   string
	ProviderID string // the provider's id, or
	MessageID  string // monban's own id when the provider echoes it back
	Status     monban.MessageStatus
	Reason     string
}
