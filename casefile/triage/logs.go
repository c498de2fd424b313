package triage

import (
	"io"
	"strings"

	"github.com/unblock-mail/unblock/casefile/triage/maillog"
	"github.com/unblock-mail/unblock/sanitize"
)

// LogReport is what mail logs say: a finding for every failed delivery, the progression of
// every message that did not go through at the first attempt, and the daily volume of each
// sending host with the days that broke the warm-up pace.
type LogReport struct {
	Inputs       []LogInput            `json:"inputs"`
	Events       int                   `json:"events"`   // delivery attempts and outcomes read
	Failures     int                   `json:"failures"` // of them, the ones classified into findings
	Findings     []Finding             `json:"findings,omitempty"`
	Progressions []maillog.Progression `json:"progressions,omitempty"`
	Days         []maillog.Day         `json:"daily_volume,omitempty"`
	Breaches     []maillog.Day         `json:"warmup_breaches,omitempty"` // days that more than doubled the day before
	Assumed      []string              `json:"assumed,omitempty"`         // year and zone taken from options or defaults
}

// LogInput is one log read: its name, format and size, and what was assumed about it.
type LogInput struct {
	Name      string   `json:"name"`
	Format    string   `json:"format"`
	Bytes     int64    `json:"bytes"`
	Lines     int      `json:"lines"`
	Events    int      `json:"events"`
	Skipped   int      `json:"skipped,omitempty"`
	Rollovers int      `json:"year_rollovers,omitempty"`
	Assumed   []string `json:"assumed,omitempty"`
}

// LogReader reads one or more mail logs into one report. Findings go to OnFinding when it
// is set (to stream them from a large log), else into the report.
type LogReader struct {
	OnFinding func(Finding) error
	report    LogReport
	tally     *maillog.Tally
	replies   map[string]Finding // classification by reply text: logs repeat replies
}

// maxCachedReplies bounds the reply cache; logs repeat a few replies very often.
const maxCachedReplies = 4096

// NewLogReader returns a reader with an empty report.
func NewLogReader() *LogReader {
	return &LogReader{tally: maillog.NewTally(), replies: map[string]Finding{}}
}

// Read reads one log, detecting its format (or as format, when not maillog.Unknown).
// Delivered mail is counted, not classified: only failures are.
func (lr *LogReader) Read(r io.Reader, format maillog.Format, opt maillog.Options) (maillog.Result, error) {
	fn := func(e maillog.Event) error {
		lr.report.Events++
		lr.tally.Add(e)
		if !e.Status.Failed() || e.Status == maillog.Expired {
			// An expiry carries no reply of its own: the deferrals before it were classified
			// and the progression shows the end.
			return nil
		}
		lr.report.Failures++
		f := lr.finding(e)
		if lr.OnFinding != nil {
			return lr.OnFinding(f)
		}
		lr.report.Findings = append(lr.report.Findings, f)
		return nil
	}
	var (
		res maillog.Result
		err error
	)
	if format == maillog.Unknown {
		res, err = maillog.Read(r, opt, fn)
	} else {
		res, err = maillog.ReadFormat(format, r, opt, fn)
	}
	in := LogInput{
		Name: sanitize.Line(opt.Name), Format: string(res.Format), Bytes: res.Bytes, Lines: res.Lines, Events: res.Events,
		Skipped: res.Skipped, Rollovers: res.Rollovers, Assumed: res.Assumed,
	}
	if in.Name == "" {
		in.Name = "stdin"
	}
	lr.report.Inputs = append(lr.report.Inputs, in)
	for _, a := range res.Assumed {
		lr.report.Assumed = append(lr.report.Assumed, in.Name+": "+a)
	}
	return res, err
}

// Report returns what the logs read so far say.
func (lr *LogReader) Report() LogReport {
	rep := lr.report
	rep.Findings = append([]Finding(nil), rep.Findings...)
	rep.Progressions = lr.tally.Progressions()
	rep.Days = lr.tally.Days()
	rep.Breaches = nil
	for _, d := range rep.Days {
		if d.Breach {
			rep.Breaches = append(rep.Breaches, d)
		}
	}
	return rep
}

// ReadLog reads one mail log, detecting its format, into a report.
func ReadLog(r io.Reader, opt maillog.Options) (LogReport, error) {
	lr := NewLogReader()
	_, err := lr.Read(r, maillog.Unknown, opt)
	return lr.Report(), err
}

// finding classifies one failed delivery's reply and fills in what the log knows.
func (lr *LogReader) finding(e maillog.Event) Finding {
	text := replyInContext(e)
	f, ok := lr.replies[text]
	if !ok {
		f = ClassifyReply(text)
		if len(lr.replies) >= maxCachedReplies {
			clear(lr.replies)
		}
		lr.replies[text] = f
	}
	// The cached value's slices are shared: capped, so that appending to them copies.
	f.Notes = f.Notes[:len(f.Notes):len(f.Notes)]
	f.Route.Asks = f.Route.Asks[:len(f.Route.Asks):len(f.Route.Asks)]

	f.Source = e.Source()
	f.At = e.At
	f.SendingIP = e.SendingIP
	f.Recipient = e.Recipient
	if _, domain, ok := strings.Cut(e.Recipient, "@"); ok {
		f.RecipientDomain = strings.ToLower(domain)
	}
	f.Sender = e.Sender
	f.MessageID = e.MessageID
	if e.Relay != "" && e.Relay != "none" && !strings.Contains(e.Relay, "/") && !e.Inbound {
		f.Receiver = e.Relay
	}
	if f.Stage == "" {
		f.Stage = stageOfEvent(e.Stage)
	}
	if f.EnhancedCode == "" {
		f.EnhancedCode = e.DSN
	}
	// The log's status says what the reply may not: a deferral is retried, a bounce is not.
	switch {
	case e.Status == maillog.Complaint:
		// As an ARF report reads: a recipient's complaint, nothing to delist.
		f.Mode = Complaint
		if f.Cause == UnknownCause {
			f.Cause, f.Control = Other, "feedback-loop"
			f.Route = RouteFor("none", "")
		}
	case f.Mode == UnknownMode && e.Status == maillog.Deferred:
		f.Mode = Deferral
	case f.Mode == UnknownMode && e.Status == maillog.Bounced:
		f.Mode = HardBlock
	}
	if e.Text != "" {
		f.Text = e.Text // as the log wrote it
	}
	if !e.Inbound {
		noteOtherIP(&f, e.SendingIP)
	}
	switch e.Status {
	case maillog.Rejected:
		f.Notes = append(f.Notes, "rejected by this log's own server ("+e.Host+") when "+orUnknown(e.RelayIP)+" tried to deliver to it")
		f.SendingIP = e.RelayIP
		f.Receiver = e.Host
	case maillog.Dropped:
		f.Notes = append(f.Notes, "dropped by the ESP before sending (its suppression list or a policy), not refused by the receiver")
	}
	// Mail sent from an ESP's pool: reputation is the ESP's to take up.
	if esp, ok := lr.esp(e); ok && (f.Cause == IPReputation || f.Cause == Blocklist || f.Cause == DomainReputation) {
		f.Route = ESPRoute(esp)
		f.Notes = append(f.Notes, "sent from "+esp.Product+"'s pool: its support takes the case to the receiver")
	}
	return f
}

// replyInContext is the text to classify: the reply with the host that gave it, in the
// quoting the classifier reads ("host X[IP] said: …"), since who answered is evidence too
// (a pphosted.com host saying "user unknown" is Proofpoint's). Postfix writes that form
// itself; for the other logs it is put together from the event.
func replyInContext(e maillog.Event) string {
	switch {
	case e.Reply == "":
		return e.Text
	case e.Format == maillog.Postfix && strings.Contains(e.Text, " said: "):
		return e.Text
	case e.Relay != "" && e.Relay != "none" && !e.Inbound:
		return "host " + e.Relay + "[" + e.RelayIP + "] said: " + e.Reply
	}
	return e.Reply
}

// esp names the email service provider an event was sent through, when the log is the
// ESP's own (SES, SendGrid) or names an ESP host.
func (lr *LogReader) esp(e maillog.Event) (ESP, bool) {
	switch e.Format {
	case maillog.SendGrid:
		return ESPForHost("sendgrid.net")
	case maillog.SES:
		return ESPForHost("amazonses.com")
	}
	return ESPForHost(e.Host)
}

// stageOfEvent maps the stage words logs quote ("RCPT TO", "end of DATA") to the finding's.
func stageOfEvent(s string) string {
	l := strings.ToLower(s)
	switch {
	case l == "":
		return ""
	case strings.Contains(l, "rcpt"): // "RCPT TO", Exim's "pipelined RCPT TO"
		return "rcpt"
	case strings.HasPrefix(l, "mail"), strings.Contains(l, "mail from"):
		return "mail"
	case strings.Contains(l, "data"), strings.HasPrefix(l, "end-of-message"):
		return "data"
	case strings.Contains(l, "helo"), strings.Contains(l, "ehlo"):
		return "helo"
	case strings.HasPrefix(l, "connect"), strings.Contains(l, "initial connection"), strings.Contains(l, "greeting"):
		return "connect"
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "a client"
	}
	return s
}
