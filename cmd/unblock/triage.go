package main

// The triage verbs: triage (read evidence, say what failed and where to go) and add (the
// same, recorded in a case's timeline). Thin layers over casefile/triage.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/spf13/cobra"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/casefile/triage/maillog"
	"github.com/unblock-mail/unblock/sanitize"
)

func init() {
	verbs = append(verbs, triageCmd, addCmd)
}

// triageFlags are the flags triage and add share.
type triageFlags struct {
	format string
	ip     string
	year   int
	zone   string
	follow bool
}

func (tf *triageFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	var names []string
	for _, x := range triage.Formats {
		names = append(names, string(x))
	}
	f.StringVar(&tf.format, "format", "", "read the input as this format instead of detecting it ("+strings.Join(names, ", ")+")")
	f.StringVar(&tf.ip, "ip", "", "the sending IP, when the input does not say (logs rarely do)")
	f.IntVar(&tf.year, "year", 0, "year of the newest syslog timestamp, which carries none; earlier lines count back across New Year (default: the current year)")
	f.StringVar(&tf.zone, "zone", "", "time zone of syslog timestamps, e.g. Europe/Paris or UTC (default: the local zone)")
}

func (tf *triageFlags) options() (triage.Options, error) {
	o := triage.Options{Now: now} // UNBLOCK_NOW decides a log's year as it fixes every date
	if tf.format != "" {
		if !slices.Contains(triage.Formats, triage.Format(tf.format)) {
			return o, badInput("--format %q is not one of the formats triage reads", tf.format)
		}
		o.Format = triage.Format(tf.format)
	}
	if tf.ip != "" {
		ip, err := checkIP(tf.ip)
		if err != nil {
			return o, err
		}
		o.IP = ip
	}
	if tf.year != 0 && (tf.year < 1970 || tf.year > 9999) {
		return o, badInput("--year %d is out of range", tf.year)
	}
	o.Year = tf.year
	if tf.zone != "" {
		loc, err := time.LoadLocation(tf.zone)
		if err != nil {
			return o, badInput("--zone %q is not a known time zone", tf.zone)
		}
		o.Location = loc
	}
	return o, nil
}

// readInputs triages every argument (a file, a folder, or "-" for standard input).
// inputError makes a read error exit status 2 with its one-line reason.
func inputError(err error) error {
	var ie *triage.InputError
	if errors.As(err, &ie) {
		return badInput("%v", err)
	}
	return badInput("%v", err)
}

func triageCmd(a *app) *cobra.Command {
	var tf triageFlags
	var out triageOutput
	cmd := &cobra.Command{
		Use:   "triage [FILE...|-]",
		Short: "Read a bounce, reply, headers or mail log and say what failed and where to go",
		Long: `triage reads SMTP replies, DSN and plain-text bounces (.eml), mbox files and Maildir
folders of bounces, headers of delivered messages, Postfix and Exim logs (also gzip,
bzip2 or zstd compressed, and journalctl's json and export output), and Amazon SES and
SendGrid JSON events. It says what failed, grouped by the provider and control that
caused it, with the route: the desk, its address or form, and what it asks for; for logs
also each message's progression, the daily volume and warm-up breaches.

The files of a rotated log (mail.log mail.log.1 mail.log.2.gz …) are read in the order of
their content, oldest first; logs of several hosts are merged by time. With no FILE, or
"-", it reads standard input.

Exit status: 0 when something was classified, 1 when nothing could be, 2 for bad input.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := tf.options()
			if err != nil {
				return err
			}
			if out.json && out.jsonl {
				return badInput("--json and --jsonl are two ways to write the same; give one")
			}
			ctx := cmd.Context()
			if tf.follow {
				var stop context.CancelFunc
				ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
				defer stop()
				opts.Follow = true
			}
			return a.triage(ctx, args, opts, out)
		},
	}
	tf.register(cmd)
	cmd.Flags().BoolVar(&tf.follow, "follow", false, "keep reading a growing log file, printing failures as they come, until interrupted")
	cmd.Flags().BoolVar(&out.json, "json", false, `print {"findings":[…],"groups":[…],"progressions":[…],"daily_volume":[…]} as JSON`)
	cmd.Flags().BoolVar(&out.jsonl, "jsonl", false, "print one finding per line as JSON, as they are read (for jq, Vector, Loki, Elasticsearch)")
	cmd.Flags().BoolVar(&out.all, "all", false, "list every failure after the summary (by default only when there are few)")
	return cmd
}

// triageMemoryLimit is the soft memory limit of triage (see debug.SetMemoryLimit).
const triageMemoryLimit = 64 << 20

// triageOutput is how triage writes what it found.
type triageOutput struct {
	json, jsonl, all bool
}

// triage reads the inputs and writes findings as they come: nothing but the groups,
// progressions and daily volume is kept, whatever the size of the logs.
func (a *app) triage(ctx context.Context, args []string, opts triage.Options, out triageOutput) error {
	// Memory stays bounded by the groups and messages in flight, far below the limit: the
	// collector runs only when the garbage of the read brings the heap to it, not each time
	// the heap doubles (a 60 MB log then needs none, and the read is 10% faster).
	if os.Getenv("GOMEMLIMIT") == "" && os.Getenv("GOGC") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(triageMemoryLimit))
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
	}
	growPipe(a.stdout)
	w := bufio.NewWriterSize(a.stdout, 1<<20)
	var (
		sink   func(triage.Finding) error
		finish func(*triage.Report) error
		abort  = func(error) {} // ends the output of a read that failed
		// Ended progressions leave the reader as they end: kept here as the output needs.
		progressions = &progressionSink{}
	)
	switch {
	case out.jsonl:
		sink, finish = jsonLines(w, opts.Follow) // findings only
	case out.json:
		progressions.spool = true
		sink, finish, abort = jsonDocument(w, progressions)
	default:
		sink, finish = humanOutput(w, newPainter(a.stdout), out.all, opts.Follow, progressions)
		// What is not yet written stays unwritten (the table head of --follow): an input
		// refused leaves stdout as it was.
		abort = func(error) { w.Reset(a.stdout) }
	}
	opts.OnFinding = sink
	opts.OnProgression = progressions.add
	defer progressions.discard()
	rd := triage.NewReader(opts)
	err := rd.ReadInputs(ctx, args, a.stdin)
	if err != nil {
		if isBrokenPipe(err) {
			return nil // the reader of the output went away (head, less): nothing to say
		}
		err = inputError(err)
		abort(err)
		w.Flush()
		return err
	}
	rep := rd.Report()
	if err := finish(rep); err != nil {
		if isBrokenPipe(err) {
			return nil
		}
		return fmt.Errorf("writing the output: %w", err)
	}
	if err := w.Flush(); err != nil && !isBrokenPipe(err) {
		return fmt.Errorf("writing the output: %w", err)
	}
	if !rep.Classified() {
		return foundProblems
	}
	return nil
}

func isBrokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed)
}

// jsonLines writes each finding on a line of its own, with its full route.
func jsonLines(w *bufio.Writer, follow bool) (func(triage.Finding) error, func(*triage.Report) error) {
	var line []byte
	sink := func(f triage.Finding) error {
		line = append(appendFinding(line[:0], &f), '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
		if follow {
			return w.Flush()
		}
		return nil
	}
	return sink, func(*triage.Report) error { return nil }
}

// jsonDocument writes one document: the findings as they are read, one a line (each with
// the kind of its route; the whole route, the meaning and the advice are in its group), then the groups, progressions and
// daily volume, element by element so that no large array is held twice.
func jsonDocument(w *bufio.Writer, progressions *progressionSink) (func(triage.Finding) error, func(*triage.Report) error, func(error)) {
	// The document starts with its first finding or its end: an input refused before
	// then leaves stdout empty, and one refused after closes the document with its error.
	started := false
	start := func() {
		if !started {
			started = true
			w.WriteString("{\n  \"findings\": [")
		}
	}
	n := 0
	var line []byte
	abort := func(err error) {
		if !started {
			return
		}
		if n > 0 {
			w.WriteString("  ")
		}
		w.WriteString("],\n  \"error\": ")
		w.Write(appendJSONString(nil, sanitize.Line(err.Error())))
		w.WriteString("\n}\n")
	}
	sink := func(f triage.Finding) error {
		start()
		f.Route = triage.Route{Kind: f.Route.Kind}
		f.Meaning, f.Advice = "", "" // said once, in the group
		line = line[:0]
		if n > 0 {
			line = append(line, ',')
		}
		n++
		line = append(line, "\n    "...)
		line = append(appendFinding(line, &f), '\n') // its line end ends the line
		_, err := w.Write(line)
		return err
	}
	finish := func(rep *triage.Report) error {
		start()
		if n > 0 {
			w.WriteString("  ")
		}
		w.WriteString("]")
		var buf bytes.Buffer
		ienc := json.NewEncoder(&buf)
		ienc.SetEscapeHTML(false)
		ienc.SetIndent("    ", "  ")
		value := func(v any) error {
			buf.Reset()
			if err := ienc.Encode(v); err != nil {
				return err
			}
			_, err := w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
			return err
		}
		// The progressions that ended while the log was read are spooled; those still
		// retried follow them.
		for _, p := range rep.Progressions {
			if err := progressions.add(p); err != nil {
				return err
			}
		}
		for _, f := range []struct {
			key    string
			values []any
			always bool
		}{
			{"groups", elements(rep.Groups), true},
			{"progressions", nil, progressions.n > 0},
			{"daily_volume", elements(rep.Days), false},
			{"warmup_breaches", elements(rep.Breaches), false},
			{"notes", elements(rep.Notes), false},
			{"inputs", elements(rep.Inputs), false},
			{"delivered", elements(rep.Delivered), false},
		} {
			if len(f.values) == 0 && !f.always {
				continue
			}
			w.WriteString(",\n  \"" + f.key + "\": [")
			done := 0
			if f.key == "progressions" {
				if err := progressions.writeTo(w); err != nil {
					return err
				}
				done = progressions.n
			}
			for i, v := range f.values {
				if i+done > 0 {
					w.WriteByte(',')
				}
				w.WriteString("\n    ")
				if err := value(v); err != nil {
					return err
				}
			}
			if len(f.values)+done > 0 {
				w.WriteString("\n  ")
			}
			w.WriteString("]")
		}
		_, err := w.WriteString("\n}\n")
		return err
	}
	return sink, finish, abort
}

// elements lists the elements of a slice one by one, each to be encoded apart.
func elements[T any](s []T) []any {
	out := make([]any, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
}

func addCmd(a *app) *cobra.Command {
	var tf triageFlags
	cmd := &cobra.Command{
		Use:   "add CASE [FILE...|-]",
		Short: "Triage the input and add what it found to a case's timeline",
		Long: `add reads the same inputs as triage and adds each failure to the case's timeline. The
same failure (same reply, time and recipient) counts once, however often it is added.
Files and folders of receivers' reports (DMARC aggregate, SNDS, TLS-RPT, as "unblock
reports" reads them) are kept as a summary for the case's IPs and domain instead.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := tf.options()
			if err != nil {
				return err
			}
			s, err := a.store()
			if err != nil {
				return err
			}
			// The case is read once, under its lock, by edit; what the reports reader
			// needs of it (its IPs and domain) comes from the store's index.
			path, err := s.Resolve(args[0])
			if err != nil {
				return badInput("%v", err)
			}
			who, err := s.SummaryOf(path)
			if err != nil {
				return err
			}
			// Receivers' reports (DMARC aggregate, SNDS, TLS-RPT) are kept as summaries;
			// the rest is triaged.
			args, kept, err := a.addReports(cmd.Context(), s, who, args)
			if err != nil || kept && len(args) == 1 {
				return err
			}
			// The input streams into the case's recorder, which counts repeated failures as
			// they come: a log of any size makes a case of a few events a day, in
			// constant memory. The case stays locked while it is read.
			var added casefile.Added
			read := 0
			c, err := a.edit(s, args[0], func(c *casefile.Case) error {
				rec := c.Record(now()) // UNBLOCK_NOW fixes when they entered the case, as it fixes when a message was sent
				opts.OnFinding = func(f triage.Finding) error {
					read++
					rec.Add(f)
					return nil
				}
				opts.OnProgression = func(maillog.Progression) error { return nil }
				rd := triage.NewReader(opts)
				if err := rd.ReadInputs(cmd.Context(), args[1:], a.stdin); err != nil {
					return inputError(err)
				}
				if !rd.Report().Classified() {
					fmt.Fprintln(a.stderr, "unblock: nothing in the input could be classified; the case is unchanged")
					return foundProblems
				}
				added = rec.Close()
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: added %d of %d findings (%d already in the timeline)\n",
				sanitize.Line(c.ID), added.New, read, added.Repeated)
			for _, l := range added.Left {
				what := l.Provider
				if l.Control != "" {
					what += "/" + l.Control
				}
				if l.IP != "" {
					what += " for " + l.IP
				}
				noun := "failures"
				if l.Count == 1 {
					noun = "failure"
				}
				fmt.Fprintf(a.stdout, "  left out %d %s of %s: not this case's; start its own with: %s\n",
					l.Count, noun, sanitize.Line(what), sanitize.Line(l.Start))
			}
			return nil
		},
	}
	tf.register(cmd)
	a.waitFlag(cmd)
	return cmd
}

// The human output. Styles go through a painter that decided once whether the output takes
// colour (a terminal, not NO_COLOR): a pipe gets plain text without measuring anything.
var (
	modeStyles = map[triage.Mode]lipgloss.Style{
		triage.HardBlock: lipgloss.NewStyle().Foreground(lipgloss.Color("1")),
		triage.Deferral:  lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
		triage.Filtering: lipgloss.NewStyle().Foreground(lipgloss.Color("5")),
		triage.Complaint: lipgloss.NewStyle().Foreground(lipgloss.Color("5")),
		triage.Delivered: lipgloss.NewStyle().Foreground(lipgloss.Color("2")),
		triage.AutoReply: lipgloss.NewStyle().Foreground(lipgloss.Color("2")),
	}
	mutedStyle = lipgloss.NewStyle().Foreground(lipgloss.Color("8"))
	boldStyle  = lipgloss.NewStyle().Bold(true)
)

type painter struct{ colour bool }

func newPainter(out io.Writer) painter {
	return painter{colour: colorprofile.Detect(out, os.Environ()) >= colorprofile.ANSI}
}

func (p painter) paint(st lipgloss.Style, s string) string {
	if !p.colour || s == "" {
		return s
	}
	return st.Render(s)
}

func (p painter) mode(m triage.Mode, s string) string {
	st, ok := modeStyles[m]
	if !ok {
		st = mutedStyle
	}
	return p.paint(st, s)
}

// fewFailures is how many failures the summary lists without --all.
const fewFailures = 20

// humanOutput leads with the summary: the groups with their routes, the progressions, the
// daily volume and warm-up breaches; then the failures one by one, when they are few or
// --all asks (spooled to a temporary file meanwhile, so that memory does not grow). With
// --follow, failures are printed as they come and the summary when interrupted.
func humanOutput(w *bufio.Writer, p painter, all, follow bool, progressions *progressionSink) (func(triage.Finding) error, func(*triage.Report) error) {
	t := &failureTable{p: p}
	if follow {
		t.direct = w
		t.decide()
	}
	sink := func(f triage.Finding) error {
		if err := t.add(f, all || follow); err != nil {
			return err
		}
		if follow {
			return w.Flush()
		}
		return nil
	}
	finish := func(rep *triage.Report) error {
		defer t.discard()
		if follow && t.n > 0 {
			w.WriteString("\n")
		}
		printSummary(w, p, rep, t.n, progressions)
		if follow || t.n == 0 || (!all && t.n > fewFailures) {
			if !follow && t.n > fewFailures {
				fmt.Fprintf(w, "\n%s\n", p.paint(mutedStyle, fmt.Sprintf("%d failures: --all lists each, --json or --jsonl gives them to tools", t.n)))
			}
			return nil
		}
		w.WriteString("\n")
		return t.writeTo(w)
	}
	return sink, finish
}

// failureTable lays out one line per failure. Widths are decided once, from the first
// rows (or the column's usual width when printing as they come), not per line.
type failureTable struct {
	p       painter
	pending []triage.Finding // kept until the widths are decided
	widths  []int
	withTo  bool
	decided bool
	direct  io.Writer     // print rows here as they come (--follow)
	spill   *os.File      // rows rendered after the widths were decided
	sw      *bufio.Writer //
	n       int
	line    []byte
}

var tableHead = []string{"SOURCE", "TO", "MODE", "CAUSE", "PROVIDER", "CONTROL", "IP", "CODE"}

// usualWidths are the widths when no rows are seen first: the longest mode and cause,
// typical sources, addresses, providers and controls, an IPv4 address.
var usualWidths = []int{24, 28, 10, 17, 12, 18, 15, 4}

const (
	toCol      = 1
	modeCol    = 2
	maxCol     = 40
	decideRows = 1000
)

func (t *failureTable) add(f triage.Finding, keepAll bool) error {
	t.n++
	if !t.decided {
		if keepAll || len(t.pending) < fewFailures+1 {
			t.pending = append(t.pending, f)
		}
		if !keepAll || len(t.pending) < decideRows {
			return nil
		}
		t.decide()
		for _, f := range t.pending {
			if err := t.row(t.sink(), f); err != nil {
				return err
			}
		}
		t.pending = nil
		return nil
	}
	return t.row(t.sink(), f)
}

func (t *failureTable) sink() io.Writer {
	if t.direct != nil {
		return t.direct
	}
	if t.sw == nil {
		f, err := os.CreateTemp("", "unblock-triage-*")
		if err != nil {
			return errWriter{err}
		}
		os.Remove(f.Name()) // gone when closed, whatever happens
		t.spill, t.sw = f, bufio.NewWriterSize(f, 64<<10)
	}
	return t.sw
}

type errWriter struct{ err error }

func (e errWriter) Write([]byte) (int, error) { return 0, e.err }

func (t *failureTable) cells(f triage.Finding) []string {
	code := ""
	if f.ReplyCode != 0 {
		code = strconv.Itoa(f.ReplyCode)
	}
	if f.EnhancedCode != "" {
		code = strings.TrimSpace(code + " " + f.EnhancedCode)
	}
	return []string{shortSource(sanitize.Line(f.Source), maxCol), sanitize.Line(f.Recipient), string(f.Mode), string(f.Cause),
		sanitize.Line(f.Provider), sanitize.Line(cmpOr(f.Control, "-")), sanitize.Line(cmpOr(f.IP, "-")), code}
}

// decide fixes the widths from the rows seen so far, or the usual ones when there are none.
func (t *failureTable) decide() {
	t.decided = true
	t.widths = make([]int, len(tableHead))
	for i, h := range tableHead {
		t.widths[i] = len(h)
	}
	if len(t.pending) == 0 {
		t.withTo = true
		for i := range t.widths {
			t.widths[i] = max(t.widths[i], usualWidths[i])
		}
	}
	for _, f := range t.pending {
		t.withTo = t.withTo || f.Recipient != ""
		for i, c := range t.cells(f) {
			t.widths[i] = min(max(t.widths[i], width(c)), maxCol)
		}
	}
	if t.direct != nil {
		t.direct.Write([]byte(t.p.paint(mutedStyle, t.render(tableHead, "")) + "\n"))
	}
}

// render lays out one line; the mode column painted.
func (t *failureTable) render(cells []string, mode triage.Mode) string {
	b := t.line[:0]
	for i, c := range cells {
		if i == toCol && !t.withTo {
			continue
		}
		if len(b) > 0 {
			b = append(b, "  "...)
		}
		padded := c
		if i < len(cells)-1 {
			if w := width(c); w < t.widths[i] {
				padded = c + strings.Repeat(" ", t.widths[i]-w)
			}
		}
		if i == modeCol && mode != "" {
			padded = t.p.mode(mode, padded)
		}
		b = append(b, padded...)
	}
	t.line = b
	return strings.TrimRight(string(b), " ") // an empty last column leaves no trailing blanks
}

// row writes one failure: its line, who answered, the reply and the notes.
func (t *failureTable) row(w io.Writer, f triage.Finding) error {
	p := t.p
	var b strings.Builder
	b.WriteString(t.render(t.cells(f), f.Mode))
	b.WriteByte('\n')
	// Who answered, unless it is the provider or the quoted text already names the host.
	named := strings.Contains(f.Receiver, ".") && strings.Contains(strings.ToLower(f.Text), strings.ToLower(f.Receiver))
	if f.Receiver != "" && f.Receiver != f.Provider && !named {
		verb := "answered by "
		if f.Mode == triage.Delivered || f.Mode == triage.Filtering {
			verb = "received by "
		}
		b.WriteString("  " + p.paint(mutedStyle, verb) + sanitize.Line(f.Receiver) + "\n")
	}
	if f.Text != "" {
		text := f.Text
		if len(text) > 200 {
			text = truncateRunes(text, 200) + "…"
		}
		b.WriteString("  " + p.paint(mutedStyle, sanitize.Line(text)) + "\n")
	}
	for _, n := range f.Notes {
		b.WriteString("  " + p.paint(mutedStyle, "note: ") + sanitize.Line(n) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTo writes the table: the rows kept, or the spooled ones.
func (t *failureTable) writeTo(w io.Writer) error {
	if !t.decided {
		t.decide()
	}
	io.WriteString(w, t.p.paint(mutedStyle, t.render(tableHead, ""))+"\n")
	for _, f := range t.pending {
		if err := t.row(w, f); err != nil {
			return err
		}
	}
	if t.spill == nil {
		return nil
	}
	if err := t.sw.Flush(); err != nil {
		return fmt.Errorf("spooling the failures: %w", err)
	}
	if _, err := t.spill.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := io.Copy(w, t.spill)
	return err
}

func (t *failureTable) discard() {
	if t.spill != nil {
		t.spill.Close()
		t.spill = nil
	}
}

// progressionSink takes the progressions of messages as they end: for the text, the first
// few worth showing and a count of the others; for JSON, all of them, spooled to a
// temporary file until the findings are written.
type progressionSink struct {
	spool bool
	kept  []maillog.Progression
	more  int
	n     int // spooled
	file  *os.File
	w     *bufio.Writer
	buf   []byte
}

func (s *progressionSink) add(p maillog.Progression) error {
	if !s.spool {
		switch {
		case len(p.Steps) < 2:
		case len(s.kept) < fewFailures:
			s.kept = append(s.kept, p)
		default:
			s.more++
		}
		return nil
	}
	if s.file == nil {
		f, err := os.CreateTemp("", "unblock-progressions-*")
		if err != nil {
			return fmt.Errorf("spooling progressions: %w", err)
		}
		os.Remove(f.Name()) // gone when closed, whatever happens
		s.file, s.w = f, bufio.NewWriterSize(f, 64<<10)
	}
	s.buf = s.buf[:0]
	if s.n > 0 {
		s.buf = append(s.buf, ',')
	}
	s.n++
	s.buf = append(s.buf, "\n    "...)
	s.buf = appendProgression(s.buf, &p)
	_, err := s.w.Write(s.buf)
	return err
}

// writeTo copies the spooled progressions, the body of a JSON array.
func (s *progressionSink) writeTo(w io.Writer) error {
	if s.file == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spooling progressions: %w", err)
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := io.Copy(w, s.file)
	return err
}

func (s *progressionSink) discard() {
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
}

// printSummary writes what the findings add up to.
func printSummary(w *bufio.Writer, p painter, rep *triage.Report, failures int, ended *progressionSink) {
	line := func(s string) { w.WriteString(s); w.WriteByte('\n') }
	if len(rep.Groups) == 0 && failures == 0 {
		line(p.paint(mutedStyle, "no findings"))
	}
	for i, g := range rep.Groups {
		if i > 0 {
			line("")
		}
		title := fmt.Sprintf("%s %s · %s · %s", string(g.Mode), string(g.Cause), g.Provider, cmpOr(g.Control, "-"))
		if g.IP != "" {
			title += " · " + g.IP
		}
		title += fmt.Sprintf(" · %d×", g.Count)
		if len(g.ByMode) > 1 {
			// A group of blocks and deferrals says how many of each.
			var parts []string
			for _, m := range []triage.Mode{triage.HardBlock, triage.Deferral, triage.Filtering, triage.Complaint, triage.UnknownMode} {
				if n := g.ByMode[m]; n > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", n, m))
				}
			}
			title += " (" + strings.Join(parts, ", ") + ")"
		}
		line(p.paint(boldStyle, sanitize.Line(title)))
		if !g.FirstSeen.IsZero() {
			line("  " + p.paint(mutedStyle, "seen ") + g.FirstSeen.Format(time.RFC3339) + " … " + g.LastSeen.Format(time.RFC3339))
		}
		if len(g.RecipientDomains) > 0 {
			line("  " + p.paint(mutedStyle, "to   ") + sanitize.Line(strings.Join(g.RecipientDomains, ", ")))
		}
		if g.Meaning != "" {
			line("  " + p.paint(mutedStyle, "why  ") + sanitize.Line(g.Meaning))
		}
		if g.Advice != "" {
			line("  " + p.paint(mutedStyle, "do   ") + sanitize.Line(g.Advice))
		}
		desk, _ := triage.DeskFor(g.Route.Kind)
		route := cmpOr(desk.Name, g.Route.Kind)
		line("  " + p.paint(mutedStyle, "go   ") + sanitize.Line(route) + " (" + sanitize.Line(g.Route.Kind) + ")")
		if g.Route.URL != "" {
			line("       " + sanitize.Line(g.Route.URL))
		}
		if g.Route.Contact != "" {
			line("       " + sanitize.Line(g.Route.Contact))
		}
		for _, ask := range g.Route.Asks {
			line("       " + p.paint(mutedStyle, "· ") + sanitize.Line(ask))
		}
	}
	// Logs: the messages that took more than one attempt, and the daily volume.
	shown, more := 0, ended.more
	for _, pr := range append(ended.kept, rep.Progressions...) {
		if len(pr.Steps) < 2 {
			continue
		}
		if shown == fewFailures {
			more++
			continue
		}
		if shown == 0 {
			line("")
			line(p.paint(boldStyle, "progressions"))
		}
		shown++
		line("  " + sanitize.Line(pr.Recipient) + " " + p.paint(mutedStyle, sanitize.Line(pr.QueueID)) + ": " + sanitize.Line(pr.String()))
	}
	if more > 0 {
		line(p.paint(mutedStyle, fmt.Sprintf("  … and %d more (see --json)", more)))
	}
	if len(rep.Days) > 0 {
		line("")
		line(p.paint(boldStyle, "daily volume"))
		for _, d := range rep.Days {
			s := "  " + sanitize.Line(d.String())
			if d.Breach {
				s = p.paint(modeStyles[triage.HardBlock], s)
			}
			line(s)
		}
	}
	if len(rep.Breaches) > 0 {
		line("")
		line(p.paint(boldStyle, "warm-up breaches"))
		for _, d := range rep.Breaches {
			line("  " + p.paint(modeStyles[triage.HardBlock], sanitize.Line(fmt.Sprintf("%s %s: %d messages, more than double the %d of the day before", d.Date, d.Host, d.Messages, d.Previous))))
		}
	}
	if rep.Inbound > 0 {
		line("")
		line(p.paint(mutedStyle, fmt.Sprintf("%d of the failures are mail this server received (its refusals of others' mail, deliveries to its own mailboxes): not failures of mail you sent, in no group above; --all lists them", rep.Inbound)))
	}
	for _, n := range rep.Notes {
		line(p.paint(mutedStyle, "assumed: ") + sanitize.Line(n))
	}
}

// width is the cells s takes on a terminal; ASCII, as logs mostly are, without measuring.
func width(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return lipgloss.Width(s)
		}
	}
	return len(s)
}

// shortSource keeps the end of a long source (the file name and line), so the columns
// after it stay aligned.
func shortSource(s string, n int) string {
	w := width(s)
	if w <= n {
		return s
	}
	if w == len(s) {
		return "…" + s[len(s)-(n-1):] // only ASCII has as many columns as bytes
	}
	// The shortest tail that fits: tails are narrower the later they start.
	var starts []int
	for i := range s {
		starts = append(starts, i)
	}
	k := sort.Search(len(starts), func(k int) bool { return lipgloss.Width(s[starts[k]:]) <= n-1 })
	if k == len(starts) {
		return "…"
	}
	return "…" + s[starts[k]:]
}

// truncateRunes cuts s to at most n bytes without splitting a character.
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
