package tui

import (
	"fmt"
	"os"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/unblock-mail/unblock/casefile"
)

// TestCustomerFilteredCase walks a Proofpoint customer admin's case for a partner's
// message filtered as spam (its headers pasted): every screen is worded for the mail of
// a sender, not the user's own; the checklist's first item is the filter's verdict, not
// a reply; the evidence step shows the priority the message will propose with its
// reason; the message screen opens on the support case, which carries the CSC fields.
func TestCustomerFilteredCase(t *testing.T) {
	headers, err := os.ReadFile("testdata/pp-filtered-headers.eml")
	if err != nil {
		t.Fatal(err)
	}
	for _, sz := range sizes {
		t.Run(fmt.Sprint(sz.w), func(t *testing.T) {
			st := testStore(t)
			opts, _ := testOptions(t, st)
			d := newDriver(t, opts, sz.w, sz.h)
			d.waitText("Who are you")
			d.keys("down", "enter")
			if d.m.cas.Role != casefile.Customer {
				t.Fatalf("role %q, want customer", d.m.cas.Role)
			}
			d.waitText("What failed?")
			d.send(tea.PasteMsg{Content: string(headers)})
			d.waitText("Proposed")
			screen := d.screen()
			if strings.Contains(screen, "according to the reply") || !strings.Contains(screen, "Why, according to the filter?") {
				t.Errorf("pasted headers are asked about as a reply:\n%s", screen)
			}
			if got := d.m.cas.RouteKind(); got != "proofpoint-support" {
				t.Fatalf("route %q, want proofpoint-support", got)
			}
			d.keys("enter")
			d.waitText("What the provider needs to find the mail")
			screen = d.screen()
			for _, sender := range []string{"find your mail", "where the blocked mail was going", "your server greets"} {
				if strings.Contains(screen, sender) {
					t.Errorf("the identifiers screen says %q to a customer admin:\n%s", sender, screen)
				}
			}
			d.golden(t, fmt.Sprintf("customer-idents-%d", sz.w))
			d.keys("ctrl+s")
			d.waitText("Checking the sender: 198.51.100.140")
			if strings.Contains(d.screen(), "Proving your side") {
				t.Errorf("the checks screen says \"Proving your side\" to a customer admin:\n%s", d.screen())
			}
			d.waitText("done:")
			d.until("the checks recorded", func() bool { return len(d.m.cas.Authentication) > 0 })
			d.keys("enter")
			d.waitText("Checklist")
			screen = d.screen()
			if strings.Contains(screen, "the exact reply text") || !strings.Contains(screen, "[✓] the filter's verdict, as the message's headers record it") {
				t.Errorf("the checklist ticks a reply a filtered message does not have:\n%s", screen)
			}
			p := d.m.cas.ProposePriority()
			if !strings.Contains(screen, "Priority          "+p.Level+" (proposed): ") || !strings.Contains(strings.Join(strings.Fields(screen), " "), strings.Join(strings.Fields(p.Reason), " ")) {
				t.Errorf("the evidence step does not show the proposed priority %s with its reason %q:\n%s", p.Level, p.Reason, screen)
			}
			if strings.Contains(screen, "all customers at") {
				t.Errorf("the evidence hints speak of a sender's customers to a customer admin:\n%s", screen)
			}
			d.golden(t, fmt.Sprintf("customer-evidence-%d", sz.w))
			d.keys("enter")
			d.waitText("kind ←/→")
			ms := d.m.screens[scrMessage].(*messageScreen)
			if got := ms.kinds[ms.kind]; got != "support-case" {
				t.Errorf("the message screen opens on %s, want support-case (kinds %v)", got, ms.kinds)
			}
			if !strings.Contains(strings.Join(strings.Fields(ms.msg.String()), " "), "Priority: "+p.Level+": "+p.Reason) {
				t.Errorf("the support case does not propose %s:\n%s", p.Level, ms.msg.String())
			}
		})
	}
}
