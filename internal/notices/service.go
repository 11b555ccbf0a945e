package notices

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/humantime"
	"github.com/monban-dev/monban/internal/pacing"
	"github.com/monban-dev/monban/internal/seal"
)

// Store is the storage notices need.
type Store interface {
	AccountByID(ctx context.Context, id string) (*monban.Account, error)
	IdentifiersByAccount(ctx context.Context, accountID string) ([]monban.Identifier, error)
	EnqueueNotice(ctx context.Context, n *monban.Notice, msgs []*monban.Message) error
}

// Notifier wakes the outbox worker (delivery.Worker's Notify).
type Notifier interface{ Notify() }

// Config says where people check a notice and where they go themselves.
type Config struct {
	// PublicURL is monban's address as people type it, e.g.
	// "https://id.example.jp". Messages print it and its /check page as
	// text, never as a link to click.
	PublicURL string
}

// Recipient is an extra address a notice goes to, e.g. the old email
// address after a contact change (no longer on the account).
type Recipient struct {
	Channel monban.Channel
	Address string // normalised email or E.164 phone
}

// Options adjust one notice.
type Options struct {
	// To adds recipients beyond the account's verified contacts.
	To []Recipient
	// OnlyTo sends to the To recipients alone (e.g. a contact change that
	// must reach the old address, not the new one an attacker chose).
	OnlyTo bool
	// Private parameters go into the sealed messages only, never into the
	// message center, e.g. the "this wasn't me" restore_url whose token
	// undoes a change.
	Private map[string]string
}

// topicRule says how a topic travels and which parameters its templates
// read. Optional parameters not given are passed as "" so the templates can
// test them; times are RFC 3339 and are printed in the person's language
// and Japan time.
type topicRule struct {
	sms      bool     // also by SMS to verified phones
	optional []string // parameters the templates read
	times    []string // those of them that are times
}

var rules = map[string]topicRule{
	monban.TopicAccountLocked:      {sms: true, optional: []string{"until"}, times: []string{"until"}},
	monban.TopicAccountUnlocked:    {sms: true, optional: []string{"how"}}, // how=rollback: monban's own mistake
	monban.TopicSignInNewDevice:    {optional: []string{"device", "ip"}},
	monban.TopicContactChanged:     {sms: true, optional: []string{"kind", "restore_url"}},
	monban.TopicFactorChanged:      {sms: true, optional: []string{"factor"}},
	monban.TopicPasswordChanged:    {sms: true},
	monban.TopicCaseUpdated:        {optional: []string{"case_ref", "status", "status_url"}},
	monban.TopicAccountTransferred: {sms: true, optional: []string{"device"}},
	monban.TopicSignInApproval:     {sms: true, optional: []string{"device", "ip", "until"}, times: []string{"until"}},
	monban.TopicSignInGuessing:     {sms: true, optional: []string{"factor", "disabled"}},
}

// Template returns the message template of a topic.
func Template(topic string) string { return "notice." + topic }

// Service composes and sends notices.
type Service struct {
	store  Store
	box    *seal.Box
	clock  monban.Clock
	cfg    Config
	notify Notifier
	log    *slog.Logger
	newRef func() string
}

// New returns a Service. notify may be nil (nothing to wake).
func New(store Store, box *seal.Box, clock monban.Clock, cfg Config, notify Notifier, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Service{store: store, box: box, clock: clock, cfg: cfg, notify: notify, log: log, newRef: monban.NewRef}
}

// CheckURL is the public page that checks a reference code.
func (s *Service) CheckURL() string { return s.cfg.PublicURL + "/check" }

// Compose builds a notice for accountID and the messages that carry it,
// without storing anything: a store method that changes state in its own
// transaction stores them with it. The messages go to the account's
// verified email addresses always, to its verified phones by SMS for topics
// that warrant it (or when it has no verified email), and to opts.To, in
// the account's language.
func (s *Service) Compose(ctx context.Context, accountID, topic string, params map[string]string, opts Options) (*monban.Notice, []*monban.Message, error) {
	rule, ok := rules[topic]
	if !ok {
		return nil, nil, monban.Internalf("notices: unknown topic %q", topic)
	}
	acc, err := s.store.AccountByID(ctx, accountID)
	if err != nil {
		return nil, nil, err
	}
	var to []Recipient
	if !opts.OnlyTo {
		ids, err := s.store.IdentifiersByAccount(ctx, accountID)
		if err != nil {
			return nil, nil, err
		}
		to = recipients(ids, rule.sms)
	}
	to = appendNew(to, opts.To...)
	lang := acc.Lang
	if lang != "en" {
		lang = "ja"
	}
	now := s.clock.Now()
	n := &monban.Notice{ID: monban.NewID("ntc"), Ref: s.newRef(), AccountID: accountID, Topic: topic,
		Lang: lang, Params: clean(params), CreatedAt: now}
	body, err := json.Marshal(s.payload(n, rule, opts.Private))
	if err != nil {
		return nil, nil, monban.Internalf("notice payload: %w", err)
	}
	msgs := make([]*monban.Message, 0, len(to))
	for _, r := range to {
		msgs = append(msgs, &monban.Message{ID: monban.NewID("msg"), AccountID: accountID, Channel: r.Channel,
			Destination: r.Address, Template: Template(topic), Lang: lang, Payload: s.box.Seal(body),
			Status: monban.MessageQueued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now})
	}
	return n, msgs, nil
}

// Send composes a notice, stores it with its messages and wakes the
// worker. A reference already in use (40 random bits: rare) is drawn again.
func (s *Service) Send(ctx context.Context, accountID, topic string, params map[string]string, opts Options) (*monban.Notice, error) {
	for try := 0; ; try++ {
		n, msgs, err := s.Compose(ctx, accountID, topic, params, opts)
		if err != nil {
			return nil, err
		}
		err = s.store.EnqueueNotice(ctx, n, msgs)
		if errors.Is(err, monban.ErrNoticeRefTaken) && try < 3 {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.log.InfoContext(ctx, "notice queued", "notice", n.ID, "ref", n.Ref, "account", accountID,
			"topic", topic, "messages", len(msgs))
		if s.notify != nil && len(msgs) > 0 {
			// In a paced answer the worker wakes once the answer is out:
			// a notice goes to real accounts only.
			pacing.After(ctx, s.notify.Notify)
		}
		return n, nil
	}
}

// payload is what each message carries, sealed: the notice's parameters
// (times printed for people), the private ones, the reference and where to
// check it.
func (s *Service) payload(n *monban.Notice, rule topicRule, private map[string]string) map[string]string {
	p := map[string]string{}
	for _, k := range rule.optional {
		p[k] = ""
	}
	for k, v := range n.Params {
		p[k] = v
	}
	for _, k := range rule.times {
		if t, err := time.Parse(time.RFC3339, p[k]); err == nil {
			p[k] = FormatTime(t, n.Lang)
		}
	}
	for k, v := range private {
		p[k] = v
	}
	p["ref"] = n.Ref
	p["check_url"] = s.CheckURL()
	p["site"] = s.cfg.PublicURL
	if u, err := url.Parse(s.cfg.PublicURL); err == nil && u.Host != "" {
		p["site"] = u.Host
	}
	p["sent_at"] = FormatTime(n.CreatedAt, n.Lang)
	return p
}

// FormatTime prints t for people in lang, in Japan time, as every message
// does (humantime is the one place times are formatted).
func FormatTime(t time.Time, lang string) string { return humantime.DateZoned(lang, t) }

// recipients picks an account's verified contacts for a topic.
func recipients(ids []monban.Identifier, sms bool) []Recipient {
	var emails, phones []Recipient
	for _, id := range ids {
		if !id.Verified {
			continue
		}
		switch id.Kind {
		case monban.KindEmail:
			emails = append(emails, Recipient{monban.ChannelEmail, id.Value})
		case monban.KindPhone:
			phones = append(phones, Recipient{monban.ChannelSMS, id.Value})
		}
	}
	if sms || len(emails) == 0 {
		return append(emails, phones...)
	}
	return emails
}

func appendNew(to []Recipient, more ...Recipient) []Recipient {
	for _, r := range more {
		dup := false
		for _, t := range to {
			dup = dup || t == r
		}
		if !dup && r.Address != "" {
			to = append(to, r)
		}
	}
	return to
}

// clean copies params, dropping empty values.
func clean(params map[string]string) map[string]string {
	if len(params) == 0 {
		return nil
	}
	out := make(map[string]string, len(params))
	for k, v := range params {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// TopicKnown reports whether topic is a notice topic.
func TopicKnown(topic string) bool { _, ok := rules[topic]; return ok }
