package casefile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// TestFullDisk: a save that runs out of space fails with the reason and leaves the old
// file and no temporary file. The helper mounts a 32 KiB tmpfs in its own mount
// namespace (a user namespace too when not root), so nothing leaks to the machine.
func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	if os.Getuid() != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	out, err := runHelper(t, "full-disk", dir, "", attr, "").CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "no space left on device") {
		t.Errorf("the error does not say the disk is full:\n%s", out)
	}
}

func fullDisk(dir string) error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=32k"); err != nil {
		return fmt.Errorf("mounting a tmpfs: %w", err)
	}
	s, _ := Open(filepath.Join(dir, "cases"))
	c := &Case{Provider: "proofpoint"}
	c.Identifiers.IPs = []string{"192.0.2.1"}
	if err := s.Create(c, false); err != nil {
		return err
	}
	before, err := os.ReadFile(c.Path())
	if err != nil {
		return err
	}
	for i := range 500 {
		c.AddFindings([]triage.Finding{pdrFinding(i, t0.Add(time.Duration(i)*time.Minute))})
	}
	err = s.Save(c)
	if err == nil {
		return errors.New("a 100 KiB case saved on a 32 KiB disk")
	}
	if !errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("want ENOSPC, got %w", err)
	}
	fmt.Println(err)
	after, err := os.ReadFile(c.Path())
	if err != nil {
		return err
	}
	if !bytes.Equal(before, after) {
		return errors.New("the old file changed")
	}
	if _, err := Load(c.Path()); err != nil {
		return fmt.Errorf("the old file no longer loads: %w", err)
	}
	if temps, _ := filepath.Glob(filepath.Join(s.Dir(), ".*.tmp")); len(temps) > 0 {
		return fmt.Errorf("temporary files left behind: %v", temps)
	}
	return nil
}
