package tui

import (
	"bytes"
	"io"
	"os"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"
)

// Bracketed paste markers (xterm): what the terminal sends around pasted text.
var (
	pasteStart = []byte("\x1b[200~")
	pasteEnd   = []byte("\x1b[201~")
)

// pasteGuard reads the terminal's input and, inside a bracketed paste, re-encodes every
// byte that is not UTF-8 as the code point of the same number (Latin-1) before the input
// decoder sees it. The decoder takes a raw 0x9B for a one-byte CSI and swallows what
// follows it, and drops U+FFFD from a paste, so a pasted bounce lost characters the
// command line shows. As U+009B the byte reaches the paste whole, and sanitize makes
// it visible ("<U+009B>"); 0xA0–0xFF become the Latin-1 letters legacy bounces meant.
// Keys typed outside a paste pass through untouched and undelayed.
type pasteGuard struct {
	r       io.Reader
	inPaste bool
	window  []byte // the last bytes seen, to find a marker split between reads
	held    []byte // an incomplete UTF-8 sequence at the end of a read inside a paste
	out     []byte
	buf     []byte
}

func (g *pasteGuard) Read(p []byte) (int, error) {
	for len(g.out) == 0 {
		if cap(g.buf) < len(p) {
			g.buf = make([]byte, len(p))
		}
		n, err := g.r.Read(g.buf[:len(p)])
		g.filter(g.buf[:n], err != nil)
		if err != nil {
			if len(g.out) == 0 {
				return 0, err
			}
			break
		}
	}
	n := copy(p, g.out)
	g.out = g.out[n:]
	return n, nil
}

func (g *pasteGuard) filter(in []byte, final bool) {
	data := in
	if len(g.held) > 0 {
		data = append(g.held, in...)
		g.held = nil
	}
	for i := 0; i < len(data); {
		b := data[i]
		if !g.inPaste || b < utf8.RuneSelf {
			g.out = append(g.out, b)
			g.see(b)
			i++
			continue
		}
		if !utf8.FullRune(data[i:]) && !final {
			g.held = append([]byte(nil), data[i:]...) // the rest comes with the next read
			return
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			g.out = utf8.AppendRune(g.out, rune(b))
			size = 1
		} else {
			g.out = append(g.out, data[i:i+size]...)
		}
		for _, c := range data[i : i+size] {
			g.see(c)
		}
		i += size
	}
}

// see follows the paste markers through the bytes as they go by.
func (g *pasteGuard) see(b byte) {
	g.window = append(g.window, b)
	if len(g.window) > len(pasteStart) {
		g.window = g.window[1:]
	}
	switch {
	case bytes.Equal(g.window, pasteStart):
		g.inPaste = true
	case bytes.Equal(g.window, pasteEnd):
		g.inPaste = false
	}
}

// ttyPasteGuard is a pasteGuard over the terminal itself: it is still the terminal file
// (Fd, Write, Close), so the program can put it in raw mode.
type ttyPasteGuard struct {
	*pasteGuard
	f *os.File
}

func (t ttyPasteGuard) Write(p []byte) (int, error) { return t.f.Write(p) }
func (t ttyPasteGuard) Close() error                { return t.f.Close() }
func (t ttyPasteGuard) Fd() uintptr                 { return t.f.Fd() }

var _ term.File = ttyPasteGuard{}

// terminal is where a session reads keys and draws: stdin and stdout when they are the
// terminal, the terminal itself (/dev/tty) for the one that is redirected, so that
// `unblock open CASE > msg.txt` still draws on the screen and the file gets only what
// is printed on quit. Keys always pass through a pasteGuard. done closes what was
// opened; with no terminal at all, in and out are nil and the program's defaults hold.
func terminal(stdout io.Writer) (in term.File, out io.Writer, done func()) {
	done = func() {}
	inTTY := term.IsTerminal(os.Stdin.Fd())
	outFile, ok := stdout.(*os.File)
	outTTY := ok && term.IsTerminal(outFile.Fd())
	var tty *os.File
	if !inTTY || !outTTY {
		t, _, err := tea.OpenTTY()
		if err != nil {
			if inTTY {
				return ttyPasteGuard{&pasteGuard{r: os.Stdin}, os.Stdin}, nil, done
			}
			return nil, nil, done
		}
		tty = t
		done = func() { tty.Close() }
	}
	inFile := os.Stdin
	if !inTTY {
		inFile = tty
	}
	out = stdout
	if !outTTY {
		out = tty
	}
	return ttyPasteGuard{&pasteGuard{r: inFile}, inFile}, out, done
}
