package tui

import (
	"context"
	"io"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// readEvidence is the one place the screens call triage's reader. progress gets the
// bytes read so far.
// now is the session's clock: a log's year is decided by it.
func readEvidence(ctx context.Context, name string, r io.Reader, progress func(int64), now func() time.Time) (*triage.Report, error) {
	return triage.Read(ctx, name, r, triage.Options{Progress: progress, Now: now})
}

// readFolder reads a Maildir or a folder of bounces.
func readFolder(ctx context.Context, path string, progress func(int64), now func() time.Time) (*triage.Report, error) {
	return triage.ReadPath(ctx, path, triage.Options{Progress: progress, Now: now})
}
