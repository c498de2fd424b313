package tui

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// fit makes s exactly h lines of at most w cells: long lines are cut with "…", missing
// lines are blank. The root uses it so no screen can push the footer off the terminal.
func fit(s string, w, h int) string {
	if h <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		lines[i] = truncate(l, w)
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// truncate cuts a (styled) line to w cells.
func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// wrap wraps plain or styled text at word boundaries to w cells.
func wrap(s string, w int) string {
	if w <= 0 {
		w = 80
	}
	return ansi.Wrap(s, w, "")
}

// wrapMessage wraps a message's plain text for display to w cells. A field's value
// ("Label:   value") and an indented line keep their column on the lines they wrap
// onto (a hanging indent), and lines break at spaces only, so a date, a hyphenated name
// or an address is never split; a word wider than the line is cut where it must be.
func wrapMessage(s string, w int) string {
	if w <= 0 {
		w = 80
	}
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		out = append(out, wrapHanging(line, w)...)
	}
	return strings.Join(out, "\n")
}

// fieldValue finds where a field's value starts: "Label:" and two or more spaces, or a
// header's one-word name and one space ("Subject: ").
var fieldValue = regexp.MustCompile(`^(?:[A-Za-z][^:]{0,30}:  +|[A-Za-z][A-Za-z-]{0,20}: )`)

func wrapHanging(line string, w int) []string {
	if ansi.StringWidth(line) <= w {
		return []string{line}
	}
	// The label and the spaces before the value stay as written.
	head := line[:len(line)-len(strings.TrimLeft(line, " "))]
	if m := fieldValue.FindString(line); m != "" {
		head = m
	}
	indent := ansi.StringWidth(head)
	if indent > w/2 {
		indent = 0
	}
	var out []string
	cur, curW, empty := head, ansi.StringWidth(head), true
	line = line[len(head):]
	next := func() {
		out = append(out, strings.TrimRight(cur, " "))
		cur, curW, empty = strings.Repeat(" ", indent), indent, true
	}
	for _, word := range strings.Fields(line) {
		ww := ansi.StringWidth(word)
		if !empty && curW+1+ww <= w {
			cur, curW = cur+" "+word, curW+1+ww
			continue
		}
		if !empty {
			next()
		}
		// A word wider than a fresh line is cut where it must be.
		for curW+ww > w {
			part := ansi.Truncate(word, w-curW, "")
			if part == "" {
				break
			}
			cur += part
			word = word[len(part):]
			ww = ansi.StringWidth(word)
			next()
		}
		if word != "" {
			cur, curW, empty = cur+word, curW+ww, false
		}
	}
	if !empty {
		out = append(out, strings.TrimRight(cur, " "))
	}
	return out
}

// padRight pads a styled string with spaces to w cells.
func padRight(s string, w int) string {
	if n := ansi.StringWidth(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// expandTabs replaces tabs with spaces: a tab measures zero cells.
func expandTabs(s string) string {
	if !strings.Contains(s, "\t") {
		return s
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		switch r {
		case '\t':
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
		case '\n':
			b.WriteRune(r)
			col = 0
		default:
			b.WriteRune(r)
			col++
		}
	}
	return b.String()
}

// plural writes a count with its noun: "1 failure", "3 failures".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
