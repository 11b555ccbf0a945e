package desk

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/identifier"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/pacing"
	"github.com/monban-dev/monban/internal/sqlstore"
	"github.com/monban-dev/monban/internal/throttle"
)

// Request is what a person files, signed in or not.
type Request struct {
	Identifier  string // email, phone or username, as typed
	Contact     string // email address for replies
	Category    string
	Platform    string // "web", "app" or ""
	Device      string
	Description string
	Lang        string
	Flow        string // where the person was when they asked (one of Flows, or "")
	Failed      string // the channel that failed them there (one of FailedChannels, or "")
	PoW         string // the solved proof-of-work challenge
	IP          string
	// AccountID is the account of the signed-in session filing, "" when
	// nobody is signed in. A signed-in session proves the account; a
	// typed identifier proves nothing.
	AccountID string
}

// Filed is the answer to a request: the same for every identifier, known
// or not.
type Filed struct {
	Ref       string
	CaseID    string
	Merged    bool
	StatusURL string // also mailed; shown only to tests and dev
}

func invalid(key, field string) error { return monban.Errorf(monban.EInvalid, key).WithField(field) }

// cleanText drops control characters other than newlines and tabs.
func cleanText(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return -1
		}
		return r
	}, s))
}

func (s *Service) validate(r *Request) error {
	if !slices.Contains(monban.CaseCategories, r.Category) {
		return invalid("support.category_invalid", "category")
	}
	if r.Flow != "" && !slices.Contains(Flows, r.Flow) {
		return invalid("support.context_invalid", "flow")
	}
	if r.Failed != "" && !slices.Contains(FailedChannels, r.Failed) {
		return invalid("support.context_invalid", "failed")
	}
	if r.Platform != "" && r.Platform != "web" && r.Platform != "app" {
		return invalid("support.platform", "platform")
	}
	r.Description, r.Device = cleanText(r.Description), cleanText(r.Device)
	if utf8.RuneCountInString(r.Description) > s.cfg.MaxDescription {
		return monban.Errorf(monban.ETooLarge, "support.too_long").WithField("description").
			WithParams(map[string]any{"max": s.cfg.MaxDescription})
	}
	if r.Description == "" {
		return invalid("support.description_invalid", "description")
	}
	if utf8.RuneCountInString(r.Device) > 200 {
		return monban.Errorf(monban.ETooLarge, "support.too_long").WithField("device").WithParams(map[string]any{"max": 200})
	}
	contact, err := identifier.Normalize(monban.KindEmail, r.Contact)
	if err != nil {
		return invalid("support.contact_invalid", "contact")
	}
	r.Contact = contact
	return nil
}

// File takes a request, signed in or not: it checks the proof of work and
// the limits, resolves the identifier to an account (never telling the
// requester whether it did), and opens a case or merges the request into
// an open case of the same category that the requester has already proven
// theirs (merging). The case's own contact address is told either way, in
// the person's language.
func (s *Service) File(ctx context.Context, r Request) (*Filed, error) {
	if err := s.validate(&r); err != nil {
		return nil, err
	}
	if err := s.checkPoW(ctx, r.PoW); err != nil {
		return nil, err
	}
	kind, value, err := identifier.Classify(r.Identifier)
	if err != nil {
		return nil, err
	}
	accountID := r.AccountID
	if accountID == "" {
		if accs, err := s.d.Store.AccountsByIdentifier(ctx, kind, value); err != nil {
			return nil, err
		} else if len(accs) == 1 {
			accountID = accs[0].ID
		}
	}
	subject := "acct:" + accountID
	if accountID == "" {
		subject = "id:" + string(kind) + ":" + value
	}
	mk, match := merging(r.AccountID, r.Contact, subject)
	now := s.d.Clock.Now()
	if err := s.d.Store.HitLimits(ctx, now, []monban.Limit{
		{Key: "support:ip:h:" + r.IP, Window: time.Hour, Max: s.cfg.PerIPHour, Err: "support.limit_ip"},
		{Key: "support:ip:d:" + r.IP, Window: 24 * time.Hour, Step: time.Minute, Max: s.cfg.PerIPDay, Err: "support.limit_ip"},
		// Per account and proof: requests in the owner's name from
		// strangers' addresses cannot use up the owner's own.
		{Key: "support:acct:" + mk, Window: 24 * time.Hour, Step: time.Minute, Max: s.cfg.PerAccountDay, Err: "support.limit_account"},
	}); err != nil {
		return nil, err
	}
	lang := langOf(r.Lang)
	if ctx := Context(lang, r.Flow, r.Failed); ctx != "" {
		// The agent sees where the person was stuck, first thing in the request.
		r.Description = ctx + "\n\n" + r.Description
	}
	c := &monban.Case{ID: monban.NewID("cas"), Ref: monban.NewRef(), AccountID: accountID, MergeKey: mk,
		Category: r.Category, Status: monban.CaseOpen, Lang: lang, Identifier: value, Contact: r.Contact,
		Platform: r.Platform, Device: r.Device, Description: r.Description, Requests: 1, CreatedAt: now, UpdatedAt: now}
	req := &monban.CaseMessage{ID: monban.NewID("cmg"), At: now, Author: "person", Kind: monban.CaseMsgRequest,
		Body: r.Description, Lang: lang}
	got, merged, err := s.d.Store.FileCaseMatching(ctx, c, req, match, func(c *monban.Case, merged bool) (sqlstore.CaseEffects, error) {
		event, action := "received", monban.AuditCaseOpened
		if merged {
			event, action = "merged", monban.AuditCaseMerged
		}
		// A merged request is answered at the address that filed the
		// case: a status link goes nowhere else.
		mail, err := s.mail(c, lang, c.Contact, event, "")
		if err != nil {
			return sqlstore.CaseEffects{}, err
		}
		fx := sqlstore.CaseEffects{Mail: []*monban.Message{mail}, Audit: []monban.AuditEvent{{At: now, AccountID: c.AccountID,
			Action: action, IP: r.IP, Detail: map[string]string{"case_id": c.ID, "case_ref": c.Ref, "category": c.Category}}}}
		if c.AccountID != "" {
			fx.Event = s.event(c, now)
		}
		return fx, nil
	})
	if err != nil {
		return nil, err
	}
	pacing.After(ctx, s.wake) // the worker competes for the CPU: once the answer is out
	if accountID != "" {
		pacing.Costly(ctx) // a webhook event besides: this path sets the answer time
	}
	s.d.Log.InfoContext(ctx, "support request", "case", got.ID, "merged", merged, "known", accountID != "")
	return &Filed{Ref: got.Ref, CaseID: got.ID, Merged: merged, StatusURL: s.StatusURL(got.ID)}, nil
}

// merging says which open cases a request may join, and the key its own
// case is stored under. Anyone can type an identifier, so that proves
// nothing: a request joins a case only from the reply address that filed it
// (normalised) about the same subject (account or typed identifier), or
// from a signed-in session of the case's account into a case that was
// also filed signed in. Any other request opens a case of its own, which
// agents see beside the account's other open cases.
func merging(sessionAccount, contact, subject string) (string, sqlstore.CaseMatch) {
	key := "contact:" + contact + "|" + subject
	m := sqlstore.CaseMatch{Lock: subject, Keys: []string{key, key + sessionMark}}
	if sessionAccount != "" {
		m.SessionAccount, m.SessionMark = sessionAccount, sessionMark
		return key + sessionMark, m
	}
	return key, m
}

// sessionMark ends the merge key of a case filed signed in.
const sessionMark = "|session"

// event is the case.updated webhook event for a host app.
func (s *Service) event(c *monban.Case, now time.Time) *monban.WebhookEvent {
	return &monban.WebhookEvent{ID: monban.NewID("evt"), Type: monban.EventCaseUpdated, AccountID: c.AccountID,
		Data: map[string]string{"case_ref": c.Ref, "status": c.Status, "category": c.Category}, CreatedAt: now}
}

// mail builds the email to a case's contact address: what happened
// (received, merged, reply, status), the reply's text, and the status link.
func (s *Service) mail(c *monban.Case, lang, to, event, body string) (*monban.Message, error) {
	now := s.d.Clock.Now()
	p := map[string]string{"event": event, "case_ref": c.Ref, "status": Label(lang, "status."+c.Status),
		"category": Label(lang, "category."+c.Category), "status_url": s.StatusURL(c.ID), "body": body,
		"sent_at": notices.FormatTime(now, lang)}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, monban.Internalf("case mail: %w", err)
	}
	return &monban.Message{ID: monban.NewID("msg"), AccountID: c.AccountID, Channel: monban.ChannelEmail, Destination: to,
		Template: "desk.case", Lang: lang, Payload: s.d.Box.Seal(b), Status: monban.MessageQueued,
		NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}, nil
}

// errLink is the answer to a status link that is not ours: the same
// whether the case exists or not.
func errLink() error { return monban.Errorf(monban.ENotFound, "support.link_invalid") }

// PublicCase is what the status page shows: no account, no agent, no
// identity checks.
type PublicCase struct {
	Case   *monban.Case
	Thread []monban.CaseMessage // requests, replies, status changes and the person's replies
}

// LinkFailuresPerIPHour bounds wrong status links from one IP (one /64).
const LinkFailuresPerIPHour = 10

var statusLink = throttle.Token{Name: "support.link", Err: "support.link_limit", PerIP: LinkFailuresPerIPHour}

// CaseForLink opens a case by its status link. The token is a 256-bit
// HMAC, so guessing it is hopeless; still every secret goes through a
// counted path: the token path (throttle.Service.CheckToken), wrong links
// per IP (the only thing a guesser cannot vary for free), claimed before
// the compare, refused with the time of the next try.
func (s *Service) CaseForLink(ctx context.Context, caseID, token, ip string) (*PublicCase, error) {
	err := s.d.Throttle.CheckToken(ctx, statusLink, ip, func() error {
		if subtle.ConstantTimeCompare([]byte(token), []byte(s.StatusToken(caseID))) != 1 {
			return errLink()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c, err := s.d.Store.CaseByID(ctx, caseID)
	if monban.IsNotFound(err) {
		return nil, errLink()
	}
	if err != nil {
		return nil, err
	}
	all, err := s.d.Store.CaseThread(ctx, caseID)
	if err != nil {
		return nil, err
	}
	pc := &PublicCase{Case: c, Thread: []monban.CaseMessage{}}
	for _, m := range all {
		if m.Kind != monban.CaseMsgNote {
			pc.Thread = append(pc.Thread, m)
		}
	}
	return pc, nil
}

// PersonReply adds the person's reply from the status page: the case goes
// back to support (open). A closed case takes no replies.
func (s *Service) PersonReply(ctx context.Context, caseID, token, body, ip string) error {
	if _, err := s.CaseForLink(ctx, caseID, token, ip); err != nil {
		return err
	}
	body = cleanText(body)
	if body == "" {
		return invalid("support.reply_empty", "body")
	}
	if utf8.RuneCountInString(body) > s.cfg.MaxDescription {
		return monban.Errorf(monban.ETooLarge, "support.too_long").WithField("body").WithParams(map[string]any{"max": s.cfg.MaxDescription})
	}
	now := s.d.Clock.Now()
	if err := s.d.Store.HitLimits(ctx, now, []monban.Limit{{Key: "support:reply:" + caseID, Window: time.Hour, Max: 10,
		Err: "support.limit_reply"}}); err != nil {
		return err
	}
	_, err := s.d.Store.UpdateCase(ctx, caseID, func(c *monban.Case) (sqlstore.CaseEffects, error) {
		if c.Status == monban.CaseClosed {
			return sqlstore.CaseEffects{}, monban.Errorf(monban.EConflict, "support.case_closed")
		}
		c.Status, c.UpdatedAt, c.ResolvedAt = monban.CaseOpen, now, time.Time{}
		return sqlstore.CaseEffects{
			Thread: []*monban.CaseMessage{{ID: monban.NewID("cmg"), At: now, Author: "person", Kind: monban.CaseMsgPerson, Body: body, Lang: c.Lang}},
			Audit: []monban.AuditEvent{{At: now, AccountID: c.AccountID, Action: monban.AuditCaseReplied, IP: ip,
				Detail: map[string]string{"case_id": c.ID, "by": "person"}}},
		}, nil
	})
	return err
}
