package casefile

import (
	"fmt"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// t0 is the fixed clock of the tests.
var t0 = time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)

func testStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir() + "/cases")
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return t0 }
	return s
}

// pdrFinding is a Proofpoint Dynamic Reputation block as triage reports it.
func pdrFinding(i int, at time.Time) triage.Finding {
	rcpt := fmt.Sprintf("user%d@customer.example", i%7)
	return triage.Finding{
		Source:          fmt.Sprintf("maillog:%d", i+1),
		Mode:            triage.HardBlock,
		Cause:           triage.IPReputation,
		Provider:        "proofpoint",
		Receiver:        "mx0a-00069f02.pphosted.com",
		Control:         "dynamic-reputation",
		IP:              "192.0.2.1",
		ReplyCode:       550,
		EnhancedCode:    "5.7.0",
		Recipient:       rcpt,
		RecipientDomain: "customer.example",
		Sender:          "bounces@example.com",
		At:              at,
		Text:            "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1",
		Route:           triage.RouteFor("proofpoint-ipcheck", "192.0.2.1"),
	}
}

// bigCase is a case with n timeline events.
func bigCase(n int) *Case {
	c := &Case{Role: Sender, Provider: "proofpoint", Title: "PDR block of 192.0.2.1"}
	c.Identifiers.IPs = []string{"192.0.2.1"}
	c.Identifiers.Domain = "example.com"
	// Distinct events, as a long case gathers them (each added by its own input).
	c.Timeline = make([]Event, n)
	for i := range c.Timeline {
		f := pdrFinding(i, t0.Add(-time.Duration(n-i)*time.Minute))
		e := eventOf(f)
		e.Added = e.At
		c.Timeline[i] = e
		c.fillFrom(f, e)
	}
	return c
}
