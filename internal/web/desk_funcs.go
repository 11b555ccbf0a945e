package web

import (
	"fmt"
	"strings"
	"time"

	"github.com/monban-dev/monban/internal/identifier"
)

// Template functions of the support pages and the agent console.
func init() {
	pageFuncs["dur"] = func(d time.Duration) string {
		switch {
		case d <= 0:
			return "—"
		case d < time.Hour:
			return fmt.Sprintf("%dm", int(d.Minutes()))
		case d < 48*time.Hour:
			return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
		}
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	}
	// mask shows an email or phone number as agents see them: enough to
	// recognise, not to copy.
	pageFuncs["mask"] = func(v string) string {
		switch {
		case strings.Contains(v, "@"):
			return identifier.MaskEmail(v)
		case strings.HasPrefix(v, "+"):
			return identifier.MaskPhone(v)
		}
		return v
	}
}
