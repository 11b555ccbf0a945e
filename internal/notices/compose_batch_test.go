package notices_test

import (
	"context"
	"testing"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/notices"
)

// A batch's notices carry the same payload as Compose's, in each language,
// each with its own reference, and go to the verified contacts only.
func TestBatchComposesLikeCompose(t *testing.T) {
	for _, lang := range []string{"ja", "en"} {
		t.Run(lang, func(t *testing.T) {
			svc, st, box, _ := setup(t, lang)
			want, wantMsgs, err := svc.Compose(context.Background(), st.acc.ID, monban.TopicAccountUnlocked, nil, notices.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ids := 0
			b, err := svc.NewBatch(monban.TopicAccountUnlocked, func(prefix string) string {
				ids++
				return monban.NewID(prefix)
			})
			if err != nil {
				t.Fatal(err)
			}
			refs := map[string]bool{}
			for range 3 {
				n, msgs, err := b.Compose(st.acc.ID, lang, st.ids)
				if err != nil {
					t.Fatal(err)
				}
				if n.Lang != want.Lang || n.Topic != want.Topic || refs[n.Ref] || len(msgs) != len(wantMsgs) {
					t.Fatalf("notice %+v with %d messages; want like %+v with %d", n, len(msgs), want, len(wantMsgs))
				}
				refs[n.Ref] = true
				for i, m := range msgs {
					got, wantBody := open(t, box, m), open(t, box, wantMsgs[i])
					wantBody["ref"] = n.Ref
					if m.Destination != wantMsgs[i].Destination || len(got) != len(wantBody) {
						t.Fatalf("message %+v payload %v; want %v", m, got, wantBody)
					}
					for k, v := range wantBody {
						if got[k] != v {
							t.Errorf("payload[%s] = %q, want %q", k, got[k], v)
						}
					}
				}
			}
			if ids != 3*(1+len(wantMsgs)) {
				t.Errorf("%d ids drawn from the batch's source, want %d", ids, 3*(1+len(wantMsgs)))
			}
		})
	}
}
