package notices

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/monban-dev/monban"
)

// Batch composes one topic's notice for many accounts from what the caller
// has already read — each account's language and identifiers — so that a
// bulk change (a rollback lifting thousands of locks) reads them once per
// batch and lays out each language's payload once: per notice only the
// reference is spliced in and each message sealed. It sends to the
// verified contacts only.
type Batch struct {
	s     *Service
	topic string
	rule  topicRule
	now   time.Time
	newID func(prefix string) string
	// params are the same for every notice of the batch (set before the first Compose).
	params map[string]string
	// payload[lang] is the sealed JSON around the reference: before, after.
	payload map[string][2][]byte
}

// NewBatch starts a batch of topic's notices, all sent at the clock's now,
// with ids drawn from newID (monban.NewID when nil).
func (s *Service) NewBatch(topic string, newID func(prefix string) string) (*Batch, error) {
	rule, ok := rules[topic]
	if !ok {
		return nil, monban.Internalf("notices: unknown topic %q", topic)
	}
	if newID == nil {
		newID = monban.NewID
	}
	return &Batch{s: s, topic: topic, rule: rule, now: s.clock.Now(), newID: newID, payload: map[string][2][]byte{}}, nil
}

// WithParams gives every notice of the batch the same parameters (for a
// rollback's unlock: how=rollback). Call it before the first Compose.
func (b *Batch) WithParams(p map[string]string) *Batch {
	b.params = p
	return b
}

// Compose builds the notice for accountID and the messages that carry it.
func (b *Batch) Compose(accountID, lang string, ids []monban.Identifier) (*monban.Notice, []*monban.Message, error) {
	if lang != "en" {
		lang = "ja"
	}
	n := &monban.Notice{ID: b.newID("ntc"), Ref: b.s.newRef(), AccountID: accountID, Topic: b.topic, Lang: lang, CreatedAt: b.now}
	if len(b.params) > 0 {
		n.Params = make(map[string]string, len(b.params))
		for k, v := range b.params {
			n.Params[k] = v
		}
	}
	body, err := b.body(n)
	if err != nil {
		return nil, nil, err
	}
	to := recipients(ids, b.rule.sms)
	msgs := make([]*monban.Message, 0, len(to))
	for _, r := range to {
		msgs = append(msgs, &monban.Message{ID: b.newID("msg"), AccountID: accountID, Channel: r.Channel,
			Destination: r.Address, Template: Template(b.topic), Lang: lang, Payload: b.s.box.Seal(body),
			Status: monban.MessageQueued, NextAttemptAt: b.now, CreatedAt: b.now, UpdatedAt: b.now})
	}
	return n, msgs, nil
}

// body is the payload of n, as Compose would marshal it: the language's
// layout with n's reference spliced in.
func (b *Batch) body(n *monban.Notice) ([]byte, error) {
	if strings.ContainsAny(n.Ref, "\"\\<>&") {
		return b.marshal(n)
	}
	parts, ok := b.payload[n.Lang]
	if !ok {
		// Lay the payload out around a stand-in reference, drawn at random
		// so that nothing else in it can be mistaken for it.
		stand := *n
		stand.Ref = monban.NewID("ref")
		full, err := b.marshal(&stand)
		if err != nil {
			return nil, err
		}
		before, after, found := bytes.Cut(full, []byte(stand.Ref))
		if !found || bytes.Contains(after, []byte(stand.Ref)) {
			return b.marshal(n)
		}
		parts = [2][]byte{before, after}
		b.payload[n.Lang] = parts
	}
	out := make([]byte, 0, len(parts[0])+len(n.Ref)+len(parts[1]))
	return append(append(append(out, parts[0]...), n.Ref...), parts[1]...), nil
}

func (b *Batch) marshal(n *monban.Notice) ([]byte, error) {
	body, err := json.Marshal(b.s.payload(n, b.rule, nil))
	if err != nil {
		return nil, monban.Internalf("notice payload: %w", err)
	}
	return body, nil
}
