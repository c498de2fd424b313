package triage

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// worstBounces are readable messages built to make the plain-text, DSN and report readers
// work hardest: megabytes of recipient lines, sender fields, session lines, report
// recipients and broken JSON.
func worstBounces() map[string]string {
	head := "From: MAILER-DAEMON@out.sender.example\nTo: ann@sender.example\nSubject: Undelivered Mail Returned to Sender\n\n"
	var rcpts, senders, session strings.Builder
	for i := range 40000 {
		fmt.Fprintf(&rcpts, "554 <user%d@far%d.example>... 550 Host unknown\n", i, i%50)
		fmt.Fprintf(&senders, "MAIL FROM:<s%d@sender.example> From: x%d@sender.example\n", i, i)
		fmt.Fprintf(&session, ">>> RCPT To:<u%d@far.example>\n<<< 250 2.1.5 Ok\n", i)
	}
	arf := "From: fbl@isp.example\nTo: fbl@sender.example\nSubject: report\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/report; report-type=feedback-report; boundary=b\n\n--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n" +
		strings.Repeat("Original-Rcpt-To: someone@isp.example\n", 50000) + "\n--b--\n"
	json := head + `{"notificationType":"Complaint",` + strings.Repeat(`"x":[{"y":"!`+"\n"+` `, 30000) + "}\n"
	return map[string]string{
		"recipient lines":   head + rcpts.String(),
		"sender fields":     head + "<joe@far.example>: 550 no\n" + senders.String(),
		"session lines":     head + session.String() + "<<< 451 4.3.0 queue file write error\n",
		"report recipients": arf,
		"broken ses json":   json,
	}
}

// Nothing readable crashes or fails as bad input; how long each takes is measured by
// BenchmarkReadWorstBounce (the target is under 2 s each).
func TestWorstBounces(t *testing.T) {
	for name, text := range worstBounces() {
		rep, err := Read(context.Background(), name, strings.NewReader(text), Options{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(rep.Findings) == 0 || len(rep.Findings) > maxReported {
			t.Errorf("%s: %d findings", name, len(rep.Findings))
		}
	}
}

func BenchmarkReadWorstBounce(b *testing.B) {
	for name, text := range worstBounces() {
		b.Run(strings.ReplaceAll(name, " ", "-"), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				if _, err := Read(context.Background(), name, strings.NewReader(text), Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
