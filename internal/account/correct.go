package account

import (
	"context"

	"github.com/monban-dev/monban"
)

// CorrectPhone replaces the account's phone number while it is still
// unverified — the moment a person sees the number shown back and notices a
// typo (seed 001: 090 typed for 080). A verified number is changed through
// the contact-change flow instead. It returns the stored E.164 value.
func (s *Service) CorrectPhone(ctx context.Context, cur *Current, raw string, m Meta) (string, error) {
	v, err := s.ids.Normalize(monban.KindPhone, raw)
	if err != nil {
		return "", err
	}
	ids, err := s.store.IdentifiersByAccount(ctx, cur.Account.ID)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		if id.Kind != monban.KindPhone {
			continue
		}
		if id.Verified {
			return "", monban.Errorf(monban.EConflict, "flow.already_verified").WithField("phone")
		}
		if id.Value == v {
			return v, nil
		}
		ev := m.audit(monban.AuditIdentifierFix, cur.Account.ID, s.clock.Now())
		ev.Detail = map[string]string{"kind": "phone"}
		return v, s.store.ReplaceUnverifiedIdentifier(ctx, cur.Account.ID, monban.KindPhone, id.Value, v, ev)
	}
	return "", monban.Errorf(monban.EInvalid, "flow.missing").WithField("phone")
}
