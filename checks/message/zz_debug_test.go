package message

import (
	"fmt"
	"os"
	"testing"
	"time"
)

func TestZZDebug(t *testing.T) {
	f := os.Getenv("MSG")
	if f == "" {
		return
	}
	raw, _ := ReadFile(f)
	for _, r := range Test(raw, Options{Now: time.Now()}) {
		fmt.Printf("%-28s %-5s %s | %s\n", r.ID, r.Status, r.Summary, r.Fix)
	}
}
