package maillogtest

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// ESP writes Amazon SES notifications (one object a line, as a queue consumer stores them)
// or SendGrid event-webhook batches (JSON arrays of events, as the webhook posts them), in
// the shapes of the genuine samples in maillog/testdata/json: mostly deliveries, some
// bounces with the receivers' replies, a few complaints.
type ESP struct {
	// Counts are the outcomes written: "delivery", "bounce", "complaint" (SES) or
	// "delivered", "bounce", "deferred", "dropped", "spamreport" (SendGrid).
	Counts map[string]int

	sendgrid bool
	rnd      *rand.Rand
	limit    int64
	n        int64
	buf      []byte
	at       time.Time
	seq      int
	started  bool
	done     bool
}

// NewSES returns a generator of about limit bytes of SES notifications.
func NewSES(seed uint64, limit int64) *ESP { return newESP(seed, limit, false) }

// NewSendGrid returns a generator of about limit bytes of SendGrid event batches.
func NewSendGrid(seed uint64, limit int64) *ESP { return newESP(seed, limit, true) }

func newESP(seed uint64, limit int64, sendgrid bool) *ESP {
	return &ESP{
		Counts: map[string]int{}, sendgrid: sendgrid, limit: limit,
		rnd: rand.New(rand.NewPCG(seed, seed^0x51ed27)),
		at:  time.Date(2026, time.November, 20, 0, 0, 0, 0, time.UTC),
	}
}

func (g *ESP) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && !g.done {
		if g.n+int64(len(g.buf)) >= g.limit {
			g.done = true
			if g.sendgrid && g.started {
				g.buf = append(g.buf, "]\n"...)
			}
			break
		}
		if g.sendgrid {
			g.sendGridEvent()
		} else {
			g.sesNotification()
		}
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

var espReplies = []struct{ status, text string }{
	{"5.1.1", "smtp; 550 5.1.1 The email account that you tried to reach does not exist. https://support.google.com/mail/?p=NoSuchUser - gsmtp"},
	{"5.7.1", "smtp; 550 5.7.1 Service unavailable, Client host [54.240.8.1] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/54.240.8.1 (AS3130). [BN1NAM02FT009.eop-nam02.prod.protection.outlook.com]"},
	{"5.7.0", "smtp; 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=54.240.8.1"},
	{"5.0.0", "smtp; 554 Message not allowed - [PH01] Email not accepted for policy reasons. Please visit https://postmaster.yahooinc.com/error-codes"},
}

var espDomains = []string{"gmail.com", "outlook.com", "example.org", "yahoo.com"}

func (g *ESP) sesNotification() {
	g.at = g.at.Add(time.Duration(g.rnd.IntN(400)) * time.Millisecond)
	g.seq++
	rcpt := fmt.Sprintf("user%d@%s", g.rnd.IntN(100000), espDomains[g.rnd.IntN(len(espDomains))])
	id := fmt.Sprintf("0100018c%08x-%08x-0000-0000-000000000000-000000", g.seq, g.rnd.Uint32())
	mail := fmt.Sprintf(`"mail":{"timestamp":"%s","source":"news@mail.example.net","sourceArn":"arn:aws:ses:us-west-2:123456789012:identity/mail.example.net","sendingAccountId":"123456789012","messageId":"%s","destination":["%s"],"headersTruncated":false,"headers":[{"name":"From","value":"news@mail.example.net"},{"name":"To","value":"%s"},{"name":"Subject","value":"Weekly news"}],"commonHeaders":{"from":["news@mail.example.net"],"to":["%s"],"subject":"Weekly news"}}`,
		g.at.Format("2006-01-02T15:04:05.000Z"), id, rcpt, rcpt, rcpt)
	later := g.at.Add(2 * time.Second).Format("2006-01-02T15:04:05.000Z")
	switch r := g.rnd.IntN(100); {
	case r < 85:
		g.buf = fmt.Appendf(g.buf, `{"notificationType":"Delivery",%s,"delivery":{"timestamp":"%s","processingTimeMillis":2012,"recipients":["%s"],"smtpResponse":"250 2.6.0 Message received","remoteMtaIp":"142.250.102.27","reportingMTA":"a27-29.smtp-out.us-west-2.amazonses.com"}}`+"\n",
			mail, later, rcpt)
		g.Counts["delivery"]++
	case r < 98:
		rp := espReplies[g.rnd.IntN(len(espReplies))]
		g.buf = fmt.Appendf(g.buf, `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"%s","action":"failed","status":"%s","diagnosticCode":"%s"}],"timestamp":"%s","feedbackId":"%s","remoteMtaIp":"142.250.102.27","reportingMTA":"dsn; a27-23.smtp-out.us-west-2.amazonses.com"},%s}`+"\n",
			rcpt, rp.status, rp.text, later, id, mail)
		g.Counts["bounce"]++
	default:
		g.buf = fmt.Appendf(g.buf, `{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"%s"}],"timestamp":"%s","feedbackId":"%s","userAgent":"Yahoo!-Mail-Feedback/2.0","complaintFeedbackType":"abuse"},%s}`+"\n",
			rcpt, later, id, mail)
		g.Counts["complaint"]++
	}
}

func (g *ESP) sendGridEvent() {
	g.at = g.at.Add(time.Duration(g.rnd.IntN(400)) * time.Millisecond)
	g.seq++
	if !g.started {
		g.buf = append(g.buf, "[\n"...)
		g.started = true
	} else {
		g.buf = append(g.buf, ",\n"...)
	}
	rcpt := fmt.Sprintf("user%d@%s", g.rnd.IntN(100000), espDomains[g.rnd.IntN(len(espDomains))])
	common := fmt.Sprintf(`"email":"%s","timestamp":%d,"smtp-id":"<%d.%d@mail.example.net>","sg_event_id":"ZmFrZS1ldmVudC0%08x","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.%d","ip":"167.89.1.%d","category":["newsletter"]`,
		rcpt, g.at.Unix(), g.seq, g.rnd.IntN(1e6), g.rnd.Uint32(), g.seq, 1+g.rnd.IntN(9))
	switch r := g.rnd.IntN(100); {
	case r < 80:
		g.buf = fmt.Appendf(g.buf, `{%s,"event":"delivered","response":"250 2.0.0 OK 1700000000 a1si123456wrb.12 - gsmtp","tls":1}`, common)
		g.Counts["delivered"]++
	case r < 88:
		g.buf = fmt.Appendf(g.buf, `{%s,"event":"deferred","response":"421 4.7.0 [TSS04] Messages from 167.89.1.5 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes","attempt":"%d"}`, common, 1+g.rnd.IntN(5))
		g.Counts["deferred"]++
	case r < 97:
		rp := espReplies[g.rnd.IntN(len(espReplies))]
		g.buf = fmt.Appendf(g.buf, `{%s,"event":"bounce","type":"blocked","status":"%s","reason":"%s"}`, common, rp.status, rp.text[len("smtp; "):])
		g.Counts["bounce"]++
	case r < 99:
		g.buf = fmt.Appendf(g.buf, `{%s,"event":"dropped","reason":"Bounced Address"}`, common)
		g.Counts["dropped"]++
	default:
		g.buf = fmt.Appendf(g.buf, `{%s,"event":"spamreport"}`, common)
		g.Counts["spamreport"]++
	}
}
