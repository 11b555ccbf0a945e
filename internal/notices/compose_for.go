package notices

import (
	"encoding/json"

	"github.com/monban-dev/monban"
)

// ComposeFor builds a notice like Compose from what the caller has already
// read — the account's language and identifiers — so that a bulk change
// (a rollback lifting thousands of locks) reads them once per batch
// instead of twice per notice. It sends to the verified contacts only.
func (s *Service) ComposeFor(accountID, lang string, ids []monban.Identifier, topic string, params map[string]string) (*monban.Notice, []*monban.Message, error) {
	rule, ok := rules[topic]
	if !ok {
		return nil, nil, monban.Internalf("notices: unknown topic %q", topic)
	}
	if lang != "en" {
		lang = "ja"
	}
	now := s.clock.Now()
	n := &monban.Notice{ID: monban.NewID("ntc"), Ref: s.newRef(), AccountID: accountID, Topic: topic,
		Lang: lang, Params: clean(params), CreatedAt: now}
	body, err := json.Marshal(s.payload(n, rule, nil))
	if err != nil {
		return nil, nil, monban.Internalf("notice payload: %w", err)
	}
	to := recipients(ids, rule.sms)
	msgs := make([]*monban.Message, 0, len(to))
	for _, r := range to {
		msgs = append(msgs, &monban.Message{ID: monban.NewID("msg"), AccountID: accountID, Channel: r.Channel,
			Destination: r.Address, Template: Template(topic), Lang: lang, Payload: s.box.Seal(body),
			Status: monban.MessageQueued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now})
	}
	return n, msgs, nil
}
