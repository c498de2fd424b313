package sanitize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	cases := []struct{ in, text, line string }{
		{"550 5.7.1 blocked", "550 5.7.1 blocked", "550 5.7.1 blocked"},
		{"a\nb\tc", "a\nb\tc", "a␊b␉c"},
		{"line\r\nnext", "line\nnext", "line␍␊next"},
		{"bare\rreturn", "bare␍return", "bare␍return"},
		{"\x1b[31mred\x1b[0m", "␛[31mred␛[0m", "␛[31mred␛[0m"},
		{"\x1b]52;c;aGk=\x07", "␛]52;c;aGk=␇", "␛]52;c;aGk=␇"},
		{"bell\a back\b del\x7f", "bell␇ back␈ del␡", "bell␇ back␈ del␡"},
		{"c1 \u009b31m", "c1 <U+009B>31m", "c1 <U+009B>31m"},
		{"bidi \u202egnp.exe", "bidi <U+202E>gnp.exe", "bidi <U+202E>gnp.exe"},
		{"bad \xff\xfe utf8", "bad \uFFFD\uFFFD utf8", "bad \uFFFD\uFFFD utf8"},
		{"Zürich – 東京", "Zürich – 東京", "Zürich – 東京"},
		{"nul\x00", "nul␀", "nul␀"},
	}
	for _, c := range cases {
		if got := Text(c.in); got != c.text {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.text)
		}
		if got := Line(c.in); got != c.line {
			t.Errorf("Line(%q) = %q, want %q", c.in, got, c.line)
		}
	}
}

// Record is Line that keeps a tab: whitespace inside a DNS record.
func TestRecord(t *testing.T) {
	for in, want := range map[string]string{
		"v=DMARC1;\tp=reject":      "v=DMARC1;\tp=reject",
		"v=DKIM1; p=AB\tCD\nEF":    "v=DKIM1; p=AB\tCD␊EF",
		"\x1b[2J\a\u009b Zürich\t": "␛[2J␇<U+009B> Zürich\t",
	} {
		if got := Record(in); got != want {
			t.Errorf("Record(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzText holds the invariant every caller relies on: nothing that leaves Text can act on
// a terminal, and Text is idempotent.
func FuzzText(f *testing.F) {
	for _, s := range []string{"\x1b[2J", "ok", "\u009b", "a\r\nb", "\xc2\x9b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Text(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q", s)
		}
		for _, r := range out {
			if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || hidden(r) {
				t.Fatalf("control %U passed through from %q", r, s)
			}
		}
		if Text(out) != out {
			t.Fatalf("not idempotent on %q", s)
		}
		if l := Line(s); strings.ContainsAny(l, "\n\t") {
			t.Fatalf("Line kept a newline or tab: %q", l)
		}
	})
}

func BenchmarkTextPlain(b *testing.B) {
	s := strings.Repeat("550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1 ", 4)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		_ = Text(s)
	}
}

func TestInvisibleSeparators(t *testing.T) {
	got := Line("a\u2028b\u2029c\ufeffd\u200be")
	if got != "a<U+2028>b<U+2029>c<U+FEFF>d<U+200B>e" || !Clean(Text("x\u2028y")) {
		t.Errorf("Line = %q", got)
	}
}
