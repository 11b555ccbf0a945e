package recovery_test

import (
	"context"
	"testing"

	"github.com/monban-dev/monban/internal/recovery"
)

type locks struct{}

func (locks) PasswordReset(context.Context, string) error { return nil }

// TestNewRequiresGuards: login help cannot be built without its
// second-factor checks, its lock service or its throttle.
func TestNewRequiresGuards(t *testing.T) {
	for _, c := range []struct {
		name string
		d    recovery.Deps
	}{
		{"nothing", recovery.Deps{}},
		{"no factors", recovery.Deps{Locks: locks{}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if s, err := recovery.New(c.d, recovery.Config{}); err == nil || s != nil {
				t.Errorf("New = %v, %v; want an error", s, err)
			}
		})
	}
}
