package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/checks/dnstest"
)

// e2eZone is what the loopback DNS server answers: the sender of the Proofpoint bounce
// in testdata (example.com, 192.0.2.225), set up properly.
const e2eZone = `
$ORIGIN example.com.
@            300 IN A     192.0.2.80
@            300 IN MX    10 inbound.example.com.
inbound      300 IN A     127.0.0.1
@            300 IN TXT   "v=spf1 ip4:192.0.2.225 -all"
_dmarc       300 IN TXT   "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
mx100.qin    300 IN A     192.0.2.225
$ORIGIN 2.0.192.in-addr.arpa.
225          300 IN PTR   mx100.qin.example.com.
$ORIGIN example.org.
@            300 IN MX    10 mx0a-00069f02.pphosted.com.
$ORIGIN pphosted.com.
; Loopback, where nothing listens on the SMTP port: the STARTTLS probe is refused at once.
mx0a-00069f02 300 IN A    127.0.0.1
`

// tmuxSession drives the real binary in a tmux server of its own, as a person types.
type tmuxSession struct {
	t    *testing.T
	sock string
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	cmd := exec.Command("tmux", append([]string{"-S", s.sock, "-f", "/dev/null"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (s *tmuxSession) capture() string { return s.run("capture-pane", "-p", "-t", "e2e") }

// keys sends tmux key names (Enter, Escape, Down, C-u) or literal text.
func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	for _, k := range keys {
		s.run("send-keys", "-t", "e2e", k)
		time.Sleep(30 * time.Millisecond)
	}
}

// text types literal text.
func (s *tmuxSession) text(t string) {
	s.t.Helper()
	s.run("send-keys", "-t", "e2e", "-l", t)
	time.Sleep(30 * time.Millisecond)
}

// paste pastes a file with bracketed paste, as a terminal does.
func (s *tmuxSession) paste(path string) {
	s.t.Helper()
	s.run("load-buffer", "-b", "input", path)
	s.run("paste-buffer", "-p", "-d", "-b", "input", "-t", "e2e")
}

// wait waits until the pane shows what.
// waitFor reports whether what appears on the screen within d.
func (s *tmuxSession) waitFor(what string, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(s.capture(), what) {
			return true
		}
	}
	return false
}

func (s *tmuxSession) wait(what string) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		screen := s.capture()
		if strings.Contains(screen, what) {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %q; the pane shows:\n%s", what, screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitExit waits until the program in the pane has exited.
func (s *tmuxSession) waitExit() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.TrimSpace(s.run("display-message", "-p", "-t", "e2e", "#{pane_dead}")) != "1" {
		if time.Now().After(deadline) {
			s.t.Fatalf("the program did not exit; the pane shows:\n%s", s.capture())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// e2eBinary builds the command into a fresh directory for a test in tmux, which it needs.
func e2eBinary(t *testing.T) (dir, bin string) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed for the end-to-end test (CI installs it): ", err)
	}
	dir = t.TempDir()
	bin = filepath.Join(dir, "unblock")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir, bin
}

// TestEndToEnd drives the built binary in tmux: a new case from a pasted Proofpoint
// bounce, the live checks against a loopback DNS server, the evidence ticked, the
// message copied through OSC 52 into tmux's buffer; then `unblock open` on the case, a
// new failure pasted and the update written.
func TestEndToEnd(t *testing.T) {
	dir, bin := e2eBinary(t)
	dns := dnstest.Start(t, e2eZone)
	cases := filepath.Join(dir, "cases")
	bounce, err := filepath.Abs("../../tui/testdata/proofpoint-bounce.eml")
	if err != nil {
		t.Fatal(err)
	}

	s := &tmuxSession{t: t, sock: filepath.Join(dir, "tmux.sock")}
	env := []string{"-e", "UNBLOCK_DIR=" + cases, "-e", "TZ=UTC", "-e", "NO_COLOR="}
	session := func(args ...string) string {
		return fmt.Sprintf("%s %s --resolver %s --timeout 5s", bin, strings.Join(args, " "), dns.Addr)
	}
	start := time.Now()
	s.run(append(append([]string{"new-session", "-d", "-s", "e2e", "-x", "100", "-y", "30"}, env...), session())...)
	t.Cleanup(func() { exec.Command("tmux", "-S", s.sock, "kill-server").Run() })
	s.run("set-option", "-g", "set-clipboard", "on")
	s.run("set-option", "-g", "remain-on-exit", "on")
	s.wait("Who are you in this case?")
	t.Logf("first frame of the real binary in tmux after %v", time.Since(start).Round(time.Millisecond))

	// A new case: sender, the pasted bounce.
	s.keys("Enter")
	s.wait("What failed?")
	s.paste(bounce)
	screen := s.wait("Proposed")
	// tmux sends the pasted line ends as carriage returns, as terminals do: the bounce
	// must still be read as a bounce, its reply found inside it.
	if !strings.Contains(screen, "554 Blocked - see") {
		t.Fatalf("the pasted bounce was not read as one; the pane shows:\n%s", screen)
	}
	s.keys("Enter")
	s.wait("What the provider needs")
	s.keys("Down", "C-u")
	s.text("example.com")
	s.keys("Enter", "C-u")
	s.text("nekonyaan@example.com")
	s.keys("Enter", "C-u")
	s.text("mx100.qin.example.com")
	s.keys("Enter", "Enter", "Enter")

	// The checks run against the loopback server.
	s.wait("Proving your side")
	screen = s.wait("done:")
	if !strings.Contains(screen, "spf         ✓ pass") {
		t.Errorf("SPF does not pass against the fixture zone:\n%s", screen)
	}

	// Evidence: tick scope and changes.
	s.keys("Enter")
	s.wait("Checklist")
	s.keys("Down", "Down", "Down", "Down", "Down", "Space", "Down", "Space")
	s.wait("you confirmed")

	// The message, copied into tmux's buffer through OSC 52.
	s.keys("Enter")
	s.wait("c copy")
	s.keys("c")
	s.wait("copied")
	buf := s.run("show-buffer")
	if !strings.Contains(buf, "Subject:") || !strings.Contains(buf, "192.0.2.225") {
		t.Fatalf("tmux buffer after c:\n%s", buf)
	}
	s.keys("m")
	s.wait("marked sent")
	// Marking sent saved the case: q quits without asking.
	s.keys("q")
	s.waitExit()

	// Coming back: open the case, paste a new failure, write the update.
	st, err := casefile.Open(cases)
	if err != nil {
		t.Fatal(err)
	}
	list, err := st.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("%d cases on disk (%v)", len(list), err)
	}
	id := list[0].ID
	s.run("respawn-pane", "-k", "-t", "e2e", session("open", id))
	s.wait("Timeline")
	s.keys("p")
	s.wait("Add new failures")
	later := time.Now().UTC().Add(2 * time.Minute)
	logLine := fmt.Sprintf("%s mx100 postfix/smtp[4242]: 3F2A1B: to=<sales@example.org>, relay=mx0a-00069f02.pphosted.com[198.51.100.18]:25, delay=1, delays=0/0/0.5/0, dsn=5.7.0, status=bounced (host mx0a-00069f02.pphosted.com[198.51.100.18] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.225 (in reply to RCPT TO command))\n",
		later.Format(time.RFC3339))
	newFailure := filepath.Join(dir, "new.log")
	if err := os.WriteFile(newFailure, []byte(logLine), 0o600); err != nil {
		t.Fatal(err)
	}
	s.paste(newFailure)
	s.wait("1 new in the case")
	s.keys("Enter")
	s.wait("Since then: 1 new failure")
	s.keys("u")
	s.wait("Since then:")
	// u runs the checks again before the update is final; c copies once they are done
	// (on a loaded machine that can take a while), so press it until it is taken.
	for i := 0; ; i++ {
		s.keys("c")
		if s.waitFor("copied", 3*time.Second) {
			break
		}
		if i == 5 {
			s.wait("copied")
		}
	}
	update := s.run("show-buffer")
	if !strings.Contains(update, "1 new failure") || update == buf {
		t.Errorf("the update in tmux's buffer does not count the new failure:\n%s", update)
	}
	// Copying is a preview; marking sent records the update and saves the case.
	s.keys("m")
	s.wait("marked sent")
	// P prints the message when the program ends, for a terminal without a clipboard.
	s.keys("P")
	s.wait("printed when you quit")
	s.keys("q")
	s.waitExit()
	if screen := s.capture(); !strings.Contains(screen, "Is there anything more you need from us") { // the update's last line
		t.Errorf("the update was not printed on quit; the pane shows:\n%s", screen)
	}

	c, err := casefile.Load(st.PathOf(id))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Timeline) < 2 {
		t.Errorf("timeline holds %d events after the new failure", len(c.Timeline))
	}
	// Copying and printing the update are previews: the record of messages holds only
	// what was marked sent, the request and then the update.
	if len(c.Messages) != 2 || c.Messages[0].Kind != "ipcheck-request" || c.Messages[1].Kind != "update" || c.Messages[1].SentAt.IsZero() {
		t.Errorf("messages on disk: %+v, want the ipcheck-request and the update, both marked sent", c.Messages)
	}
}

// TestOpenRedirected opens a case with stdout redirected to a file, on the clock
// UNBLOCK_NOW sets, as `UNBLOCK_NOW=… unblock open CASE > msg.txt` does: the screen is
// still drawn on the terminal, the session agrees with the command line that the
// follow-up is due (no "too early" for the escalation), and the file gets the printed
// message alone, without the terminal's escape sequences.
func TestOpenRedirected(t *testing.T) {
	dir, bin := e2eBinary(t)
	dns := dnstest.Start(t, e2eZone)
	cases := filepath.Join(dir, "cases")
	cli := func(at string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "UNBLOCK_DIR="+cases, "UNBLOCK_NOW="+at, "NO_COLOR=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("unblock %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	const sent, later = "2026-11-20T09:00:00Z", "2026-11-25T09:00:00Z"
	id := strings.Fields(cli(sent, "new", "--ip", "192.0.2.225", "--domain", "example.com", "--recipient-domain", "example.org"))[0]
	if id != "2026-11-20-proofpoint-192-0-2-225" {
		t.Fatalf("the case id %q is not dated by UNBLOCK_NOW", id)
	}
	cli(sent, "add", id, "../../tui/testdata/proofpoint-bounce.eml")
	cli(sent, "message", id, "--mark-sent")
	if list := cli(later, "list"); !strings.Contains(list, " due") {
		t.Fatalf("the command line does not see the follow-up due:\n%s", list)
	}

	s := &tmuxSession{t: t, sock: filepath.Join(dir, "tmux.sock")}
	out := filepath.Join(dir, "msg.txt")
	shell := fmt.Sprintf("UNBLOCK_DIR=%s UNBLOCK_NOW=%s TZ=UTC NO_COLOR= %s open %s --resolver %s --timeout 5s > %s",
		cases, later, bin, id, dns.Addr, out)
	s.run("new-session", "-d", "-s", "e2e", "-x", "100", "-y", "30", "sh", "-c", shell)
	t.Cleanup(func() { exec.Command("tmux", "-S", s.sock, "kill-server").Run() })
	s.run("set-option", "-g", "remain-on-exit", "on")
	s.wait("Follow-up due since 2026-11")
	s.keys("e")
	screen := s.wait("c copy")
	if strings.Contains(screen, "Too early") {
		t.Errorf("the session escalates too early on UNBLOCK_NOW's clock:\n%s", screen)
	}
	s.keys("P")
	s.wait("printed when you quit")
	// The checks the overview ran are unsaved: quitting asks, n quits without them.
	s.keys("q")
	s.wait("quit without saving")
	s.keys("n")
	s.waitExit()
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(string(got), '\x1b') {
		t.Errorf("the redirected output holds escape sequences:\n%q", got)
	}
	if !strings.HasPrefix(string(got), "To: ") || !strings.Contains(string(got), "Subject:") {
		t.Errorf("the redirected output is not the message alone:\n%s", got)
	}
}
