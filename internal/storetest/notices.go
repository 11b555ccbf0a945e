package storetest

import (
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/sqlstore"
)

// noticeTests cover the message center: a notice and its messages written
// together, found by reference, listed newest first with read state.
var noticeTests = []struct {
	name string
	fn   func(t *testing.T, db *sqlstore.DB)
}{
	{"NoticeEnqueue", testNoticeEnqueue},
	{"NoticeRefTaken", testNoticeRefTaken},
	{"NoticeListAndRead", testNoticeListAndRead},
}

func newNotice(accountID, topic string, created time.Time) *monban.Notice {
	return &monban.Notice{ID: monban.NewID("ntc"), Ref: monban.NewRef(), AccountID: accountID, Topic: topic,
		Lang: "ja", Params: map[string]string{"until": "2026-03-15T00:00:00Z"}, CreatedAt: created}
}

func noticeMessage(ch monban.Channel, dest string, created time.Time) *monban.Message {
	return &monban.Message{ID: monban.NewID("msg"), Channel: ch, Destination: dest, Template: "notice.account.locked",
		Lang: "ja", Payload: []byte("sealed"), NextAttemptAt: created, CreatedAt: created, UpdatedAt: created}
}

func testNoticeEnqueue(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, at(0))
	n := newNotice(a.ID, monban.TopicAccountLocked, at(time.Minute))
	msgs := []*monban.Message{noticeMessage(monban.ChannelEmail, "taro@example.com", at(time.Minute)),
		noticeMessage(monban.ChannelSMS, "+819012345678", at(time.Minute))}
	if err := db.EnqueueNotice(ctx, n, msgs); err != nil {
		t.Fatalf("EnqueueNotice: %v", err)
	}
	got, err := db.NoticeByRef(ctx, n.Ref)
	if err != nil {
		t.Fatalf("NoticeByRef: %v", err)
	}
	if got.ID != n.ID || got.AccountID != a.ID || got.Topic != n.Topic || !got.CreatedAt.Equal(n.CreatedAt) ||
		!got.ReadAt.IsZero() || got.Params["until"] != "2026-03-15T00:00:00Z" {
		t.Errorf("NoticeByRef = %+v, want %+v", got, n)
	}
	ms, err := db.MessagesByNotice(ctx, n.ID)
	if err != nil || len(ms) != 2 {
		t.Fatalf("MessagesByNotice = %d, %v", len(ms), err)
	}
	for _, m := range ms {
		if m.AccountID != a.ID || m.Status != monban.MessageQueued {
			t.Errorf("message %+v: want the notice's account, queued", m)
		}
	}
	// The messages are ordinary outbox messages: the worker claims them.
	claimed, err := db.ClaimMessages(ctx, at(2*time.Minute), time.Minute, 10)
	if err != nil || len(claimed) != 2 {
		t.Errorf("ClaimMessages = %d, %v", len(claimed), err)
	}
	if _, err := db.NoticeByRef(ctx, monban.NewRef()); !monban.IsNotFound(err) {
		t.Errorf("unknown ref: %v, want not found", err)
	}
}

func testNoticeRefTaken(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, at(0))
	n := newNotice(a.ID, monban.TopicAccountLocked, at(0))
	if err := db.EnqueueNotice(ctx, n, nil); err != nil {
		t.Fatal(err)
	}
	again := newNotice(a.ID, monban.TopicAccountUnlocked, at(time.Second))
	again.Ref = n.Ref
	m := noticeMessage(monban.ChannelEmail, "taro@example.com", at(time.Second))
	err := db.EnqueueNotice(ctx, again, []*monban.Message{m})
	if e, ok := monban.AsError(err); !ok || e.Code != monban.EConflict || e.Key != "notice.ref_taken" {
		t.Fatalf("repeated ref: %v, want conflict notice.ref_taken", err)
	}
	if _, err := db.MessageByID(ctx, m.ID); !monban.IsNotFound(err) {
		t.Errorf("message of the refused notice was written: %v", err)
	}
}

func testNoticeListAndRead(t *testing.T, db *sqlstore.DB) {
	a := mustCreateAccount(t, db, at(0))
	b := mustCreateAccount(t, db, at(0))
	var ns []*monban.Notice
	for i, topic := range []string{monban.TopicAccountLocked, monban.TopicAccountUnlocked, monban.TopicPasswordChanged} {
		n := newNotice(a.ID, topic, at(time.Duration(i)*time.Hour))
		if err := db.EnqueueNotice(ctx, n, nil); err != nil {
			t.Fatal(err)
		}
		ns = append(ns, n)
	}
	if err := db.EnqueueNotice(ctx, newNotice(b.ID, monban.TopicAccountLocked, at(0)), nil); err != nil {
		t.Fatal(err)
	}
	list, unread, err := db.NoticesByAccount(ctx, a.ID, 10)
	if err != nil || len(list) != 3 || unread != 3 {
		t.Fatalf("NoticesByAccount = %d, %d unread, %v", len(list), unread, err)
	}
	for i, want := range []string{ns[2].ID, ns[1].ID, ns[0].ID} {
		if list[i].ID != want {
			t.Errorf("list[%d] = %s, want %s (newest first)", i, list[i].ID, want)
		}
	}
	// b's notice id and an unknown one change nothing.
	bs, _, _ := db.NoticesByAccount(ctx, b.ID, 10)
	n, err := db.MarkNoticesRead(ctx, a.ID, []string{ns[0].ID, bs[0].ID, "ntc_nope"}, at(5*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("MarkNoticesRead = %d, %v; want 1", n, err)
	}
	if _, unread, _ := db.NoticesByAccount(ctx, b.ID, 10); unread != 1 {
		t.Errorf("another account's notice was marked read")
	}
	if n, err := db.MarkNoticesRead(ctx, a.ID, []string{ns[0].ID}, at(6*time.Hour)); err != nil || n != 0 {
		t.Errorf("marking again = %d, %v; want 0", n, err)
	}
	if n, err := db.MarkNoticesRead(ctx, a.ID, nil, at(7*time.Hour)); err != nil || n != 2 {
		t.Errorf("mark all = %d, %v; want 2", n, err)
	}
	list, unread, _ = db.NoticesByAccount(ctx, a.ID, 2)
	if len(list) != 2 || unread != 0 || !list[1].ReadAt.Equal(at(7*time.Hour)) {
		t.Errorf("after marking all: %d listed, %d unread, %v", len(list), unread, list[1].ReadAt)
	}
	if got, _ := db.NoticeByRef(ctx, ns[0].Ref); !got.ReadAt.Equal(at(5 * time.Hour)) {
		t.Errorf("read_at = %v, want the first mark", got.ReadAt)
	}
}
