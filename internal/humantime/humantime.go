// Package humantime prints times and waits for people, in one place: pages,
// problem details, notices and emails all use it, so a time named on a page
// is the time in the message and the one the JSON retry_at carries.
//
// Times are shown in Japan time (the service's users are in Japan first).
// A time something becomes allowed again is rounded up, never down: "08:44"
// is never shown for a wait that ends at 08:43:10, and a wait under a minute
// is shown to the second.
package humantime

import (
	"strconv"
	"time"
)

// Zone is Japan time.
var Zone = func() *time.Location {
	if l, err := time.LoadLocation("Asia/Tokyo"); err == nil {
		return l
	}
	return time.FixedZone("JST", 9*3600)
}()

func ja(lang string) bool { return lang != "en" }

// Date prints a moment that has happened or a deadline, to the minute, for
// a page: "2026年3月14日 15:09" or "14 Mar 2026 15:09 JST".
func Date(lang string, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.In(Zone)
	if ja(lang) {
		return t.Format("2006年1月2日 15:04")
	}
	return t.Format("2 Jan 2006 15:04 MST")
}

// DateZoned is Date for a message read away from the page (email, SMS,
// message center): the Japanese form names the zone too.
func DateZoned(lang string, t time.Time) string {
	if ja(lang) && !t.IsZero() {
		return Date(lang, t) + "（日本時間）"
	}
	return Date(lang, t)
}

// Ceil rounds t up to a whole step (a second or a minute) in UTC.
func Ceil(t time.Time, step time.Duration) time.Time {
	if r := t.Truncate(step); !r.Equal(t) {
		return r.Add(step)
	}
	return t
}

// RetryAt is the next allowed try as it is announced: rounded up to the
// second when the wait is under a minute, else up to the minute. Pages
// show it (NextTry), the JSON retry_at carries it and Retry-After counts
// to it, so the three agree and none names a time that is still refused.
func RetryAt(t, now time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	t = Ceil(t, time.Second)
	if t.Sub(now) < time.Minute {
		return t
	}
	return Ceil(t, time.Minute)
}

// RetryAfter is the Retry-After header's value in seconds up to RetryAt,
// at least 1.
func RetryAfter(t, now time.Time) int {
	d := RetryAt(t, now).Sub(now)
	return max(int((d+time.Second-1)/time.Second), 1)
}

// NextTry prints RetryAt as a time of day ("08:44", or "08:43:10" when the
// wait is under a minute; "08:44 JST" in English), with the date when it is
// not today.
func NextTry(lang string, t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	layout := "15:04"
	if t.Sub(now) < time.Minute {
		layout = "15:04:05"
	}
	t = RetryAt(t, now)
	lt, ln := t.In(Zone), now.In(Zone)
	if !now.IsZero() && (lt.YearDay() != ln.YearDay() || lt.Year() != ln.Year()) {
		if ja(lang) {
			layout = "1月2日 " + layout
		} else {
			layout = "2 Jan " + layout
		}
	}
	if !ja(lang) {
		layout += " MST"
	}
	return lt.Format(layout)
}

// Wait prints a remaining duration, rounded up: seconds under a minute,
// then minutes, then hours and minutes ("45秒", "3分", "2時間5分").
func Wait(lang string, d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Minute {
		s := int((d + time.Second - 1) / time.Second)
		if ja(lang) {
			return strconv.Itoa(s) + "秒"
		}
		return strconv.Itoa(s) + " s"
	}
	m := int((d + time.Minute - 1) / time.Minute)
	h, m := m/60, m%60
	switch {
	case ja(lang) && h == 0:
		return strconv.Itoa(m) + "分"
	case ja(lang):
		return strconv.Itoa(h) + "時間" + strconv.Itoa(m) + "分"
	case h == 0:
		return strconv.Itoa(m) + " min"
	}
	return strconv.Itoa(h) + " h " + strconv.Itoa(m) + " min"
}
