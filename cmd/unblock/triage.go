package main

// The triage verbs: triage (read evidence, say what failed and where to go) and add (the
// same, recorded in a case's timeline). Thin layers over casefile/triage.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/lipgloss/v2"
	"github.com/spf13/cobra"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/triage"
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
}

func (tf *triageFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	var names []string
	for _, x := range triage.Formats {
		names = append(names, string(x))
	}
	f.StringVar(&tf.format, "format", "", "read the input as this format instead of detecting it ("+strings.Join(names, ", ")+")")
	f.StringVar(&tf.ip, "ip", "", "the sending IP, when the input does not say (logs rarely do)")
	f.IntVar(&tf.year, "year", 0, "year of syslog timestamps, which carry none (default: the current year)")
	f.StringVar(&tf.zone, "zone", "", "time zone of syslog timestamps, e.g. Europe/Paris or UTC (default: the local zone)")
}

func (tf *triageFlags) options() (triage.Options, error) {
	var o triage.Options
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
func (a *app) readInputs(ctx context.Context, args []string, opts triage.Options) (*triage.Report, error) {
	rd := triage.NewReader(opts)
	if len(args) == 0 {
		args = []string{"-"}
	}
	for _, arg := range args {
		var err error
		if arg == "-" {
			err = rd.Read(ctx, "stdin", a.stdin)
		} else {
			err = rd.ReadPath(ctx, arg)
		}
		if err != nil {
			var ie *triage.InputError
			if errors.As(err, &ie) {
				return nil, badInput("%v", err)
			}
			return nil, badInput("%s: %v", arg, err)
		}
	}
	return rd.Report(), nil
}

func triageCmd(a *app) *cobra.Command {
	var tf triageFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "triage [FILE...|-]",
		Short: "Read a bounce, reply, headers or mail log and say what failed and where to go",
		Long: `triage reads SMTP replies, DSN and plain-text bounces (.eml), mbox files and Maildir
folders of bounces, headers of delivered messages, Postfix and Exim logs, and Amazon SES
and SendGrid JSON events. For each failure it says the mode, the cause, whose control
caused it, the IP it is about, and the route: the desk, its address or form, and what it
asks for. With no FILE, or "-", it reads standard input.

Exit status: 0 when something was classified, 1 when nothing could be, 2 for bad input.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := tf.options()
			if err != nil {
				return err
			}
			rep, err := a.readInputs(cmd.Context(), args, opts)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false) // addresses and Message-IDs stay readable
				if err := enc.Encode(rep); err != nil {
					return fmt.Errorf("writing JSON: %w", err)
				}
			} else {
				printTriage(a.stdout, rep)
			}
			if !rep.Classified() {
				return foundProblems
			}
			return nil
		},
	}
	tf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"findings":[…],"groups":[…]} as JSON`)
	return cmd
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
			rep, err := a.readInputs(cmd.Context(), args[1:], opts)
			if err != nil {
				return err
			}
			if !rep.Classified() {
				fmt.Fprintln(a.stderr, "unblock: nothing in the input could be classified; the case is unchanged")
				return foundProblems
			}
			var added casefile.Added
			c, err := a.edit(s, args[0], func(c *casefile.Case) error {
				added = c.Add(rep.Findings, now()) // UNBLOCK_NOW fixes when they entered the case, as it fixes when a message was sent
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: added %d of %d findings (%d already in the timeline)\n",
				sanitize.Line(c.ID), added.New, len(rep.Findings), added.Repeated)
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

// The human output: one line per finding, then each group with its route spelled out.
// Colours go through lipgloss, which drops them for NO_COLOR and non-terminals.
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

func pad(s string, n int) string {
	if w := lipgloss.Width(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}

func printTriage(w io.Writer, rep *triage.Report) {
	if len(rep.Findings) == 0 {
		lipgloss.Fprintln(w, mutedStyle.Render("no findings"))
	}
	// One thing per column; the recipient column only when some finding names one.
	// Widths from the content, capped so one long value does not push the rest off.
	head := []string{"SOURCE", "TO", "MODE", "CAUSE", "PROVIDER", "CONTROL", "IP", "CODE"}
	const modeCol = 2
	withTo := false
	for _, f := range rep.Findings {
		withTo = withTo || f.Recipient != ""
	}
	widths := make([]int, len(head))
	for i, h := range head {
		widths[i] = len(h)
	}
	rows := make([][]string, 0, len(rep.Findings))
	for _, f := range rep.Findings {
		code := ""
		if f.ReplyCode != 0 {
			code = fmt.Sprint(f.ReplyCode)
		}
		if f.EnhancedCode != "" {
			code = strings.TrimSpace(code + " " + f.EnhancedCode)
		}
		r := []string{shortSource(sanitize.Line(f.Source), 40), sanitize.Line(f.Recipient), string(f.Mode), string(f.Cause),
			sanitize.Line(f.Provider), sanitize.Line(cmpOr(f.Control, "-")), sanitize.Line(cmpOr(f.IP, "-")), code}
		for i, c := range r {
			widths[i] = min(max(widths[i], lipgloss.Width(c)), 40)
		}
		rows = append(rows, r)
	}
	line := func(cells []string, style func(i int, s string) string) string {
		var b strings.Builder
		for i, c := range cells {
			if i == 1 && !withTo {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("  ")
			}
			if i == len(cells)-1 {
				b.WriteString(style(i, c)) // the last column is not padded
				continue
			}
			b.WriteString(style(i, pad(c, widths[i])))
		}
		return strings.TrimRight(b.String(), " ") // an empty last column leaves no trailing blanks
	}
	if len(rows) > 0 {
		lipgloss.Fprintln(w, mutedStyle.Render(line(head, func(_ int, s string) string { return s })))
	}
	for i, r := range rows {
		f := rep.Findings[i]
		st, ok := modeStyles[f.Mode]
		if !ok {
			st = mutedStyle
		}
		lipgloss.Fprintln(w, line(r, func(col int, s string) string {
			if col == modeCol {
				return st.Render(s)
			}
			return s
		}))
		// Who answered, unless it is the provider or the quoted text already names the host.
		named := strings.Contains(f.Receiver, ".") && strings.Contains(strings.ToLower(f.Text), strings.ToLower(f.Receiver))
		if f.Receiver != "" && f.Receiver != f.Provider && !named {
			verb := "answered by "
			if f.Mode == triage.Delivered || f.Mode == triage.Filtering {
				verb = "received by "
			}
			lipgloss.Fprintln(w, "  "+mutedStyle.Render(verb)+sanitize.Line(f.Receiver))
		}
		if f.Text != "" {
			text := f.Text
			if len(text) > 200 {
				text = truncateRunes(text, 200) + "…"
			}
			lipgloss.Fprintln(w, "  "+mutedStyle.Render(sanitize.Line(text)))
		}
		for _, n := range f.Notes {
			lipgloss.Fprintln(w, "  "+mutedStyle.Render("note: ")+sanitize.Line(n))
		}
	}
	for _, g := range rep.Groups {
		lipgloss.Fprintln(w, "")
		title := fmt.Sprintf("%s %s · %s · %s", string(g.Mode), string(g.Cause), g.Provider, cmpOr(g.Control, "-"))
		if g.IP != "" {
			title += " · " + g.IP
		}
		title += fmt.Sprintf(" · %d×", g.Count)
		lipgloss.Fprintln(w, boldStyle.Render(sanitize.Line(title)))
		if !g.FirstSeen.IsZero() {
			lipgloss.Fprintln(w, "  "+mutedStyle.Render("seen ")+g.FirstSeen.Format(time.RFC3339)+" … "+g.LastSeen.Format(time.RFC3339))
		}
		if len(g.RecipientDomains) > 0 {
			lipgloss.Fprintln(w, "  "+mutedStyle.Render("to   ")+sanitize.Line(strings.Join(g.RecipientDomains, ", ")))
		}
		for _, f := range rep.Findings {
			if f.Provider == g.Provider && f.Control == g.Control && f.IP == g.IP {
				if f.Meaning != "" {
					lipgloss.Fprintln(w, "  "+mutedStyle.Render("why  ")+sanitize.Line(f.Meaning))
				}
				if f.Advice != "" {
					lipgloss.Fprintln(w, "  "+mutedStyle.Render("do   ")+sanitize.Line(f.Advice))
				}
				break
			}
		}
		desk, _ := triage.DeskFor(g.Route.Kind)
		route := cmpOr(desk.Name, g.Route.Kind)
		lipgloss.Fprintln(w, "  "+mutedStyle.Render("go   ")+sanitize.Line(route)+" ("+g.Route.Kind+")")
		if g.Route.URL != "" {
			lipgloss.Fprintln(w, "       "+sanitize.Line(g.Route.URL))
		}
		if g.Route.Contact != "" {
			lipgloss.Fprintln(w, "       "+sanitize.Line(g.Route.Contact))
		}
		for _, ask := range g.Route.Asks {
			lipgloss.Fprintln(w, "       "+mutedStyle.Render("· ")+sanitize.Line(ask))
		}
	}
	// Logs: the messages that took more than one attempt, and the daily volume.
	shown := 0
	for _, p := range rep.Progressions {
		if len(p.Steps) < 2 {
			continue
		}
		if shown == 0 {
			lipgloss.Fprintln(w, "")
			lipgloss.Fprintln(w, boldStyle.Render("progressions"))
		}
		if shown++; shown > 20 {
			lipgloss.Fprintln(w, mutedStyle.Render("  … and more (see --json)"))
			break
		}
		lipgloss.Fprintln(w, "  "+sanitize.Line(p.Recipient)+" "+mutedStyle.Render(sanitize.Line(p.QueueID))+": "+sanitize.Line(p.String()))
	}
	if len(rep.Days) > 0 {
		lipgloss.Fprintln(w, "")
		lipgloss.Fprintln(w, boldStyle.Render("daily volume"))
		for _, d := range rep.Days {
			line := "  " + sanitize.Line(d.String())
			if d.Breach {
				line = modeStyles[triage.HardBlock].Render(line)
			}
			lipgloss.Fprintln(w, line)
		}
	}
	for _, n := range rep.Notes {
		lipgloss.Fprintln(w, mutedStyle.Render("assumed: ")+sanitize.Line(n))
	}
}

// shortSource keeps the end of a long source (the file name and line), so the columns
// after it stay aligned.
func shortSource(s string, n int) string {
	if lipgloss.Width(s) <= n {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && lipgloss.Width(string(r)) > n-1 {
		r = r[1:]
	}
	return "…" + string(r)
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
