package codes

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/clocktest"
	"github.com/monban-dev/monban/internal/storetest"
)

func TestNormalizeInput(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for refused
	}{
		{"123456", "123456"},
		{" 123 456 ", "123456"},
		{"123-456", "123456"},
		{"１２３４５６", "123456"},
		{"１２３ー４５６", "123456"},
		{"123\u3000456", "123456"},
		{"123−456", "123456"},
		{"1234", "1234"},
		{"12345678", "12345678"},
		{"123", ""},
		{"123456789", ""},
		{"12345a", ""},
		{"١٢٣٤٥٦", ""}, // Arabic-Indic digits are not what we sent
		{"", ""},
		{"--------", ""},
	}
	for _, tt := range tests {
		got, ok := normalizeInput(tt.in)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("normalizeInput(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func FuzzVerifyInput(f *testing.F) {
	for _, s := range []string{"123456", "１２３ー４５６", " 12-34 ", "12345678", "123456789", "abc", "\u200b1234", "①②③④"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := normalizeInput(s)
		if !ok {
			if got != "" {
				t.Fatalf("refused %q but returned %q", s, got)
			}
			return
		}
		if len(got) < minDigits || len(got) > maxDigits {
			t.Fatalf("%q → %q: length %d", s, got, len(got))
		}
		for i := 0; i < len(got); i++ {
			if got[i] < '0' || got[i] > '9' {
				t.Fatalf("%q → %q: not all ASCII digits", s, got)
			}
		}
		if again, ok := normalizeInput(got); !ok || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, got, again, ok)
		}
	})
}

// BenchmarkVerify measures, on SQLite, issuing a code and verifying it
// ("issue+verify", one pair per op) and verifying pre-issued codes from
// parallel clients ("verify", one verification per op).
func BenchmarkVerify(b *testing.B) {
	setup := func(b *testing.B) (*Service, *env) {
		path := filepath.Join(b.TempDir(), "bench.db")
		db := storetest.OpenSQLite(b, path)
		e := &env{t: b, db: db, path: path, clock: clocktest.New(start)}
		svc := e.service(db, generous, func(c *Config) {
			c.PerDestinationHour, c.PerDestinationDay, c.PerAccountHour, c.PerIPHour = -1, -1, -1, -1
		})
		return svc, e
	}
	start := func(b *testing.B, svc *Service, e *env, i int) (*monban.Flow, string) {
		f, err := svc.Start(ctx, StartInput{AccountID: fmt.Sprintf("acc_%d", i), Purpose: monban.PurposeSignIn,
			Channel: monban.ChannelEmail, Destination: fmt.Sprintf("u%d@example.jp", i), IP: "192.0.2.1"})
		if err != nil {
			b.Fatal(err)
		}
		code, _, _ := e.sent(f.ID)
		return f, code
	}
	b.Run("issue+verify", func(b *testing.B) {
		svc, e := setup(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			f, code := start(b, svc, e, i)
			if _, err := svc.Verify(ctx, f.ID, f.AccountID, code); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "pairs/s")
	})
	b.Run("verify", func(b *testing.B) {
		svc, e := setup(b)
		type issued struct {
			f    *monban.Flow
			code string
		}
		flows := make([]issued, b.N)
		for i := range flows {
			f, code := start(b, svc, e, i)
			flows[i] = issued{f, code}
		}
		var next atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				it := flows[next.Add(1)-1]
				if _, err := svc.Verify(ctx, it.f.ID, it.f.AccountID, it.code); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
	})
}
