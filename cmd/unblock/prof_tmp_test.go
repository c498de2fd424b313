package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func BenchmarkTmpRun(b *testing.B) {
	for b.Loop() {
		if code := run(context.Background(), []string{"triage", "--year", "2026", "--zone", "UTC", "/tmp/b13/mail.log"}, strings.NewReader(""), io.Discard, io.Discard); code != 0 {
			b.Fatal(code)
		}
	}
}
