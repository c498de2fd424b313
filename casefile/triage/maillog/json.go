package maillog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/sanitize"
)

// ReadJSON reads Amazon SES notifications (bare, or inside SNS envelopes) and SendGrid
// events, as one JSON array, one object per line, or objects one after another.
func ReadJSON(r io.Reader, opt Options, fn func(Event) error) (Result, error) {
	return ReadFormat(JSON, r, opt, fn)
}

// MaxObject is the largest JSON value accepted; a notification is a few kilobytes.
const MaxObject = 4 << 20

type jsonReader struct {
	opt   Options
	clock *clock
	res   Result
	lt    *lineTracker
	line  int
	kinds map[Format]bool
}

func readJSON(br *bufio.Reader, f Format, opt Options, fn func(Event) error) (Result, error) {
	j := &jsonReader{opt: opt, clock: newClock(opt), kinds: map[Format]bool{}}
	j.lt = &lineTracker{r: br}
	dec := json.NewDecoder(j.lt)
	err := j.stream(dec, fn)
	j.res.Lines = j.lt.lineAt(j.lt.total) - 1
	if j.lt.total > 0 && j.lt.last != '\n' {
		j.res.Lines++
	}
	switch {
	case len(j.kinds) == 1 && j.kinds[SES]:
		j.res.Format = SES
	case len(j.kinds) == 1 && j.kinds[SendGrid]:
		j.res.Format = SendGrid
	default:
		j.res.Format = f
	}
	j.clock.assumed(&j.res)
	return j.res, err
}

func (j *jsonReader) stream(dec *json.Decoder, fn func(Event) error) error {
	inArray := false
	for {
		j.lt.window = 0
		if !inArray {
			// An array at the top level: walk into it and read its elements one by one.
			if b := j.peek(dec); b == '[' {
				if _, err := dec.Token(); err != nil {
					return j.syntax(dec, err)
				}
				inArray = true
				continue
			}
		} else if !dec.More() {
			if _, err := dec.Token(); err != nil { // the closing ]
				return j.syntax(dec, err)
			}
			inArray = false
			continue
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if err == io.EOF && !inArray {
				return nil
			}
			return j.syntax(dec, err)
		}
		j.line = j.lt.lineAt(dec.InputOffset() - int64(len(raw)))
		if err := j.value(raw, fn, 0); err != nil {
			return err
		}
	}
}

// peek returns the next non-space byte the decoder will read, or 0.
func (j *jsonReader) peek(dec *json.Decoder) byte {
	rest, _ := io.ReadAll(io.LimitReader(dec.Buffered(), 64))
	for _, c := range rest {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c
		}
	}
	if len(rest) == 64 {
		return 0
	}
	// The decoder's buffer is exhausted: look at what the tracker will give it next.
	return j.lt.peekNonSpace()
}

func (j *jsonReader) syntax(dec *json.Decoder, err error) error {
	if errors.Is(err, errTooBig) {
		return fmt.Errorf("%s:%d: JSON value larger than %d MiB: %w", name(j.opt), j.lt.lineAt(j.lt.total), MaxObject>>20, ErrNotLog)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%s:%d: JSON ends in the middle of a value", name(j.opt), j.lt.lineAt(j.lt.total))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s:%d: bad JSON: %s", name(j.opt), j.lt.lineAt(min(se.Offset, j.lt.total)), sanitize.Line(se.Error()))
	}
	return fmt.Errorf("%s:%d: %s", name(j.opt), j.lt.lineAt(min(dec.InputOffset(), j.lt.total)), sanitize.Line(err.Error()))
}

// value dispatches one top-level JSON value: an array of events, an SNS envelope, an SES
// notification or a SendGrid event.
func (j *jsonReader) value(raw json.RawMessage, fn func(Event) error, depth int) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || depth > 3 {
		j.res.Skipped++
		return nil
	}
	if raw[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			j.res.Skipped++
			return nil
		}
		for _, it := range items {
			if err := j.value(it, fn, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		j.res.Skipped++
		return nil
	}
	switch {
	case top["Message"] != nil && str(top["Type"]) != "":
		// SNS envelope: the notification is a JSON string inside.
		msg := str(top["Message"])
		return j.value(json.RawMessage(msg), fn, depth+1)
	case top["notificationType"] != nil || top["eventType"] != nil:
		return j.ses(raw, fn)
	case top["event"] != nil || top["email"] != nil:
		return j.sendgrid(raw, fn)
	}
	j.res.Skipped++
	return nil
}

// str reads a JSON string or number as text.
func str(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	if raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9' {
		return string(raw)
	}
	return ""
}

type sesRecipient struct {
	EmailAddress   string `json:"emailAddress"`
	Action         string `json:"action"`
	Status         string `json:"status"`
	DiagnosticCode string `json:"diagnosticCode"`
}

type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Mail             struct {
		Timestamp     string   `json:"timestamp"`
		Source        string   `json:"source"`
		MessageID     string   `json:"messageId"`
		Destination   []string `json:"destination"`
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
	} `json:"mail"`
	Bounce struct {
		BounceType        string         `json:"bounceType"`
		BounceSubType     string         `json:"bounceSubType"`
		BouncedRecipients []sesRecipient `json:"bouncedRecipients"`
		Timestamp         string         `json:"timestamp"`
		RemoteMtaIP       string         `json:"remoteMtaIp"`
		ReportingMTA      string         `json:"reportingMTA"`
	} `json:"bounce"`
	Complaint struct {
		ComplainedRecipients  []sesRecipient `json:"complainedRecipients"`
		Timestamp             string         `json:"timestamp"`
		ComplaintFeedbackType string         `json:"complaintFeedbackType"`
	} `json:"complaint"`
	Delivery struct {
		Timestamp    string   `json:"timestamp"`
		Recipients   []string `json:"recipients"`
		SMTPResponse string   `json:"smtpResponse"`
		ReportingMTA string   `json:"reportingMTA"`
		RemoteMtaIP  string   `json:"remoteMtaIp"`
	} `json:"delivery"`
	DeliveryDelay struct {
		Timestamp         string         `json:"timestamp"`
		DelayType         string         `json:"delayType"`
		DelayedRecipients []sesRecipient `json:"delayedRecipients"`
		ReportingMTA      string         `json:"reportingMTA"`
		RemoteMtaIP       string         `json:"remoteMtaIp"`
	} `json:"deliveryDelay"`
	Reject struct {
		Reason string `json:"reason"`
	} `json:"reject"`
}

func (j *jsonReader) base(f Format) Event {
	return Event{File: name(j.opt), Line: j.line, Format: f, SendingIP: j.opt.SendingIP, Host: j.opt.Host}
}

func (j *jsonReader) ses(raw json.RawMessage, fn func(Event) error) error {
	var n sesNotification
	if err := json.Unmarshal(raw, &n); err != nil {
		j.res.Skipped++
		return nil
	}
	j.kinds[SES] = true
	e := j.base(SES)
	e.Sender = sanitize.Line(n.Mail.Source)
	e.QueueID = sanitize.Line(n.Mail.MessageID)
	e.MessageID = sanitize.Line(n.Mail.CommonHeaders.MessageID)
	emit := func(e Event, stamp string) error {
		if e.At = j.rfc3339(stamp); e.At.IsZero() {
			e.At = j.rfc3339(n.Mail.Timestamp)
		}
		j.res.Events++
		return fn(e)
	}
	kind := n.NotificationType
	if kind == "" {
		kind = n.EventType
	}
	switch kind {
	case "Bounce":
		b := n.Bounce
		e.Host = dsnHost(b.ReportingMTA, e.Host)
		e.RelayIP = sanitize.Line(b.RemoteMtaIP)
		// Even a Transient bounce is SES giving up on this message (its retries are over);
		// the reply's code still says whether the cause was temporary.
		e.Status = Bounced
		for _, r := range b.BouncedRecipients {
			e := e
			e.Recipient = sanitize.Line(r.EmailAddress)
			e.DSN = sanitize.Line(r.Status)
			e.Text = sanitize.Line(r.DiagnosticCode)
			e.Reply = diagnosticReply(e.Text)
			if e.Text == "" {
				e.Text = sanitize.Line("bounce " + b.BounceType + "/" + b.BounceSubType)
			}
			if err := emit(e, b.Timestamp); err != nil {
				return err
			}
		}
	case "Complaint":
		c := n.Complaint
		e.Status = Complaint
		e.Text = sanitize.Line(c.ComplaintFeedbackType)
		for _, r := range c.ComplainedRecipients {
			e := e
			e.Recipient = sanitize.Line(r.EmailAddress)
			if err := emit(e, c.Timestamp); err != nil {
				return err
			}
		}
	case "Delivery":
		d := n.Delivery
		e.Status = Sent
		e.Host = dsnHost(d.ReportingMTA, e.Host)
		e.RelayIP = sanitize.Line(d.RemoteMtaIP)
		e.Reply = sanitize.Line(d.SMTPResponse)
		e.Text = e.Reply
		e.DSN = enhancedCode(e.Reply)
		for _, r := range d.Recipients {
			e := e
			e.Recipient = sanitize.Line(r)
			if err := emit(e, d.Timestamp); err != nil {
				return err
			}
		}
	case "DeliveryDelay":
		d := n.DeliveryDelay
		e.Status = Deferred
		e.Host = dsnHost(d.ReportingMTA, e.Host)
		e.RelayIP = sanitize.Line(d.RemoteMtaIP)
		for _, r := range d.DelayedRecipients {
			e := e
			e.Recipient = sanitize.Line(r.EmailAddress)
			e.DSN = sanitize.Line(r.Status)
			e.Text = sanitize.Line(r.DiagnosticCode)
			e.Reply = diagnosticReply(e.Text)
			if e.Text == "" {
				e.Text = sanitize.Line("delay " + d.DelayType)
			}
			if err := emit(e, d.Timestamp); err != nil {
				return err
			}
		}
	case "Reject":
		e.Status = Dropped
		e.Text = sanitize.Line(n.Reject.Reason)
		for _, r := range n.Mail.Destination {
			e := e
			e.Recipient = sanitize.Line(r)
			if err := emit(e, ""); err != nil {
				return err
			}
		}
	default:
		// Send, Open, Click … are not delivery outcomes.
	}
	return nil
}

// dsnHost strips the "dsn; " type from a Reporting-MTA value.
func dsnHost(v, fallback string) string {
	if _, h, ok := strings.Cut(v, ";"); ok {
		v = h
	}
	if v = strings.TrimSpace(v); v == "" {
		return fallback
	}
	return sanitize.Line(v)
}

// diagnosticReply strips the "smtp; " type from a Diagnostic-Code value.
func diagnosticReply(v string) string {
	if t, r, ok := strings.Cut(v, ";"); ok && !strings.ContainsAny(t, " ") {
		v = strings.TrimSpace(r)
	}
	if startsWithCode(v) {
		return v
	}
	return ""
}

func (j *jsonReader) rfc3339(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC()
	}
	if t, ok := j.clock.iso([]byte(s)); ok {
		return t
	}
	return time.Time{}
}

type sendgridEvent struct {
	Event       string          `json:"event"`
	Email       string          `json:"email"`
	Timestamp   json.RawMessage `json:"timestamp"`
	Created     string          `json:"created"` // the older bounce list
	Status      json.RawMessage `json:"status"`
	Reason      string          `json:"reason"`
	Response    string          `json:"response"`
	Type        string          `json:"type"`
	IP          string          `json:"ip"`
	SGMessageID string          `json:"sg_message_id"`
	SMTPID      string          `json:"smtp-id"`
}

func (j *jsonReader) sendgrid(raw json.RawMessage, fn func(Event) error) error {
	var s sendgridEvent
	if err := json.Unmarshal(raw, &s); err != nil {
		j.res.Skipped++
		return nil
	}
	e := j.base(SendGrid)
	switch s.Event {
	case "bounce", "":
		// No event name: the older bounce list, where every entry is a bounce with a reason.
		if s.Event == "" && s.Reason == "" && len(s.Status) == 0 {
			j.res.Skipped++
			return nil
		}
		e.Status = Bounced
		e.Text = sanitize.Line(strings.TrimSpace(s.Reason))
		e.Reply = diagnosticReply(e.Text)
	case "deferred":
		e.Status = Deferred
		e.Text = sanitize.Line(strings.TrimSpace(s.Response))
		if e.Text == "" {
			e.Text = sanitize.Line(strings.TrimSpace(s.Reason))
		}
		e.Reply = diagnosticReply(e.Text)
	case "dropped":
		e.Status = Dropped
		e.Text = sanitize.Line(strings.TrimSpace(s.Reason))
	case "delivered":
		e.Status = Sent
		e.Reply = sanitize.Line(strings.TrimSpace(s.Response))
		e.Text = e.Reply
	case "spamreport":
		e.Status = Complaint
		e.Text = "spamreport"
	default:
		// processed, open, click, unsubscribe …: not delivery outcomes.
		return nil
	}
	j.kinds[SendGrid] = true
	e.Recipient = sanitize.Line(s.Email)
	if ip := sanitize.Line(s.IP); ip != "" {
		e.SendingIP = ip // SendGrid names the IP it sent from
	}
	e.QueueID = sanitize.Line(s.SGMessageID)
	e.MessageID = sanitize.Line(s.SMTPID)
	st := sanitize.Line(str(s.Status))
	if strings.Count(st, ".") == 2 {
		e.DSN = st
	} else if e.DSN = enhancedCode(e.Reply); e.DSN == "" && e.Reply == "" && len(st) == 3 && e.Text != "" {
		// The old list gives the reply code apart: "550" with "Unknown user …".
		e.Reply = st + " " + e.Text
	}
	if ts := str(s.Timestamp); ts != "" {
		if n, err := strconv.ParseFloat(ts, 64); err == nil && n > 0 && n < 1e11 {
			e.At = time.Unix(int64(n), 0).UTC()
		}
	} else if s.Created != "" {
		e.At, _ = j.clock.iso([]byte(s.Created))
	}
	j.res.Events++
	return fn(e)
}

var errTooBig = errors.New("JSON value too big")

// lineTracker passes bytes to the JSON decoder and remembers enough of them to say on which
// line a value starts, and refuses a single value larger than MaxObject.
type lineTracker struct {
	r       *bufio.Reader
	pending []byte // bytes read but not yet counted
	base    int64  // offset of pending[0]
	line    int    // line number at base (1-based)
	total   int64
	last    byte
	window  int64 // bytes read since the last value began
}

func (t *lineTracker) Read(p []byte) (int, error) {
	if t.window > MaxObject {
		return 0, errTooBig
	}
	if room := MaxObject + 1 - t.window; int64(len(p)) > room {
		p = p[:room] // a value can never complete past the limit
	}
	n, err := t.r.Read(p)
	if n > 0 {
		t.pending = append(t.pending, p[:n]...)
		t.total += int64(n)
		t.window += int64(n)
		t.last = p[n-1]
	}
	return n, err
}

// peekNonSpace looks ahead in the underlying reader without consuming for the decoder.
func (t *lineTracker) peekNonSpace() byte {
	for k := 1; k <= 4096; k *= 2 {
		b, err := t.r.Peek(k)
		for _, c := range b {
			if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				return c
			}
		}
		if err != nil {
			return 0
		}
	}
	return 0
}

// lineAt returns the line of offset off; offsets must not go backwards.
func (t *lineTracker) lineAt(off int64) int {
	if t.line == 0 {
		t.line = 1
	}
	if off < t.base {
		return t.line
	}
	k := int(min(off-t.base, int64(len(t.pending))))
	t.line += bytes.Count(t.pending[:k], []byte{'\n'})
	t.pending = t.pending[k:]
	t.base += int64(k)
	if len(t.pending) == 0 {
		t.pending = t.pending[:0:0]
	}
	return t.line
}
