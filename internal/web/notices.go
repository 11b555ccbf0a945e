package web

import (
	"context"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/pacing"
)

// NoticeStore is the message center as pages and the API read it, and what
// the public check needs.
type NoticeStore interface {
	notices.Checker
	NoticesByAccount(ctx context.Context, accountID string, limit int) ([]monban.Notice, int, error)
	MarkNoticesRead(ctx context.Context, accountID string, ids []string, at time.Time) (int, error)
}

// noticeView is one notice as pages and the API show it.
type noticeView struct {
	ID         string            `json:"id"`
	Ref        string            `json:"ref"`
	Topic      string            `json:"topic"`
	TopicLabel string            `json:"topic_label"`
	Summary    string            `json:"summary"`
	Params     map[string]string `json:"params"`
	CreatedAt  time.Time         `json:"created_at"`
	Read       bool              `json:"read"`
	ReadAt     *time.Time        `json:"read_at"`
}

func (s *Server) noticeView(lang string, n monban.Notice) noticeView {
	v := noticeView{ID: n.ID, Ref: n.Ref, Topic: n.Topic, TopicLabel: s.topicLabel(lang, n.Topic),
		Summary: s.cat.T(lang, noticeKey(n), nil), Params: n.Params, CreatedAt: n.CreatedAt.UTC(), Read: !n.ReadAt.IsZero()}
	if v.Params == nil {
		v.Params = map[string]string{}
	}
	if v.Read {
		t := n.ReadAt.UTC()
		v.ReadAt = &t
	}
	return v
}

// topicLabel names a topic for people; an unknown one is shown as it is.
func (s *Server) topicLabel(lang, topic string) string {
	if !notices.TopicKnown(topic) {
		return topic
	}
	return s.cat.T(lang, "topic."+topic, nil)
}

// checkAnswer is the public check's answer: the same fields whether or not
// the reference is known.
type checkAnswer struct {
	Ref        string   `json:"ref"`
	Genuine    bool     `json:"genuine"`
	SentAt     string   `json:"sent_at"` // RFC 3339, "" when not genuine
	Topic      string   `json:"topic"`
	TopicLabel string   `json:"topic_label"`
	To         []string `json:"to"`
	Message    string   `json:"message"` // the verdict in words, with how to report a forgery
}

// check runs the public check for input from ip and phrases the verdict.
func (s *Server) check(ctx context.Context, lang, input, ip string) (*checkAnswer, error) {
	res, err := s.notices.Check(ctx, s.noticeStore, input, ip)
	if err != nil {
		return nil, err
	}
	// A known reference (reads that find rows) and an unknown one (reads
	// that find none) end at the same time: the check routes are paced
	// (paced.go), by the genuine answers.
	if res.Genuine {
		pacing.Costly(ctx)
	}
	a := &checkAnswer{Ref: res.Ref, Genuine: res.Genuine, To: res.To}
	if !res.Genuine {
		a.Message = s.cat.T(lang, "check.not_ours", map[string]any{"ref": res.Ref}) + " " + s.cat.T(lang, "check.report", nil)
		return a, nil
	}
	a.SentAt = res.SentAt.UTC().Format(time.RFC3339)
	a.Topic, a.TopicLabel = res.Topic, s.topicLabel(lang, res.Topic)
	to := "—"
	if len(res.To) > 0 {
		to = joinComma(res.To)
	}
	a.Message = s.cat.T(lang, "check.genuine", map[string]any{"ref": res.Ref, "date": pageFuncs["fmtTime"].(func(string, time.Time) string)(lang, res.SentAt),
		"to": to, "topic": a.TopicLabel})
	return a, nil
}

// noticeKey is the catalog key of a notice's summary: an unlock after a
// faulty rule was rolled back says it was monban's mistake.
func noticeKey(n monban.Notice) string {
	if n.Topic == monban.TopicAccountUnlocked && n.Params["how"] == "rollback" {
		return "notice.account.unlocked_rollback"
	}
	return "notice." + n.Topic
}
