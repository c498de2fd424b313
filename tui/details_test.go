package tui

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

// liveResults runs every check against the loopback fixture zone.
func liveResults(t *testing.T) map[string]checks.Result {
	t.Helper()
	dns := dnstest.Start(t, fixtureZone)
	r, err := resolver.New(resolver.Config{Servers: []string{dns.Addr}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	env := &checks.Env{Resolver: r, SMTPPort: 1, Now: clock}
	target := checks.Target{IP: netip.MustParseAddr("192.0.2.225"), Domain: "example.com", HELO: "mx100.qin.example.com",
		RecipientDomain: "example.org", Selectors: []string{"s1"}}
	out := map[string]checks.Result{}
	for res := range checks.Run(context.Background(), env, target, nil) {
		out[res.ID] = res
	}
	return out
}

// TestDetailSentences: the details of every check, as a real run against the loopback
// zone returns them, read as sentences: no Go or JSON dump, the facts still there.
func TestDetailSentences(t *testing.T) {
	res := liveResults(t)
	want := map[string][]string{
		"spf":         {`The SPF record of example.com is "v=spf1 ip4:192.0.2.225 -all".`, "takes 0 of the 10 DNS lookups", "For the envelope domain example.com the sending IP gets pass: matched an ip4/ip6 term.", "For the HELO name mx100.qin.example.com the sending IP gets none"},
		"dkim":        {"Selector s1: no key is published at s1._domainkey.example.com."},
		"dmarc":       {`The DMARC record at _dmarc.example.com is "v=DMARC1; p=reject; rua=mailto:dmarc@example.com".`, "Its policy is p=reject; mail from example.com that fails DMARC gets reject.", "Alignment: DKIM relaxed, SPF relaxed.", "Aggregate reports go to mailto:dmarc@example.com."},
		"ptr":         {"192.0.2.225 has the PTR name mx100.qin.example.com."},
		"fcrdns":      {"mx100.qin.example.com resolves to 192.0.2.225, which confirms it."},
		"helo":        {"mx100.qin.example.com resolves to 192.0.2.225.", "One of them is the sending IP.", "It is the IP's PTR name."},
		"a":           {"example.com resolves to 192.0.2.80."},
		"mx":          {"MX inbound.example.com (preference 10) resolves to 127.0.0.1: resolves only to 127.0.0.1"},
		"dnsbl":       {"could not be read, so they prove nothing either way: Spamhaus ZEN"},
		"starttls":    {"The recipient's MX mx0a-00069f02.pphosted.com (for example.org) at 127.0.0.1:1: no connection from this machine"},
		"mx-starttls": {"Your own MX inbound.example.com (for example.com) at 127.0.0.1:1: no connection from this machine"},
		"recipient":   {"example.org receives mail at mx0a-00069f02.pphosted.com.", "A sender whose IP is blocked there goes to proofpoint-ipcheck at https://ipcheck.proofpoint.com/?ip=192.0.2.225."},
	}
	for id, phrases := range want {
		r, ok := res[id]
		if !ok {
			t.Errorf("no %s result from the run", id)
			continue
		}
		text := strings.Join(detailSentences(id, r.Details), "\n")
		for _, p := range phrases {
			if !strings.Contains(text, p) {
				t.Errorf("%s details lack %q:\n%s", id, p, text)
			}
		}
	}
	for id, r := range res {
		text := strings.Join(detailSentences(id, r.Details), "\n")
		for _, bad := range []string{"map[", "probed", ": false", ": true", "[]", "{", "_"} {
			if strings.Contains(strings.ReplaceAll(text, "_domainkey", ""), bad) && !strings.Contains(r.Summary, bad) {
				t.Errorf("%s details dump %q:\n%s", id, bad, text)
			}
		}
		for _, line := range detailSentences(id, r.Details) {
			if !strings.HasSuffix(line, ".") && !strings.HasSuffix(line, ".\"") {
				t.Errorf("%s: %q is not a sentence", id, line)
			}
		}
	}
	// A key no sentence knows yet is still said, in words.
	got := detailSentences("spf", map[string]any{"brand_new_fact": 3})
	if len(got) != 1 || got[0] != "Brand new fact: 3." {
		t.Errorf("unknown key: %q", got)
	}
}

// TestChecksSkipAndScroll: --skip leaves a check out of the run, space skips or runs a
// row, a skipped check's old result leaves the case, and the details pane scrolls.
func TestChecksSkipAndScroll(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprint(sz.w), func(t *testing.T) {
			st := testStore(t)
			c := timelineCase(t, st, 3)
			c.Identifiers.Selectors = []string{"s1"}
			c.Authentication = []casefile.AuthCheck{{ID: "dnsbl", Status: "warn", Summary: "old result", CheckedAt: fixedNow}}
			if err := st.Save(c); err != nil {
				t.Fatal(err)
			}
			opts, _ := testOptions(t, st)
			opts.Case = c.ID
			opts.Skip = []string{"dnsbl"}
			d := newDriver(t, opts, sz.w, sz.h)
			d.waitText("Timeline")
			d.keys("4")
			cs := d.m.screens[scrChecks].(*checksScreen)
			d.until("the run recorded", func() bool { return cs.running == 0 && slicesHas(d.m.cas.Authentication, "spf") })
			row := cs.rows[cs.index("dnsbl")]
			if row.res.Status != checks.Skip {
				t.Fatalf("--skip dnsbl: the row is %s (%s)", row.res.Status, row.res.Summary)
			}
			for _, a := range d.m.cas.Authentication {
				if a.ID == "dnsbl" {
					t.Errorf("a skipped check stays in the case: %+v", a)
				}
			}
			// space on spf skips it; its result leaves the case.
			for cs.rows[cs.sel].id != "spf" {
				d.keys("down")
			}
			d.keys("space")
			if !cs.skipped["spf"] || slicesHas(d.m.cas.Authentication, "spf") {
				t.Fatalf("space did not skip spf: skipped %v", cs.skipped)
			}
			if !strings.Contains(d.screen(), "skipped on request (space runs it)") {
				t.Errorf("the row does not say it is skipped:\n%s", d.screen())
			}
			// space again runs it at once.
			d.keys("space")
			d.until("spf to run again", func() bool { return cs.running == 0 && slicesHas(d.m.cas.Authentication, "spf") })
			if cs.skipped["spf"] {
				t.Error("space on a skipped row did not unskip it")
			}
			// dnsbl's pane is long: it scrolls.
			for cs.sel > 0 {
				d.keys("up")
			}
			for cs.rows[cs.sel].id != "dnsbl" {
				d.keys("down")
			}
			delete(cs.skipped, "dnsbl")
			cs.rows[cs.sel].res = checks.Result{ID: "dnsbl", Status: checks.Warn, Summary: "listed on 1 of 40 lists", Details: longDNSBL(40)}
			before := d.screen()
			if !strings.Contains(before, "pgup/pgdn scroll") {
				t.Fatalf("a long pane does not say it scrolls:\n%s", before)
			}
			d.keys("pgdown")
			after := d.screen()
			if cs.scroll == 0 || after == before {
				t.Errorf("pgdown did not scroll the pane (scroll %d)", cs.scroll)
			}
			golden(t, fmt.Sprintf("checks-scrolled-%d", sz.w), after)
			d.keys("up")
			if cs.scroll != 0 {
				t.Error("the pane's scroll did not reset with the selection")
			}
			// Every status starts in one column, after the widest id (mx-starttls).
			for cs.rows[cs.sel].id != "mx-starttls" {
				d.keys("down")
			}
			idW := 0
			for _, r := range cs.rows {
				idW = max(idW, len(r.id))
			}
			if idW < len("mx-starttls") {
				t.Fatalf("the widest id is %d wide", idW)
			}
			shown := 0
			for _, l := range strings.Split(d.screen(), "\n") {
				cells := []rune(l)
				if len(cells) < idW+4 || (cells[0] != ' ' && cells[0] != '▸') || cells[1] != ' ' || cells[2] == ' ' {
					continue
				}
				id := strings.TrimSpace(string(cells[2 : 2+idW]))
				if cs.index(id) < 0 {
					continue
				}
				shown++
				if cells[2+idW] != ' ' || cells[3+idW] == ' ' {
					t.Errorf("the %s row's status is not in the column after the widest id: %q", id, l)
				}
			}
			if shown < 3 {
				t.Errorf("%d check rows found on the screen:\n%s", shown, d.screen())
			}
		})
	}
}

func slicesHas(as []casefile.AuthCheck, id string) bool {
	for _, a := range as {
		if a.ID == id {
			return true
		}
	}
	return false
}

func longDNSBL(n int) map[string]any {
	var zones []map[string]any
	for i := range n {
		state := "not-listed"
		if i == 0 {
			state = "listed"
		}
		if i%3 == 2 {
			state = "refused"
		}
		zones = append(zones, map[string]any{"zone": fmt.Sprintf("bl%d.example", i), "name": fmt.Sprintf("List %d", i),
			"state": state, "codes": []string{"127.0.0.2"}, "subject": "192.0.2.225",
			"note": fmt.Sprintf("list %d refused the public resolver: ask through your own resolver", i)})
	}
	return map[string]any{"zones": zones}
}
