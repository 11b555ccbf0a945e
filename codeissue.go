package monban

import "time"

// CodeIssue is everything written when a code is sent: the limits it counts
// against, a new flow or the resend of an existing one, the code and the
// outbox message that carries it. The store writes all of it in one
// transaction, or nothing.
type CodeIssue struct {
	Now    time.Time
	Limits []Limit

	// Either NewFlow (a first send) …
	NewFlow *Flow
	// … or a resend in FlowID, allowed only while the flow is open, still has
	// ExpectSends sends and its cooldown has passed; it then has
	// ExpectSends+1 sends and may send again at NextSendAt.
	FlowID      string
	ExpectSends int
	NextSendAt  time.Time

	Code    *Code
	Message *Message
}
