package testkit

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
)

// LogBuffer is a goroutine-safe in-memory sink for log output: the
// writer of a slog handler or of a child process's stdout and stderr. The
// zero value is ready to use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Count returns how many times s occurs in what was written so far.
func (l *LogBuffer) Count(s string) int {
	return strings.Count(l.String(), s)
}

// Logger returns a logger writing text-format records (slog's default
// handler options) to l.
func (l *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, nil))
}
