package main

import (
	"fmt"
	"io"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/risk"
)

func riskRollbackOptions(f monban.LockFilter, dry bool, batch int, by string, w io.Writer) risk.RollbackOptions {
	return risk.RollbackOptions{Filter: f, DryRun: dry, Batch: batch, By: by, Progress: func(p risk.RollbackProgress) {
		done := p.Lifted + p.Skipped
		pct := 100.0
		if p.Total > 0 {
			pct = 100 * float64(done) / float64(p.Total)
		}
		fmt.Fprintf(w, "  %d/%d (%.1f%%) lifted, %.0f/s, ETA %s\n", done, p.Total, pct, p.Rate, p.ETA.Round(time.Second))
	}}
}
