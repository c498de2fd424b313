// Package maillogtest writes realistic mail logs of any size, for benchmarks and tests of
// the log readers and of the triage command end to end. The lines have the shapes of the
// genuine Postfix 3.7.11 log in maillog/testdata (smtpd, cleanup, qmgr, smtp, bounce) and
// the replies of real receivers; the generators count what they wrote, so a test can check
// that a reader saw all of it.
package maillogtest

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"
)

// Postfix writes a Postfix log of a given size: several sending hosts (one a multi-instance
// setup named after its IP), several days, each message arriving through smtpd, cleanup and
// qmgr, then delivered to a mix of real receivers: mostly sent, some deferred and retried,
// some bounced, some expiring. About 250 000 messages a day: 100 MB covers several days.
type Postfix struct {
	// Counts are the delivery outcomes written, by status: "sent", "deferred", "bounced",
	// "expired".
	Counts map[string]int
	// Lines is the number of lines written.
	Lines int

	rnd   *rand.Rand
	limit int64
	n     int64
	buf   []byte
	at    time.Time
	seq   int
	retry []retry
}

type retry struct {
	host, tag, qid, rcpt string
	relay                int
	left                 int
}

type relay struct{ relay, reply, dsn string }

var (
	hosts = []struct{ host, tag string }{
		{"mta1", "postfix"}, {"mta2", "postfix"}, {"mta3", "postfix-203.0.113.25"}, {"mta3", "postfix-203.0.113.26"},
	}
	delivered = []relay{
		{"gmail-smtp-in.l.google.com[142.250.102.27]:25", "250 2.0.0 OK  1700000000 a1si123456wrb.12 - gsmtp", "2.0.0"},
		{"mx0a-00069f02.pphosted.com[148.163.156.1]:25", "250 2.0.0 3ufj1q8a2x-1 Message accepted for delivery", "2.0.0"},
		{"example-com.mail.protection.outlook.com[52.101.68.10]:25", "250 2.6.0 <20261122.1@mail.example.com> [InternalId=123456789, Hostname=AM0PR01MB1234.eurprd01.prod.exchangelabs.com] Queued mail for delivery", "2.6.0"},
		{"mta7.am0.yahoodns.net[67.195.204.77]:25", "250 ok dirdel", "2.0.0"},
	}
	deferrals = []relay{
		{"mx0a-00069f02.pphosted.com[148.163.156.1]:25", "host mx0a-00069f02.pphosted.com[148.163.156.1] said: 421 Deferred - see https://ipcheck.proofpoint.com/?ip=203.0.113.25 (in reply to RCPT TO command)", "4.0.0"},
		{"mta7.am0.yahoodns.net[67.195.204.77]:25", "host mta7.am0.yahoodns.net[67.195.204.77] said: 421 4.7.0 [TSS04] Messages from 203.0.113.25 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes (in reply to MAIL FROM command)", "4.7.0"},
		{"gmail-smtp-in.l.google.com[142.250.102.27]:25", "host gmail-smtp-in.l.google.com[142.250.102.27] said: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address. 421 4.7.28 To protect our users from spam, mail sent from your IP address has been temporarily rate limited. a1si123456wrb.12 - gsmtp (in reply to end of DATA command)", "4.7.28"},
		{"none", "connect to mx.example.org[192.0.2.80]:25: Connection timed out", "4.4.1"},
	}
	bounces = []relay{
		{"mx0a-00069f02.pphosted.com[148.163.156.1]:25", "host mx0a-00069f02.pphosted.com[148.163.156.1] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.25 (in reply to RCPT TO command)", "5.7.0"},
		{"example-com.mail.protection.outlook.com[52.101.68.10]:25", "host example-com.mail.protection.outlook.com[52.101.68.10] said: 550 5.7.606 Access denied, banned sending IP [203.0.113.25]. To request removal from this list please visit https://sender.office.com/ and follow the directions. (AS16012609) (in reply to RCPT TO command)", "5.7.606"},
		{"gmail-smtp-in.l.google.com[142.250.102.27]:25", "host gmail-smtp-in.l.google.com[142.250.102.27] said: 550-5.1.1 The email account that you tried to reach does not exist. 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser a1si123456wrb.12 - gsmtp (in reply to RCPT TO command)", "5.1.1"},
	}
	domains = []string{"gmail.com", "example.org", "example.com", "yahoo.com"} // served by delivered, in order
)

// NewPostfix returns a generator of limit bytes (whole lines: it stops at the first line
// end at or past limit) starting on 20 November 2026, the same for the same seed.
func NewPostfix(seed uint64, limit int64) *Postfix {
	return &Postfix{
		rnd:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		limit:  limit,
		at:     time.Date(2026, time.November, 20, 0, 0, 0, 0, time.UTC),
		Counts: map[string]int{},
	}
}

// Events is the number of delivery outcomes written (sent, deferred, bounced, expired).
func (g *Postfix) Events() int {
	return g.Counts["sent"] + g.Counts["deferred"] + g.Counts["bounced"] + g.Counts["expired"]
}

func (g *Postfix) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.n+int64(len(g.buf)) < g.limit {
		g.message()
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	k := copy(p, g.buf)
	g.buf = g.buf[k:]
	g.n += int64(k)
	if len(g.buf) == 0 {
		g.buf = g.buf[:0:0]
	}
	return k, nil
}

func (g *Postfix) line(host, tag, prog string, pid int, format string, args ...any) {
	g.buf = g.at.AppendFormat(g.buf, time.Stamp)
	g.buf = append(g.buf, ' ')
	g.buf = append(g.buf, host...)
	g.buf = append(g.buf, ' ')
	g.buf = append(g.buf, tag...)
	g.buf = append(g.buf, '/')
	g.buf = append(g.buf, prog...)
	g.buf = append(g.buf, '[')
	g.buf = strconv.AppendInt(g.buf, int64(pid), 10)
	g.buf = append(g.buf, "]: "...)
	g.buf = fmt.Appendf(g.buf, format, args...)
	g.buf = append(g.buf, '\n')
	g.Lines++
}

// message writes one message's life, and perhaps one retry of an earlier deferred message.
func (g *Postfix) message() {
	g.at = g.at.Add(time.Duration(g.rnd.IntN(700)) * time.Millisecond)
	g.seq++
	h := hosts[g.rnd.IntN(len(hosts))]
	qid := fmt.Sprintf("%05X%06X", g.seq&0xfffff, g.rnd.IntN(1<<24))
	dom := g.rnd.IntN(len(domains))
	rcpt := fmt.Sprintf("user%d@%s", g.rnd.IntN(100000), domains[dom])
	client := fmt.Sprintf("app%d.example.net[198.51.100.%d]", g.rnd.IntN(9), 1+g.rnd.IntN(250))
	g.line(h.host, h.tag, "smtpd", 1200, "connect from %s", client)
	g.line(h.host, h.tag, "smtpd", 1200, "%s: client=%s, sasl_method=PLAIN, sasl_username=app", qid, client)
	g.line(h.host, h.tag, "cleanup", 1201, "%s: message-id=<%d.%d@mail.example.net>", qid, g.seq, g.rnd.IntN(1e6))
	g.line(h.host, h.tag, "qmgr", 900, "%s: from=<bounces+%d@mail.example.net>, size=%d, nrcpt=1 (queue active)", qid, g.seq, 2000+g.rnd.IntN(40000))
	g.line(h.host, h.tag, "smtpd", 1200, "disconnect from %s ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6", client)
	switch r := g.rnd.IntN(100); {
	case r < 80:
		rl := delivered[dom]
		g.deliver(h.host, h.tag, qid, rcpt, rl.relay, rl.dsn, "sent", rl.reply)
		g.line(h.host, h.tag, "qmgr", 900, "%s: removed", qid)
	case r < 92:
		d := g.rnd.IntN(len(deferrals))
		rl := deferrals[d]
		g.deliver(h.host, h.tag, qid, rcpt, rl.relay, rl.dsn, "deferred", rl.reply)
		g.retry = append(g.retry, retry{h.host, h.tag, qid, rcpt, d, 1 + g.rnd.IntN(3)})
	default:
		rl := bounces[g.rnd.IntN(len(bounces))]
		g.deliver(h.host, h.tag, qid, rcpt, rl.relay, rl.dsn, "bounced", rl.reply)
		g.line(h.host, h.tag, "bounce", 1300, "%s: sender non-delivery notification: %s", qid, "ABCDEF12345")
		g.line(h.host, h.tag, "qmgr", 900, "%s: removed", qid)
	}
	if len(g.retry) > 50 || len(g.retry) > 0 && g.rnd.IntN(8) == 0 {
		t := &g.retry[0]
		rl := deferrals[t.relay]
		t.left--
		switch {
		case t.left > 0:
			g.deliver(t.host, t.tag, t.qid, t.rcpt, rl.relay, rl.dsn, "deferred", rl.reply)
			g.retry = append(g.retry[1:], *t)
		case g.rnd.IntN(4) == 0:
			g.line(t.host, t.tag, "qmgr", 900, "%s: from=<bounces@mail.example.net>, status=expired, returned to sender", t.qid)
			g.Counts["expired"]++
			g.line(t.host, t.tag, "qmgr", 900, "%s: removed", t.qid)
			g.retry = g.retry[1:]
		default:
			ok := delivered[t.relay%len(delivered)]
			g.deliver(t.host, t.tag, t.qid, t.rcpt, ok.relay, ok.dsn, "sent", ok.reply)
			g.line(t.host, t.tag, "qmgr", 900, "%s: removed", t.qid)
			g.retry = g.retry[1:]
		}
	}
}

func (g *Postfix) deliver(host, tag, qid, rcpt, relay, dsn, status, text string) {
	g.line(host, tag, "smtp", 1400+g.rnd.IntN(50), "%s: to=<%s>, relay=%s, delay=%.2f, delays=0.01/0/0.1/0.2, dsn=%s, status=%s (%s)",
		qid, rcpt, relay, g.rnd.Float64()*3, dsn, status, text)
	g.Counts[status]++
}
