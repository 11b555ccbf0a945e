package risk

import (
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// Evidence is what a lock keeps of why it was made: for agents and
// operators, never shown to the person. It is stored as JSON in the
// lock; ParseEvidence reads it back for the console.
type Evidence struct {
	Signal    EvidenceSignal   `json:"signal"`
	Read      map[string]int64 `json:"read,omitempty"` // "count(type,window)" or "sum(type.field,window)" → value
	SignalIDs []int64          `json:"signal_ids,omitempty"`
	Rule      string           `json:"rule"`
	When      string           `json:"when"` // the rule's condition, as written
}

// EvidenceSignal is the signal that made the rule act.
type EvidenceSignal struct {
	Type       string            `json:"type"`
	At         time.Time         `json:"at"`
	IP         string            `json:"ip,omitempty"`
	Device     string            `json:"device,omitempty"`
	Amount     int64             `json:"amount,omitempty"`
	Currency   string            `json:"currency,omitempty"`
	Instrument string            `json:"instrument,omitempty"`
	Attrs      map[string]string `json:"attrs,omitempty"`
}

// EvidenceRead is one aggregate the rule read: a count of signals of a
// type, or a sum of a field of them, over a window.
type EvidenceRead struct {
	Func   string // "count" or "sum"
	Signal string // the signal type (and ".field" for sums)
	Window string // e.g. "24h"
	Value  int64
}

// ParseEvidence reads a lock's evidence; ok is false for anything else
// (a lock made by hand, or an older format).
func ParseEvidence(s string) (e Evidence, ok bool) {
	if err := json.Unmarshal([]byte(s), &e); err != nil || (e.Signal.Type == "" && e.Rule == "" && len(e.Read) == 0) {
		return Evidence{}, false
	}
	return e, true
}

// Reads lists the aggregates the rule read, in a stable order.
func (e Evidence) Reads() []EvidenceRead {
	out := make([]EvidenceRead, 0, len(e.Read))
	for k, v := range e.Read {
		r := EvidenceRead{Signal: k, Value: v}
		if fn, rest, ok := strings.Cut(k, "("); ok && strings.HasSuffix(rest, ")") {
			args := strings.TrimSuffix(rest, ")")
			if i := strings.LastIndex(args, ","); i >= 0 {
				r = EvidenceRead{Func: fn, Signal: args[:i], Window: args[i+1:], Value: v}
			}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Signal != out[j].Signal {
			return out[i].Signal < out[j].Signal
		}
		return out[i].Func+out[i].Window < out[j].Func+out[j].Window
	})
	return out
}
