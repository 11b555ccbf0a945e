package humantime

import (
	"testing"
	"time"
)

func TestNextTry(t *testing.T) {
	now := time.Date(2026, 3, 14, 23, 42, 0, 0, time.UTC) // 08:42 JST on 15 Mar
	for _, c := range []struct {
		name string
		lang string
		at   time.Time
		want string
	}{
		{"seconds past a minute round up", "ja", now.Add(70 * time.Second), "08:44"},
		{"a whole minute stays", "ja", now.Add(2 * time.Minute), "08:44"},
		{"36 s past rounds up, not down", "ja", now.Add(4*time.Minute + 36*time.Second), "08:47"},
		{"under a minute to the second", "ja", now.Add(10 * time.Second), "08:42:10"},
		{"under a minute, part second rounds up", "ja", now.Add(9*time.Second + time.Millisecond), "08:42:10"},
		{"english names the zone", "en", now.Add(70 * time.Second), "08:44 JST"},
		{"english seconds", "en", now.Add(10 * time.Second), "08:42:10 JST"},
		{"another day names the date", "ja", now.Add(20 * time.Hour), "3月16日 04:42"},
		{"another day in english", "en", now.Add(20 * time.Hour), "16 Mar 04:42 JST"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := NextTry(c.lang, c.at, now); got != c.want {
				t.Fatalf("NextTry = %q, want %q", got, c.want)
			}
		})
	}
}

func TestRetryAfterAgreesWithRetryAt(t *testing.T) {
	now := time.Date(2026, 3, 14, 23, 42, 0, 0, time.UTC)
	for _, c := range []struct {
		wait time.Duration
		secs int
	}{{70 * time.Second, 120}, {0, 1}, {300 * time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {59*time.Second + time.Nanosecond, 60}} {
		at := now.Add(c.wait)
		if got := RetryAfter(at, now); got != c.secs {
			t.Errorf("RetryAfter(%v) = %d, want %d", c.wait, got, c.secs)
		}
		if r := RetryAt(at, now); r.Before(at) || r.Nanosecond() != 0 || !r.Equal(now.Add(time.Duration(c.secs)*time.Second)) && c.wait > 0 {
			t.Errorf("RetryAt(%v) = %v: earlier than the limit, not whole seconds or not Retry-After", c.wait, r)
		}
	}
}

func TestWait(t *testing.T) {
	for _, c := range []struct {
		lang string
		d    time.Duration
		want string
	}{
		{"ja", 45 * time.Second, "45秒"},
		{"ja", 44*time.Second + time.Millisecond, "45秒"},
		{"ja", 61 * time.Second, "2分"},
		{"ja", 2*time.Hour + 4*time.Minute + time.Second, "2時間5分"},
		{"en", 45 * time.Second, "45 s"},
		{"en", 3 * time.Minute, "3 min"},
		{"en", 90 * time.Minute, "1 h 30 min"},
	} {
		if got := Wait(c.lang, c.d); got != c.want {
			t.Errorf("Wait(%s, %v) = %q, want %q", c.lang, c.d, got, c.want)
		}
	}
}

func TestDate(t *testing.T) {
	at := time.Date(2026, 3, 14, 6, 9, 30, 0, time.UTC)
	for _, c := range []struct{ lang, page, zoned string }{
		{"ja", "2026年3月14日 15:09", "2026年3月14日 15:09（日本時間）"},
		{"en", "14 Mar 2026 15:09 JST", "14 Mar 2026 15:09 JST"},
	} {
		if got := Date(c.lang, at); got != c.page {
			t.Errorf("Date(%s) = %q, want %q", c.lang, got, c.page)
		}
		if got := DateZoned(c.lang, at); got != c.zoned {
			t.Errorf("DateZoned(%s) = %q, want %q", c.lang, got, c.zoned)
		}
	}
}
