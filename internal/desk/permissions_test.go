package desk

import (
	"testing"

	"github.com/monban-dev/monban"
)

// TestPermissionTable: who may do what. A role may do what every weaker
// role may; an unknown or empty role may do nothing.
func TestPermissionTable(t *testing.T) {
	want := map[Action][3]bool{ // agent, lead, admin
		ActView:          {true, true, true},
		ActReply:         {true, true, true},
		ActSetStatus:     {true, true, true},
		ActCheckIdentity: {true, true, true},
		ActLiftLock:      {true, true, true},
		ActLiftSuspend:   {false, true, true},
		ActGrantBypass:   {false, true, true},
		ActVerifyPhone:   {false, true, true},
		ActResetTwoStep:  {false, true, true},
		ActMetrics:       {false, true, true},
	}
	if len(want) != len(Actions) {
		t.Fatalf("table covers %d of %d actions", len(want), len(Actions))
	}
	roles := []monban.AgentRole{monban.RoleAgent, monban.RoleLead, monban.RoleAdmin}
	for act, row := range want {
		for i, r := range roles {
			if got := Allowed(r, act); got != row[i] {
				t.Errorf("Allowed(%s, %s) = %v, want %v", r, act, got, row[i])
			}
		}
		if Allowed("", act) || Allowed("root", act) {
			t.Errorf("%s allowed for an unknown role", act)
		}
	}
	if allow(&monban.Agent{Role: monban.RoleAdmin, DisabledAt: monban.SystemClock{}.Now()}, ActView) == nil {
		t.Error("a disabled agent may act")
	}
}

// TestNormalise: what a caller says matches what the host app sent,
// however it was typed.
func TestNormalise(t *testing.T) {
	for _, tc := range []struct{ field, a, b string }{
		{"name", "山田 太郎", "山田　太郎"},
		{"name", "Taro Yamada", "taro  yamada"},
		{"card_last4", "４２４２", "4242"},
		{"card_expiry", "12/27", "12/2027"},
		{"card_expiry", "1/27", "01 / 27"},
		{"address", "東京都千代田区1-1", "東京都千代田区１－１"},
	} {
		if normalise(tc.field, tc.a) != normalise(tc.field, tc.b) {
			t.Errorf("%s: %q and %q differ: %q vs %q", tc.field, tc.a, tc.b, normalise(tc.field, tc.a), normalise(tc.field, tc.b))
		}
	}
}
