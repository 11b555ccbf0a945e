package monban

import "testing"

// TestIPScope: per-IP limits count an IPv4 address as itself and an IPv6
// address by its /64, so one subscriber's many addresses share one count.
func TestIPScope(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"},
		{"not an address", "not an address"},
	} {
		if got := IPScope(c.in); got != c.want {
			t.Errorf("IPScope(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
