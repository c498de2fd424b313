package casefile

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// TestReceiverVerdict: a filtered message's own Authentication-Results reach the case
// and the message as what the receiver verified, apart from our DNS checks.
func TestReceiverVerdict(t *testing.T) {
	f, err := os.Open("testdata/receiver/fp-headers.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := triage.Read(context.Background(), "fp-headers.txt", f, triage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := &Case{Schema: SchemaVersion, ID: "fp", Status: StatusOpen, Role: Customer, Provider: "proofpoint"}
	c.Add(rep.Findings, t0)
	want := []ReceiverAuth{
		{Authserv: "mx0b-00112233.pphosted.com", Method: "spf", Result: "pass", Domain: "notifications@partner.example"},
		{Authserv: "mx0b-00112233.pphosted.com", Method: "dkim", Result: "pass", Domain: "partner.example", Selector: "sel2024"},
		{Authserv: "mx0b-00112233.pphosted.com", Method: "dmarc", Result: "pass", Domain: "partner.example"},
	}
	got := c.Identifiers.ReceiverAuth
	if len(got) != len(want) {
		t.Fatalf("receiver results %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("receiver result %d %+v, want %+v", i, got[i], want[i])
		}
	}
	// Kept through a save and a load.
	data, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("fp.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Identifiers.ReceiverAuth) != 3 || back.Identifiers.ReceiverAuth[1] != want[1] {
		t.Errorf("after a round trip: %+v", back.Identifiers.ReceiverAuth)
	}
	// Stated from the case, one line each, naming the receiver; our DKIM key check says
	// it verified nothing itself.
	c.Authentication = []AuthCheck{{ID: "dkim", Status: "pass", Domain: "partner.example", CheckedAt: t0,
		Keys: []DKIMKey{{Selector: "sel2024", Found: true, Type: "rsa", Bits: 2048}}}}
	m, err := Render(c, "false-positive", RenderOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	block := blockField(m.Text, "Receiver's verdict")
	for _, r := range want {
		line := strings.ToUpper(r.Method) + ": " + r.Result
		if r.Selector != "" {
			line += " (d=" + r.Domain + ", s=" + r.Selector + ")"
		}
		line += ", verified by the receiving filter (Authentication-Results of " + r.Authserv + ")"
		if r.Method != "dkim" && !strings.Contains(block, r.Domain) || !strings.Contains(block, strings.ToUpper(r.Method)+": "+r.Result) {
			t.Errorf("%s not stated:\n%s", r.Method, block)
		}
		if r.Method == "dkim" && !strings.Contains(block, line) {
			t.Errorf("the receiver's DKIM verdict is not %q:\n%s", line, block)
		}
	}
	auth := blockField(m.Text, "Sender's authentication")
	if !strings.Contains(auth, "DKIM: key published (sel2024, 2048-bit RSA) at partner.example; no signature verified by these checks") ||
		strings.Contains(auth, "verified by the receiving") {
		t.Errorf("our DKIM check and the receiver's verdict are mixed:\n%s", m.Text)
	}
}
