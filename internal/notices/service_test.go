package notices_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/notices"
	"github.com/monban-dev/monban/internal/seal"
)

// fakeStore records what was enqueued.
type fakeStore struct {
	acc     monban.Account
	ids     []monban.Identifier
	notices []*monban.Notice
	msgs    [][]*monban.Message
	refused int // refuse this many enqueues as ref_taken
}

func (f *fakeStore) AccountByID(_ context.Context, id string) (*monban.Account, error) {
	if id != f.acc.ID {
		return nil, monban.ErrNotFound
	}
	a := f.acc
	return &a, nil
}

func (f *fakeStore) IdentifiersByAccount(context.Context, string) ([]monban.Identifier, error) {
	return f.ids, nil
}

func (f *fakeStore) EnqueueNotice(_ context.Context, n *monban.Notice, msgs []*monban.Message) error {
	if f.refused > 0 {
		f.refused--
		return monban.Errorf(monban.EConflict, "notice.ref_taken")
	}
	f.notices, f.msgs = append(f.notices, n), append(f.msgs, msgs)
	return nil
}

type wakeCounter int

func (w *wakeCounter) Notify() { *w++ }

var secret = []byte("0123456789abcdef0123456789abcdef")

func setup(t *testing.T, lang string) (*notices.Service, *fakeStore, *seal.Box, *wakeCounter) {
	t.Helper()
	box, err := seal.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStore{acc: monban.Account{ID: "acc_1", Lang: lang}, ids: []monban.Identifier{
		{Kind: monban.KindUsername, Value: "taro", Verified: true},
		{Kind: monban.KindEmail, Value: "taro@example.jp", Verified: true},
		{Kind: monban.KindEmail, Value: "old@example.jp", Verified: false},
		{Kind: monban.KindPhone, Value: "+819012345678", Verified: true},
	}}
	var w wakeCounter
	clock := clocktest.New(time.Date(2026, 3, 14, 6, 9, 0, 0, time.UTC))
	return notices.New(st, box, clock, notices.Config{PublicURL: "https://id.example.jp/"}, &w, nil), st, box, &w
}

func open(t *testing.T, box *seal.Box, m *monban.Message) map[string]string {
	t.Helper()
	b, err := box.Open(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]string
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSendLockNotice(t *testing.T) {
	svc, st, box, w := setup(t, "ja")
	n, err := svc.Send(context.Background(), "acc_1", monban.TopicAccountLocked,
		map[string]string{"until": "2026-03-15T00:00:00Z"}, notices.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.notices) != 1 || *w != 1 {
		t.Fatalf("%d notices stored, %d wakes", len(st.notices), *w)
	}
	if _, ok := monban.ParseRef(n.Ref); !ok || n.Lang != "ja" || n.Params["until"] != "2026-03-15T00:00:00Z" {
		t.Errorf("notice %+v", n)
	}
	msgs := st.msgs[0]
	got := map[monban.Channel]string{}
	for _, m := range msgs {
		got[m.Channel] = m.Destination
		if m.Template != "notice.account.locked" || m.Lang != "ja" || m.AccountID != "acc_1" || m.Status != monban.MessageQueued {
			t.Errorf("message %+v", m)
		}
		p := open(t, box, m)
		if p["ref"] != n.Ref || p["check_url"] != "https://id.example.jp/check" || p["site"] != "id.example.jp" ||
			p["until"] != "2026年3月15日 09:00（日本時間）" || p["sent_at"] != "2026年3月14日 15:09（日本時間）" {
			t.Errorf("payload %v", p)
		}
	}
	// Verified email and (a lock warrants it) SMS; never an unverified address.
	if len(msgs) != 2 || got[monban.ChannelEmail] != "taro@example.jp" || got[monban.ChannelSMS] != "+819012345678" {
		t.Errorf("recipients %v", got)
	}
}

func TestComposeRecipients(t *testing.T) {
	ctx := context.Background()
	svc, st, box, _ := setup(t, "en")
	// A new-device sign-in goes by email only.
	_, msgs, err := svc.Compose(ctx, "acc_1", monban.TopicSignInNewDevice, nil, notices.Options{})
	if err != nil || len(msgs) != 1 || msgs[0].Channel != monban.ChannelEmail || msgs[0].Lang != "en" {
		t.Fatalf("new device: %v %v", msgs, err)
	}
	// A contact change reaches the old address only, with the restore link
	// sealed in the message and kept out of the message center.
	n, msgs, err := svc.Compose(ctx, "acc_1", monban.TopicContactChanged, map[string]string{"kind": "email"},
		notices.Options{To: []notices.Recipient{{Channel: monban.ChannelEmail, Address: "old@example.jp"}}, OnlyTo: true,
			Private: map[string]string{"restore_url": "https://id.example.jp/restore/secret"}})
	if err != nil || len(msgs) != 1 || msgs[0].Destination != "old@example.jp" {
		t.Fatalf("contact change: %v %v", msgs, err)
	}
	if p := open(t, box, msgs[0]); p["restore_url"] == "" || p["sent_at"] != "14 Mar 2026 15:09 JST" {
		t.Errorf("payload %v", p)
	}
	if _, leaked := n.Params["restore_url"]; leaked {
		t.Errorf("restore_url in the message center: %v", n.Params)
	}
	// Without a verified email, SMS carries every topic.
	st.ids = st.ids[3:]
	if _, msgs, _ := svc.Compose(ctx, "acc_1", monban.TopicSignInNewDevice, nil, notices.Options{}); len(msgs) != 1 ||
		msgs[0].Channel != monban.ChannelSMS {
		t.Errorf("SMS fallback: %v", msgs)
	}
	if _, _, err := svc.Compose(ctx, "acc_1", "nope", nil, notices.Options{}); monban.ErrorCodeOf(err) != monban.EInternal {
		t.Errorf("unknown topic: %v", err)
	}
}

func TestSendDrawsAnotherRef(t *testing.T) {
	svc, st, _, _ := setup(t, "ja")
	st.refused = 2
	if _, err := svc.Send(context.Background(), "acc_1", monban.TopicPasswordChanged, nil, notices.Options{}); err != nil {
		t.Fatal(err)
	}
	st.refused = 10
	if _, err := svc.Send(context.Background(), "acc_1", monban.TopicPasswordChanged, nil, notices.Options{}); err == nil {
		t.Error("endless ref collisions: want an error")
	}
}
