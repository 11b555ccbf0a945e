package notices

import (
	"context"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/identifier"
)

// Checker is the storage the public "is this notice real?" check needs.
type Checker interface {
	NoticeByRef(ctx context.Context, ref string) (*monban.Notice, error)
	MessagesByNotice(ctx context.Context, noticeID string) ([]monban.Message, error)
	HitLimits(ctx context.Context, now time.Time, limits []monban.Limit) error
}

// Check limits: the page answers people, not scripts walking the 40-bit
// reference space.
const (
	CheckPerIPPer10Min = 10
	CheckGlobalPerMin  = 600
)

// CheckResult answers "did monban send this?". Its shape is the same
// whether or not the reference is known, so an answer says nothing more
// than genuine or not.
type CheckResult struct {
	Ref     string
	Genuine bool
	SentAt  time.Time // zero when not genuine
	Topic   string    // "" when not genuine
	To      []string  // masked destinations, e.g. "t***@example.jp", "090-****-5678"
}

// Check looks up the reference found in input (a reference as typed, or
// the pasted text of a message). The try counts against ip's limit first,
// found or not; input without a reference is EInvalid "check.no_ref". An
// unknown reference does the same reads as a known one.
func (s *Service) Check(ctx context.Context, st Checker, input, ip string) (*CheckResult, error) {
	now := s.clock.Now()
	ref, ok := monban.FindRef(input)
	if !ok {
		return nil, monban.Errorf(monban.EInvalid, "check.no_ref").WithField("ref")
	}
	// A reference has 40 random bits and names no account before it is
	// found, so the counted path is per IP (one /64) and global: every try,
	// found or not, is claimed atomically before the lookup.
	limits := []monban.Limit{
		{Key: "check:ip:" + monban.IPScope(ip), Window: 10 * time.Minute, Max: CheckPerIPPer10Min, Err: "check.limit"},
		{Key: "check:all", Window: time.Minute, Max: CheckGlobalPerMin, Err: "check.limit"},
	}
	if err := st.HitLimits(ctx, now, limits); err != nil {
		return nil, err
	}
	res := &CheckResult{Ref: ref, To: []string{}}
	n, err := st.NoticeByRef(ctx, ref)
	noticeID := "ntc_none" // an unknown reference reads the messages of no notice: the same work
	switch {
	case monban.IsNotFound(err):
	case err != nil:
		return nil, err
	default:
		noticeID = n.ID
	}
	msgs, err := st.MessagesByNotice(ctx, noticeID)
	if err != nil {
		return nil, err
	}
	if n == nil {
		return res, nil
	}
	res.Genuine, res.SentAt, res.Topic = true, n.CreatedAt, n.Topic
	for _, m := range msgs {
		res.To = append(res.To, Mask(m.Channel, m.Destination))
	}
	return res, nil
}

// Mask shows a destination so its owner recognises it and nobody else
// learns it.
func Mask(ch monban.Channel, dest string) string {
	if ch == monban.ChannelEmail {
		return identifier.MaskEmail(dest)
	}
	return identifier.MaskPhone(dest)
}
