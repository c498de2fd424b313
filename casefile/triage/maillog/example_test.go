package maillog_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage/maillog"
)

func ExampleRead() {
	log := `Nov 22 10:00:00 mta postfix-203.0.113.25/qmgr[9]: 3AC6099E197: from=<news@example.org>, size=2048, nrcpt=1 (queue active)
Nov 22 10:00:01 mta postfix-203.0.113.25/smtp[7]: 3AC6099E197: to=<a@example.com>, relay=mx0a-00069f02.pphosted.com[148.163.156.1]:25, delay=1.2, delays=0/0/0.5/0.7, dsn=4.0.0, status=deferred (host mx0a-00069f02.pphosted.com[148.163.156.1] said: 421 Deferred - see https://ipcheck.proofpoint.com/?ip=203.0.113.25 (in reply to RCPT TO command))
Nov 22 10:30:01 mta postfix-203.0.113.25/smtp[7]: 3AC6099E197: to=<a@example.com>, relay=mx0a-00069f02.pphosted.com[148.163.156.1]:25, delay=1801, delays=1800/0/0.5/0.7, dsn=5.7.0, status=bounced (host mx0a-00069f02.pphosted.com[148.163.156.1] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.25 (in reply to RCPT TO command))
`
	tally := maillog.NewTally()
	res, err := maillog.Read(strings.NewReader(log), maillog.Options{Name: "maillog", Year: 2026, Location: time.UTC}, func(e maillog.Event) error {
		fmt.Println(e.Source(), e.At.Format(time.RFC3339), e.SendingIP, e.Status, e.Recipient, e.Relay)
		fmt.Println("  ", e.Reply)
		tally.Add(e)
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range tally.Progressions() {
		fmt.Println(p.QueueID, p.Recipient, p.String())
	}
	for _, d := range tally.Days() {
		fmt.Println(d.String())
	}
	fmt.Println(res.Format, res.Events, "events;", strings.Join(res.Assumed, "; "))
	// Output:
	// maillog:2 2026-11-22T10:00:01Z 203.0.113.25 deferred a@example.com mx0a-00069f02.pphosted.com
	//    421 Deferred - see https://ipcheck.proofpoint.com/?ip=203.0.113.25
	// maillog:3 2026-11-22T10:30:01Z 203.0.113.25 bounced a@example.com mx0a-00069f02.pphosted.com
	//    550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.25
	// 3AC6099E197 a@example.com deferred, then bounced
	// 2026-11-22 203.0.113.25: 1 message, 2 attempts (0 sent, 1 deferred, 1 bounced)
	// postfix 2 events; year 2026 for syslog timestamps (as given); zone UTC for timestamps without one (as given)
}
