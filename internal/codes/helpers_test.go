package codes

import (
	"crypto/rand"
	"io"
	"log/slog"
)

// randReader is crypto/rand: codes in tests are read back from the sealed
// message, as the outbox worker would.
type randReader struct{}

func (randReader) Read(p []byte) (int, error) { return rand.Read(p) }

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
