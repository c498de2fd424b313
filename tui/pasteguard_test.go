package tui

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/unblock-mail/unblock/sanitize"
)

// A raw 0x9B (not UTF-8) inside a paste becomes U+009B, however the input is split
// between reads; outside a paste, and valid UTF-8 inside one, pass untouched.
func TestPasteGuardMakesRawBytesVisible(t *testing.T) {
	in := "q\x9bx\x1b[200~550 \x9b31m blocked é\xff\xc3\x1b[201~\x9bz"
	want := "q\x9bx\x1b[200~550 \u009b31m blocked éÿÃ\x1b[201~\x9bz"
	for size := 1; size <= len(in); size++ {
		var r io.Reader = strings.NewReader(in)
		r = iotest.HalfReader(&chunks{r: r, size: size})
		got, err := io.ReadAll(&pasteGuard{r: r})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("chunks of %d: %q, want %q", size, got, want)
		}
	}
}

type chunks struct {
	r    io.Reader
	size int
}

func (c *chunks) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.size)]) }

// pasteModel keeps what was pasted and quits.
type pasteModel struct{ got *string }

func (m pasteModel) Init() tea.Cmd { return nil }
func (m pasteModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if p, ok := msg.(tea.PasteMsg); ok {
		*m.got = p.Content
		return m, tea.Quit
	}
	return m, nil
}
func (m pasteModel) View() tea.View { return tea.NewView("") }

// Through the program's own input decoder: without the guard the character after a raw
// 0x9B is lost (the issue); with it, every character arrives.
func TestPasteOfRawCSIKeepsTheNextCharacter(t *testing.T) {
	paste := "\x1b[200~550 5.7.1 \x9bX blocked\x1b[201~"
	run := func(in io.Reader) string {
		var got string
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p := tea.NewProgram(pasteModel{&got}, tea.WithInput(in), tea.WithOutput(io.Discard), tea.WithContext(ctx))
		if _, err := p.Run(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	guarded := run(&pasteGuard{r: strings.NewReader(paste)})
	if guarded != "550 5.7.1 \u009bX blocked" {
		t.Errorf("guarded paste: %q", guarded)
	}
	if shown := pastedLines(guarded); !strings.Contains(sanitize.Line(shown), "<U+009B>X") {
		t.Errorf("shown as %q", sanitize.Line(shown))
	}
	raw := run(bytes.NewReader([]byte(paste)))
	t.Logf("unguarded, the decoder gives %q", raw)
	if strings.Contains(raw, "X") {
		t.Log("the decoder no longer swallows the byte after 0x9B; the guard stays harmless")
	}
}
