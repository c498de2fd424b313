package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/checks/dnstest"
)

// TestNewcomerJourney drives the built binary in tmux as someone new to it would: enter
// on an empty field, a paste nothing can read, a mistyped path, then the bounce for an IP
// an open case already covers; the duplicate is refused and the paste goes to that case;
// a check skipped with --skip and one with space; the details pane scrolled; ? opened.
// Nothing is created that the person did not ask for.
func TestNewcomerJourney(t *testing.T) {
	dir, bin := e2eBinary(t)
	dns := dnstest.Start(t, e2eZone)
	cases := filepath.Join(dir, "cases")
	bounce, err := filepath.Abs("../../tui/testdata/proofpoint-bounce.eml")
	if err != nil {
		t.Fatal(err)
	}
	// The case that already covers the bounce's IP, made with the command line.
	st, err := casefile.Open(cases)
	if err != nil {
		t.Fatal(err)
	}
	open := &casefile.Case{Role: casefile.Sender, Provider: "proofpoint", Title: "Newsletter blocked at Proofpoint",
		Identifiers: casefile.Identifiers{IPs: []string{"192.0.2.225"}, Domain: "example.com"}}
	if err := st.Create(open, false); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.txt")
	if err := os.WriteFile(junk, []byte("hi, my mails don't arrive\ncan you help?\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	s := &tmuxSession{t: t, sock: filepath.Join(dir, "tmux.sock")}
	cmd := fmt.Sprintf("%s --resolver %s --timeout 5s --skip dnsbl", bin, dns.Addr)
	s.run("new-session", "-d", "-s", "e2e", "-x", "80", "-y", "24", "-e", "UNBLOCK_DIR="+cases, "-e", "TZ=UTC", "-e", "NO_COLOR=1", cmd)
	t.Cleanup(func() { exec.Command("tmux", "-S", s.sock, "kill-server").Run() })
	s.run("set-option", "-g", "remain-on-exit", "on")

	s.wait("1 saved case")
	s.keys("n")
	s.wait("Who are you in this case?")
	s.keys("Enter")
	s.wait("What failed?")

	// Enter on nothing, a paste nothing reads, a mistyped path: each says why.
	s.keys("Enter")
	s.wait("nothing pasted yet")
	s.paste(junk)
	t.Logf("after a paste nothing reads:\n%s", s.wait("nothing in it could be read as a delivery failure"))
	missing := filepath.Join(dir, "bounce.eml")
	s.text(missing)
	s.keys("Enter")
	t.Logf("after a mistyped path:\n%s", s.wait("no such file: "+missing[:min(len(missing), 40)]))
	if list, _ := st.List(); len(list) != 1 {
		t.Fatalf("%d cases after input nothing could read, want the one made before", len(list))
	}

	// The bounce: the advice the command line prints, then the duplicate guard.
	s.paste(bounce)
	screen := s.wait("Proposed")
	for _, want := range []string{"why  the IP is on Proofpoint Dynamic Reputation", "go   Proofpoint IP check"} {
		if !strings.Contains(screen, want) {
			t.Errorf("triage does not show %q:\n%s", want, screen)
		}
	}
	s.keys("Enter")
	s.wait("What the provider needs")
	s.keys("C-s")
	screen = s.wait("already open")
	t.Logf("the duplicate dialog:\n%s", screen)
	if !strings.Contains(screen, open.ID) || !strings.Contains(screen, "f create anyway") || strings.Contains(screen, "? help") {
		t.Errorf("the duplicate dialog does not name %s or its footer is not its keys:\n%s", open.ID, screen)
	}
	s.keys("Escape")
	s.wait("What the provider needs")
	s.keys("C-s")
	s.wait("already open")
	s.keys("Enter")
	s.wait("from what you pasted added to this case")
	if list, _ := st.List(); len(list) != 1 {
		t.Fatalf("%d cases after the duplicate was refused", len(list))
	}

	// The checks: dnsbl skipped by --skip, spf by space; spf's details scroll.
	s.keys("4")
	screen = s.wait("done:")
	if !regexp.MustCompile(`dnsbl +– skip +skipped on request`).MatchString(screen) {
		t.Errorf("--skip dnsbl: the row does not say skipped:\n%s", screen)
	}
	for range 12 {
		if strings.Contains(s.capture(), "▸ spf") {
			break
		}
		s.keys("Down")
	}
	s.wait("▸ spf")
	screen = s.wait("pgup/pgdn scroll")
	first := regexp.MustCompile(`lines (\d+)–`).FindStringSubmatch(screen)
	s.keys("NPage")
	screen = s.wait("lines ")
	after := regexp.MustCompile(`lines (\d+)–`).FindStringSubmatch(screen)
	t.Logf("spf's details after page down:\n%s", screen)
	if first == nil || after == nil || first[1] == after[1] {
		t.Errorf("page down did not scroll spf's details (%v → %v):\n%s", first, after, screen)
	}
	if strings.Contains(screen, "probed") || strings.Contains(screen, "map[") {
		t.Errorf("the details pane dumps values:\n%s", screen)
	}
	s.keys("Space")
	s.wait("spf skipped")

	// ? lists the keys; its footer says how to leave.
	s.keys("?")
	screen = s.wait("Everywhere")
	if !strings.Contains(screen, "esc close help") {
		t.Errorf("the help's footer:\n%s", screen)
	}
	s.keys("Escape")
	s.wait("Proving your side")
	s.keys("q")
	s.wait("Unsaved changes")
	s.keys("y")
	s.waitExit()

	list, err := st.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("%d cases on disk (%v)", len(list), err)
	}
	c := list[0]
	if len(c.Timeline) != 1 {
		t.Errorf("the open case holds %d events, want the pasted bounce", len(c.Timeline))
	}
	for _, a := range c.Authentication {
		if a.ID == "dnsbl" || a.ID == "spf" {
			t.Errorf("a skipped check is in the case: %+v", a)
		}
	}
}
