package throttle

import (
	"testing"
	"time"

	"github.com/monban-dev/monban"
)

func st(failures int, last time.Time) State {
	return State{Failures: failures, LastFailure: last}
}

func TestDelay(t *testing.T) {
	p := DefaultPolicy
	for _, tt := range []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, {1, 0}, {5, 0},
		{6, 30 * time.Second}, {7, time.Minute}, {8, 2 * time.Minute}, {9, 4 * time.Minute},
		{10, 8 * time.Minute}, {11, 16 * time.Minute}, {12, 32 * time.Minute},
		{13, time.Hour}, {14, time.Hour}, {99, time.Hour}, {1000, time.Hour},
	} {
		if got := p.Delay(tt.failures); got != tt.want {
			t.Errorf("Delay(%d) = %v, want %v", tt.failures, got, tt.want)
		}
	}
}

func TestDecide(t *testing.T) {
	p := DefaultPolicy
	now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, tt := range []struct {
		name string
		s    State
		want Decision
	}{
		{"never failed", State{}, Decision{Allowed: true}},
		{"five free failures, just now", st(5, now), Decision{Allowed: true}},
		{"sixth failure just now: wait 30 s", st(6, now), Decision{RetryAt: now.Add(30 * time.Second)}},
		{"sixth failure 29 s ago", st(6, ago(29*time.Second)), Decision{RetryAt: now.Add(time.Second)}},
		{"sixth failure 30 s ago", st(6, ago(30*time.Second)), Decision{Allowed: true}},
		{"seventh: a minute", st(7, ago(59*time.Second)), Decision{RetryAt: now.Add(time.Second)}},
		{"twelfth: 32 minutes", st(12, ago(31*time.Minute)), Decision{RetryAt: now.Add(time.Minute)}},
		{"capped at an hour", st(50, ago(59*time.Minute)), Decision{RetryAt: now.Add(time.Minute)}},
		{"an hour later", st(50, ago(time.Hour)), Decision{Allowed: true}},
		{"99 failures: still one more try", st(99, ago(2*time.Hour)), Decision{Allowed: true}},
		{"100 consecutive: disabled", st(100, ago(48*time.Hour)), Decision{Disabled: true}},
		{"past 100 a year later: still disabled", st(130, ago(365*24*time.Hour)), Decision{Disabled: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Decide(tt.s, now); got != tt.want {
				t.Errorf("Decide(%+v) = %+v, want %+v", tt.s, got, tt.want)
			}
		})
	}
}

func TestDecideAll(t *testing.T) {
	p := DefaultPolicy
	now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		states []State
		want   Decision
	}{
		{"none", nil, Decision{Allowed: true}},
		{"all allowed", []State{{}, st(3, now)}, Decision{Allowed: true}},
		{"the latest wait wins", []State{st(6, now), st(8, now), st(0, now)}, Decision{RetryAt: now.Add(2 * time.Minute)}},
		{"disabled wins", []State{st(8, now), st(100, now)}, Decision{Disabled: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.DecideAll(tt.states, now); got != tt.want {
				t.Errorf("DecideAll = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestScheduleTakesDays: an attacker who waits out every delay needs days to
// reach the disabling threshold (the guesses a password must withstand).
func TestScheduleTakesDays(t *testing.T) {
	p := DefaultPolicy
	var total time.Duration
	for n := 1; n < p.DisableAt; n++ {
		total += p.Delay(n)
	}
	if total < 3*24*time.Hour {
		t.Fatalf("100 guesses take %v, want days", total)
	}
}

// TestSecretKinds: each guessable secret has its own refusal messages, and
// only second factors and sign-in codes alert the owner (the password was
// right).
func TestSecretKinds(t *testing.T) {
	for _, tt := range []struct {
		auth                string
		throttled, disabled string
		alert, local        bool
	}{
		{Password, "signin.throttled", "signin.password_disabled", false, false},
		{TOTP, "secret.throttled", "totp.disabled", true, false},
		{RecoveryCode, "secret.throttled", "recovery_code.disabled", true, false},
		{CodeOf(monban.PurposeSignIn), "code.too_many_failures", "code.too_many_failures", true, true},
		{CodeOf(monban.PurposeNewDevice), "code.too_many_failures", "code.too_many_failures", true, true},
		{CodeOf(monban.PurposeRecovery), "code.too_many_failures", "code.too_many_failures", false, true},
		{CodeOf(monban.PurposeVerifyEmail), "code.too_many_failures", "code.too_many_failures", false, true},
	} {
		t.Run(tt.auth, func(t *testing.T) {
			k := KindOf(tt.auth)
			if k.Throttled != tt.throttled || k.Disabled != tt.disabled || k.Alert != tt.alert || k.Local != tt.local {
				t.Errorf("KindOf(%q) = %+v", tt.auth, k)
			}
		})
	}
}

// TestSecretCodePolicy: one-time codes across flows: five free failures,
// then 30 s doubling to an hour, and never disabled (a stranger who can
// start a flow must not switch the owner's codes off).
func TestSecretCodePolicy(t *testing.T) {
	p := CodePolicy
	now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		s    State
		want Decision
	}{
		{"five failures: still free", st(5, now), Decision{Allowed: true}},
		{"sixth: 30 s", st(6, now), Decision{RetryAt: now.Add(30 * time.Second)}},
		{"seventh: a minute", st(7, now), Decision{RetryAt: now.Add(time.Minute)}},
		{"capped at an hour", st(40, now), Decision{RetryAt: now.Add(time.Hour)}},
		{"a thousand failures: delayed, not disabled", st(1000, now.Add(-time.Hour)), Decision{Allowed: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Decide(tt.s, now); got != tt.want {
				t.Errorf("Decide(%+v) = %+v, want %+v", tt.s, got, tt.want)
			}
		})
	}
}
