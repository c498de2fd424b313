package maillog

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Step is one stage of a message's progression: one status, seen Count times in a row.
type Step struct {
	Status Status    `json:"status"`
	Count  int       `json:"count"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
	DSN    string    `json:"dsn,omitempty"` // the last one of the stage
}

// Progression is what became of one recipient of one message, in order: for example
// deferred three times, then bounced.
type Progression struct {
	QueueID   string `json:"queue_id"`
	Recipient string `json:"recipient,omitempty"`
	Sender    string `json:"sender,omitempty"`
	Host      string `json:"sending_host,omitempty"`
	Source    string `json:"source"` // where the first attempt stands
	Steps     []Step `json:"steps"`
	seq       int    // order of first appearance
	queue     queueKey
}

// Final is the last status seen.
func (p Progression) Final() Status {
	if len(p.Steps) == 0 {
		return ""
	}
	return p.Steps[len(p.Steps)-1].Status
}

// Attempts counts every step.
func (p Progression) Attempts() int {
	n := 0
	for _, s := range p.Steps {
		n += s.Count
	}
	return n
}

// String says the progression in words: "deferred ×3, then bounced".
func (p Progression) String() string {
	var b strings.Builder
	for i, s := range p.Steps {
		if i > 0 {
			b.WriteString(", then ")
		}
		b.WriteString(string(s.Status))
		if s.Count > 1 {
			fmt.Fprintf(&b, " ×%d", s.Count)
		}
	}
	return b.String()
}

// Day is one sending host's mail on one UTC day.
type Day struct {
	Host     string `json:"host"`
	Date     string `json:"date"`     // YYYY-MM-DD, UTC
	Messages int    `json:"messages"` // messages (per recipient) first attempted that day: the volume
	Attempts int    `json:"attempts"` // every attempt the receivers saw, retries included
	Sent     int    `json:"sent"`
	Deferred int    `json:"deferred"`
	Bounced  int    `json:"bounced"`
	// Breach marks a day with more than twice the messages of the day before: faster than
	// the doubling per day that warm-up guidance (Proofpoint's among it) allows. Retries
	// are not volume: a deferral storm is no breach.
	Breach   bool `json:"warmup_breach,omitempty"`
	Previous int  `json:"previous_day,omitempty"` // messages the day before, when there were any
}

// String says the day in words, for people.
func (d Day) String() string {
	s := fmt.Sprintf("%s %s: %s, %s (%d sent, %d deferred, %d bounced)", d.Date, d.Host,
		count(d.Messages, "message"), count(d.Attempts, "attempt"), d.Sent, d.Deferred, d.Bounced)
	if d.Breach {
		s += fmt.Sprintf(", more than double the %d of the day before: warm-up breach", d.Previous)
	}
	return s
}

// count says n things, in the singular for one.
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// maxProgressions bounds the progressions kept; past it, new messages are only counted.
const maxProgressions = 1 << 16

// Tally aggregates events: progressions of messages that did not simply go through, and
// daily volume per sending host. It keeps nothing for messages sent at the first attempt.
type Tally struct {
	progress map[progressKey]*Progression
	byQueue  map[queueKey][]*Progression
	days     map[dayKey]*Day
	byDay    map[dayNum]*Day // the same days by number, to count without formatting dates
	recent   [4]recentDay    // the last days counted: a log's lines go to a few hosts' same day
	hosts    map[string]string
	started  int // progressions started, for their order of first appearance
	// Dropped counts progressions not kept because maxProgressions was reached.
	Dropped int
	// OnDone, when set, receives each progression when it ends (sent, bounced or expired)
	// and the tally forgets it: memory holds only the messages still being retried.
	OnDone func(Progression)
}

// queueKey is one message in one queue: a queue ID is unique only in the queue of one
// host's instance, and merged logs of several hosts may reuse one.
type queueKey struct{ host, instance, id string }

// progressKey is one recipient of one message.
type progressKey struct {
	queueKey
	recipient string
}

type dayKey struct {
	host string
	date string
}

type dayNum struct {
	host string
	day  int64 // days since the epoch, UTC
}

type recentDay struct {
	n dayNum
	d *Day
}

// NewTally returns an empty tally.
func NewTally() *Tally {
	return &Tally{progress: map[progressKey]*Progression{}, byQueue: map[queueKey][]*Progression{}, days: map[dayKey]*Day{}, byDay: map[dayNum]*Day{}}
}

// Add counts one event.
func (t *Tally) Add(e Event) { t.AddEvent(&e) }

// AddEvent counts one event, as Add does, without copying it.
func (t *Tally) AddEvent(e *Event) {
	if e.Inbound {
		return
	}
	id := e.QueueID
	if id == "" {
		id = e.MessageID
	}
	if id == "" {
		t.addDay(e, true)
		return
	}
	// A message is new on the day of its first attempt; retries are attempts only.
	q := queueKey{e.Host, e.Instance, id}
	key := progressKey{q, e.Recipient}
	p := t.progress[key]
	t.addDay(e, p == nil)
	if e.Status == Expired && e.Recipient == "" {
		// Postfix's qmgr says it of the message: every recipient still waiting expired.
		open := false
		for _, p := range slices.Clone(t.byQueue[q]) {
			if f := p.Final(); f == Deferred {
				p.step(e)
				t.ended(p)
				open = true
			}
		}
		if open {
			return
		}
	}
	if p == nil {
		if e.Status == Sent {
			return // the common case: through at the first attempt, nothing to tell
		}
		if len(t.progress) >= maxProgressions {
			t.Dropped++
			return
		}
		// Copied, in one allocation: the event's strings may be parts of its whole log
		// line, which a kept progression must not hold on to.
		var b strings.Builder
		b.Grow(len(id) + len(e.Recipient) + len(e.Sender) + len(e.File) + 12)
		b.WriteString(id)
		b.WriteString(e.Recipient)
		b.WriteString(e.Sender)
		b.WriteString(e.File)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
		all := b.String()
		n1, n2, n3 := len(id), len(id)+len(e.Recipient), len(id)+len(e.Recipient)+len(e.Sender)
		q = queueKey{t.host(e.Host), t.host(e.Instance), all[:n1]}
		key = progressKey{q, all[n1:n2]}
		p = &Progression{QueueID: q.id, Recipient: key.recipient, Sender: all[n2:n3], Host: t.host(e.SendingHost()), Source: all[n3:],
			seq: t.started, Steps: make([]Step, 0, 2), queue: q}
		t.started++
		t.progress[key] = p
		t.byQueue[q] = append(t.byQueue[q], p)
	}
	p.step(e)
	t.ended(p)
}

// ended hands a progression that has reached its end to OnDone, and forgets it.
func (t *Tally) ended(p *Progression) {
	if t.OnDone == nil {
		return
	}
	switch p.Final() {
	case Sent, Bounced, Expired:
	default:
		return
	}
	delete(t.progress, progressKey{p.queue, p.Recipient})
	rest := slices.DeleteFunc(t.byQueue[p.queue], func(q *Progression) bool { return q == p })
	if len(rest) == 0 {
		delete(t.byQueue, p.queue)
	} else {
		t.byQueue[p.queue] = rest
	}
	t.OnDone(*p)
}

func (p *Progression) step(e *Event) {
	if n := len(p.Steps); n > 0 && p.Steps[n-1].Status == e.Status {
		s := &p.Steps[n-1]
		s.Count++
		s.Last = e.At
		if e.DSN != "" && e.DSN != s.DSN {
			s.DSN = strings.Clone(e.DSN)
		}
		return
	}
	p.Steps = append(p.Steps, Step{Status: e.Status, Count: 1, First: e.At, Last: e.At, DSN: strings.Clone(e.DSN)})
}

func (t *Tally) addDay(e *Event, first bool) {
	if e.At.IsZero() || (e.Status != Sent && e.Status != Deferred && e.Status != Bounced) {
		return
	}
	host := e.SendingHost()
	if host == "" {
		host = e.File // Exim logs name no host: the log's own name stands for it
	}
	sec := e.At.Unix()
	n := dayNum{host, sec / 86400}
	if sec < 0 && sec%86400 != 0 {
		n.day--
	}
	d := t.day(n, e.At)
	d.Attempts++
	if first {
		d.Messages++
	}
	switch e.Status {
	case Sent:
		d.Sent++
	case Deferred:
		d.Deferred++
	case Bounced:
		d.Bounced++
	}
}

// day returns the day of a host, counted or new.
func (t *Tally) day(n dayNum, at time.Time) *Day {
	for i := range t.recent {
		if r := &t.recent[i]; r.d != nil && r.n == n {
			return r.d
		}
	}
	d := t.byDay[n]
	if d == nil {
		k := dayKey{n.host, at.UTC().Format(time.DateOnly)}
		if d = t.days[k]; d == nil {
			d = &Day{Host: strings.Clone(k.host), Date: k.date}
			t.days[k] = d
		}
		t.byDay[n] = d
	}
	copy(t.recent[1:], t.recent[:len(t.recent)-1])
	t.recent[0] = recentDay{n, d}
	return d
}

// host returns one copy of a sending host's name for all its progressions.
func (t *Tally) host(h string) string {
	if c, ok := t.hosts[h]; ok {
		return c
	}
	if t.hosts == nil {
		t.hosts = map[string]string{}
	}
	if len(t.hosts) < 1024 {
		h = strings.Clone(h)
		t.hosts[h] = h
	}
	return h
}

// Progressions returns the messages that did not go through at the first attempt, in the
// order of their first attempt.
func (t *Tally) Progressions() []Progression {
	out := make([]Progression, 0, len(t.progress))
	for _, p := range t.progress {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Progression) int {
		if c := a.Steps[0].First.Compare(b.Steps[0].First); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return out
}

// Days returns the daily volumes by host and date, each compared with the calendar day
// before it (a day with no messages before it is not compared).
func (t *Tally) Days() []Day {
	out := make([]Day, 0, len(t.days))
	for _, d := range t.days {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b Day) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Date, b.Date))
	})
	for i := range out {
		day, err := time.Parse(time.DateOnly, out[i].Date)
		if err != nil {
			continue
		}
		prev := t.days[dayKey{out[i].Host, day.AddDate(0, 0, -1).Format(time.DateOnly)}]
		if prev == nil || prev.Messages == 0 {
			continue
		}
		out[i].Previous = prev.Messages
		out[i].Breach = out[i].Messages > 2*prev.Messages
	}
	return out
}
