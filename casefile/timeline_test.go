package casefile

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// TestSchema1Upgrades: a schema 1 file loads into the schema 2 model (count → attempts
// and messages, recipient → recipients, a kind from the mode) and saves as schema 2,
// keeping its updated time since its content did not change.
func TestSchema1Upgrades(t *testing.T) {
	s := testStore(t)
	v1 := `schema: 1
id: old
status: open
created: 2026-11-20T09:00:00Z
updated: 2026-11-20T09:00:00Z
role: sender
provider: proofpoint
timeline:
  - at: 2026-11-20T08:00:00Z
    recipient: ap@customer.example
    reply: 554 Blocked
    count: 3
    mode: hard-block
  - at: 2026-11-20T08:30:00Z
    mode: delivered
`
	path := s.Dir() + "/old.yaml"
	if err := os.MkdirAll(s.Dir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := s.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Timeline[0]
	if e.Kind != KindFailure || e.AttemptCount() != 3 || e.MessageCount() != 3 || len(e.Recipients) != 1 || e.Recipients[0] != "ap@customer.example" || e.Count != 0 || e.Recipient != "" {
		t.Errorf("upgraded event %+v", e)
	}
	if c.Timeline[1].Kind != KindDelivery {
		t.Errorf("delivered event has kind %q", c.Timeline[1].Kind)
	}
	if err := s.Save(c); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, []byte("schema: 2\n")) || !bytes.Contains(data, []byte("updated: 2026-11-20T09:00:00Z")) ||
		bytes.Contains(data, []byte("count:")) || !bytes.Contains(data, []byte("recipients: [ap@customer.example]")) {
		t.Errorf("saved as:\n%s", data)
	}
}

func logFinding(i int, at time.Time, queue string) triage.Finding {
	f := pdrFinding(i, at)
	f.QueueID = queue
	f.Recipient = "user-" + queue + "@customer.example" // a message is its queue ID and recipient
	f.Source = fmt.Sprintf("mail.log:%d", i+1)
	return f
}

// TestRepeatedFailuresAreCounted: the same failure again and again in one input is one
// event per UTC day, with attempts (every line), distinct messages (by queue ID), the
// first and last time, a few recipients, and when it was added.
func TestRepeatedFailuresAreCounted(t *testing.T) {
	c := &Case{Role: Sender, Provider: "proofpoint"}
	c.Identifiers.IPs = []string{"192.0.2.1"}
	day := time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC)
	var fs []triage.Finding
	for i := range 30 { // 10 messages, each tried 3 times on the first day
		fs = append(fs, logFinding(i, day.Add(time.Duration(i)*time.Minute), fmt.Sprintf("Q%d", i%10)))
	}
	fs = append(fs, logFinding(99, day.Add(26*time.Hour), "Q99")) // the next day
	got := c.Add(fs, t0)
	if got.New != 31 || got.Repeated != 0 || len(got.Left) != 0 {
		t.Fatalf("Add = %+v", got)
	}
	if len(c.Timeline) != 2 {
		t.Fatalf("%d events, want 2 (one a day)", len(c.Timeline))
	}
	e := c.Timeline[0]
	if e.AttemptCount() != 30 || e.MessageCount() != 10 || !e.At.Equal(day) || !e.Last.Equal(day.Add(29*time.Minute)) ||
		!e.Added.Equal(t0) || len(e.Recipients) != MaxRecipients {
		t.Errorf("first day: %+v", e)
	}
	if seen := c.Seen(); seen.Failures != 11 || !seen.Last.Equal(day.Add(26*time.Hour)) {
		t.Errorf("Seen = %+v", seen)
	}

	// The same log added again (a cron job re-reading it) adds nothing; its next lines do.
	again := c.Add(append(fs, logFinding(100, day.Add(27*time.Hour), "Q100")), t0.Add(time.Hour))
	if again.New != 1 || again.Repeated != 31 {
		t.Errorf("re-adding: %+v", again)
	}
	if n := len(c.Timeline); n != 3 || !c.Timeline[2].Added.Equal(t0.Add(time.Hour)) {
		t.Errorf("after re-adding: %d events, last added %v", n, c.Timeline[n-1].Added)
	}
}

// TestCaseKeepsItsOwnFailures: a log with several providers' failures adds to a case only
// those of its IP, provider and control, and names the others with the command that
// starts their case; a case with no failure yet takes the provider its IP's failures name.
func TestCaseKeepsItsOwnFailures(t *testing.T) {
	at := time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC)
	pdr := logFinding(1, at, "A")
	other := logFinding(2, at, "B")
	other.IP = "192.0.2.99"
	gmail := triage.Finding{Source: "mail.log:7", Mode: triage.Deferral, Cause: triage.RateLimit, Provider: "google",
		Control: "rate-limit", IP: "192.0.2.1", At: at, Text: "421-4.7.28 unusual rate", RecipientDomain: "gmail.com"}

	c := &Case{Role: Sender, Provider: "proofpoint"}
	c.Identifiers.IPs = []string{"192.0.2.1"}
	got := c.Add([]triage.Finding{gmail, pdr, other, gmail}, t0)
	if got.New != 1 || len(c.Timeline) != 1 || c.Timeline[0].Provider != "proofpoint" || c.Control != "dynamic-reputation" {
		t.Fatalf("Add = %+v, timeline %+v", got, c.Timeline)
	}
	if len(got.Left) != 2 || got.Left[0].Provider != "google" || got.Left[0].Count != 1 ||
		got.Left[0].Start != "unblock new --provider google --ip 192.0.2.1" || got.Left[1].IP != "192.0.2.99" {
		t.Errorf("left out: %+v", got.Left)
	}

	// A case made without an IP, for a provider the input does not name, adopts the one
	// named most and the IP it names.
	bare := &Case{Role: Sender, Provider: "microsoft"}
	bare.Add([]triage.Finding{gmail, gmail2(at)}, t0)
	if bare.Provider != "google" || len(bare.Identifiers.IPs) != 1 || bare.Identifiers.IPs[0] != "192.0.2.1" || len(bare.Timeline) != 2 {
		t.Errorf("bare case became %s %v with %d events", bare.Provider, bare.Identifiers.IPs, len(bare.Timeline))
	}
}

func gmail2(at time.Time) triage.Finding {
	return triage.Finding{Source: "mail.log:9", Mode: triage.Deferral, Cause: triage.RateLimit, Provider: "google",
		Control: "rate-limit", IP: "192.0.2.1", At: at.Add(time.Minute), Text: "421-4.7.28 unusual rate", RecipientDomain: "yahoo.example"}
}

// TestTimelineFastPathNewKeys: probe and state events and recipient lists go through the
// plain form and read back as yaml/v3 reads them.
func TestTimelineFastPathNewKeys(t *testing.T) {
	c := &Case{Schema: SchemaVersion, ID: "p", Status: StatusOpen, Role: Sender, Provider: "proofpoint", Created: t0, Updated: t0}
	c.Timeline = []Event{
		{Kind: KindFailure, At: t0, Last: t0.Add(time.Hour), Added: t0.Add(2 * time.Hour), Attempts: 4, Messages: 2,
			Recipients: []string{"a@x.example", "b@x.example"}, Reply: "554 Blocked", Mode: triage.HardBlock},
		{Kind: KindProbe, At: t0.Add(3 * time.Hour), FromIP: "127.0.0.2", MX: "mx.x.example", Stage: "rcpt", Reply: "250 2.1.5 Ok"},
		{Kind: KindState, At: t0.Add(4 * time.Hour), What: "block", From: "refused", To: "lifted"},
		{Kind: KindFailure, Recipients: []string{"odd, one@x.example"}},
	}
	data, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "    recipients: [a@x.example, b@x.example]\n") || !strings.Contains(string(data), "    stage: rcpt\n") {
		t.Errorf("not in the plain form:\n%s", data)
	}
	back, err := Parse("p.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if !sameTimeline(back.Timeline, c.Timeline) || !sameTimeline(back.Timeline, fullDecode(t, data).Timeline) {
		t.Errorf("read back differently:\n%+v\n%+v", back.Timeline, c.Timeline)
	}
}

// TestSameEventSeesEveryField: the comparison that decides whether a save changed the
// timeline tells apart two events differing in any one field, as reflect.DeepEqual does
// (a field added to Event and not to sameEvent fails here).
func TestSameEventSeesEveryField(t *testing.T) {
	typ := reflect.TypeFor[Event]()
	for i := range typ.NumField() {
		var a, b Event
		va, vb := reflect.ValueOf(&a).Elem().Field(i), reflect.ValueOf(&b).Elem().Field(i)
		switch f := typ.Field(i); {
		case f.Type == reflect.TypeFor[time.Time]():
			va.Set(reflect.ValueOf(t0))
			vb.Set(reflect.ValueOf(t0.Add(time.Second)))
		case f.Type.Kind() == reflect.String:
			va.SetString("x")
			vb.SetString("y")
		case f.Type.Kind() == reflect.Int:
			va.SetInt(1)
			vb.SetInt(2)
		case f.Type.Kind() == reflect.Slice:
			va.Set(reflect.ValueOf([]string{"a@example.com"}))
			vb.Set(reflect.ValueOf([]string{}))
		case f.Type.Kind() == reflect.Pointer:
			va.Set(reflect.New(f.Type.Elem()))
		default:
			t.Fatalf("field %s of kind %s: teach this test (and sameEvent) about it", f.Name, f.Type.Kind())
		}
		if sameEvent(&a, &b) || sameEvent(&b, &a) {
			t.Errorf("events differing in %s compare the same", typ.Field(i).Name)
		}
		if c := a; !sameEvent(&a, &c) {
			t.Errorf("an event with only %s set differs from its copy", typ.Field(i).Name)
		}
	}
	// Empty and missing recipients differ, as they do to reflect.DeepEqual.
	if sameEvent(&Event{Recipients: []string{}}, &Event{}) != reflect.DeepEqual(Event{Recipients: []string{}}, Event{}) {
		t.Error("empty and missing recipients: sameEvent and reflect.DeepEqual disagree")
	}
}

// TestSaveTellsAChange: whatever form a timeline was read in (as Marshal writes it, or
// edited by hand, schema 1, with text that loading sanitizes), saving it unchanged keeps
// its updated time, and changing one event in place, one field of the head, or adding an
// event changes it. A save decides by comparing bytes when the file is in Marshal's form
// and by comparing content otherwise; each form here goes one of the two ways.
func TestSaveTellsAChange(t *testing.T) {
	head := "schema: 2\nid: x\nstatus: open\ncreated: 2026-11-20T09:00:00Z\nupdated: 2026-11-20T09:00:00Z\nrole: sender\nprovider: proofpoint\ntimeline:\n"
	plain := "  - kind: failure\n    at: 2026-11-20T08:00:00Z\n    attempts: 2\n    reply: 554 Blocked\n    mode: hard-block\n"
	second := "  - kind: delivery\n    at: 2026-11-20T08:30:00Z\n    mode: delivered\n"
	forms := map[string]struct {
		file  string
		exact bool // in Marshal's form: the bytes decide
	}{
		"as written":            {head + plain + second, true},
		"keys out of order":     {head + "  - at: 2026-11-20T08:00:00Z\n    kind: failure\n    attempts: 2\n    reply: 554 Blocked\n    mode: hard-block\n" + second, false},
		"a zero count":          {head + plain + "    messages: 0\n" + second, false},
		"a fraction of second":  {head + strings.Replace(plain, "08:00:00Z", "08:00:00.5Z", 1) + second, true},
		"a fraction with zeros": {head + strings.Replace(plain, "08:00:00Z", "08:00:00.500Z", 1) + second, false},
		"a reply with a colon":  {head + strings.Replace(plain, "554 Blocked", "'said: 554 Blocked, it''s policy'", 1) + second, true},
		"a quoted reply":        {head + strings.Replace(plain, "554 Blocked", `"554 Blocked"`, 1) + second, false},
		"no kind":               {head + strings.Replace(plain, "  - kind: failure\n    at:", "  - at:", 1) + second, false},
		"schema 1":              {strings.Replace(head, "schema: 2", "schema: 1", 1) + strings.Replace(plain, "    attempts: 2\n", "    count: 2\n", 1) + second, false},
		"an escape sequence":    {head + strings.Replace(plain, "554 Blocked", `"554 Blocked\e[2J"`, 1) + second, false},
		"a blank line":          {head + plain + "\n" + second, false},
		"a comment in the head": {strings.Replace(head, "role: sender\n", "role: sender # me\n", 1) + plain + second, false},
	}
	changes := map[string]func(*Case){
		"nothing":          func(*Case) {},
		"an event's count": func(c *Case) { c.Timeline[0].Attempts++ },
		"an event's reply": func(c *Case) { c.Timeline[0].Reply = "554 Blocked by policy" },
		"the title":        func(c *Case) { c.Title = "PDR" },
		"an event added": func(c *Case) {
			c.Timeline = append(c.Timeline, Event{Kind: KindFailure, At: t0, Reply: "550 no"})
		},
	}
	later := t0.Add(24 * time.Hour)
	for name, form := range forms {
		for what, change := range changes {
			s := testStore(t)
			s.Now = func() time.Time { return later }
			if err := os.MkdirAll(s.Dir(), 0o700); err != nil {
				t.Fatal(err)
			}
			path := s.PathOf("x")
			if err := os.WriteFile(path, []byte(form.file), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := s.Load(path)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if c.saved.exact != form.exact {
				t.Errorf("%s: read as exact=%v, want %v", name, c.saved.exact, form.exact)
			}
			change(c)
			if err := s.Save(c); err != nil {
				t.Fatalf("%s, %s changed: %v", name, what, err)
			}
			want := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
			if what != "nothing" {
				want = later
			}
			if !c.Updated.Equal(want) {
				t.Errorf("%s, %s changed: updated %v, want %v", name, what, c.Updated, want)
			}
			// What was saved reads back as the case, and saves again as the same bytes.
			saved, _ := os.ReadFile(path)
			again, err := s.Load(path)
			if err != nil {
				t.Fatalf("%s, %s changed: reading the saved file: %v\n%s", name, what, err, saved)
			}
			if !again.saved.exact || !sameContent(again, c) || !again.Updated.Equal(c.Updated) {
				t.Errorf("%s, %s changed: saved as\n%s", name, what, saved)
			}
		}
	}
}

// TestMessageCountedOnce: a message tried again under another reply, at another host or
// on another day is one message however many events its attempts fall into, so the
// failures a case reports are messages, not attempts.
func TestMessageCountedOnce(t *testing.T) {
	c := &Case{Role: Sender, Provider: "proofpoint"}
	c.Identifiers.IPs = []string{"192.0.2.1"}
	day := time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC)
	deferred := func(i int, at time.Time, q string) triage.Finding {
		f := logFinding(i, at, q)
		f.Mode, f.ReplyCode, f.EnhancedCode = triage.Deferral, 421, ""
		f.Text = "421 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.1"
		return f
	}
	fs := []triage.Finding{
		deferred(1, day, "Q1"),
		deferred(2, day.Add(time.Minute), "Q2"),
		deferred(3, day.Add(30*time.Minute), "Q1"),             // Q1 again, same day
		deferred(4, day.Add(25*time.Hour), "Q1"),               // Q1 again the next day
		logFinding(5, day.Add(26*time.Hour), "Q1"),             // Q1 finally refused with 550
		logFinding(6, day.Add(26*time.Hour+time.Minute), "Q3"), // a new message refused
	}
	c.Add(fs, t0)
	if got := c.Seen().Failures; got != 3 {
		t.Errorf("%d messages failed, want 3 (Q1, Q2, Q3)", got)
	}
	attempts := 0
	for _, e := range c.Timeline {
		attempts += e.AttemptCount()
	}
	if attempts != 6 {
		t.Errorf("%d attempts, want 6", attempts)
	}
	// And so it reads back from the file.
	c.Schema, c.ID, c.Status, c.Created, c.Updated = SchemaVersion, "m", StatusOpen, t0, t0
	data, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("m.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Seen().Failures; got != 3 {
		t.Errorf("read back: %d messages, want 3\n%s", got, data)
	}
}

// TestAddKeepsOnlyTheCasesFailures: a Proofpoint case takes a failure no provider owns
// only when it came from its receivers (a Proofpoint host, one of its recipient domains),
// never mail the log's server received nor a complaint; a shared pool's case keeps its
// provider and takes every refusal of its IP, whoever refused it.
func TestAddKeepsOnlyTheCasesFailures(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ip := "203.0.113.45"
	f := func(provider, control, rcptDomain, receiver string, mode triage.Mode, inbound bool) triage.Finding {
		return triage.Finding{Source: "log:" + rcptDomain + control, Mode: mode, Cause: triage.IPReputation, Provider: provider, Control: control,
			SendingIP: ip, RecipientDomain: rcptDomain, Recipient: "a@" + rcptDomain, Receiver: receiver, At: at, Text: control + " " + rcptDomain, Inbound: inbound}
	}
	pdr := f("proofpoint", "dynamic-reputation", "customer.example", "mx0a-1.pphosted.com", triage.HardBlock, false)
	pdr.IP = ip
	timeoutOther := f("unknown", "", "slow.example", "mx.slow.example", triage.Deferral, false)
	timeoutOwn := f("unknown", "", "customer.example", "mx0a-1.pphosted.com", triage.Deferral, false)
	local := f("unknown", "mailbox-full", "example.com", "", triage.HardBlock, true)
	complaint := f("unknown", "feedback-loop", "customer.example", "", triage.Complaint, false)
	yahoo := f("yahoo", "volume-complaints", "yahoo.com", "mta5.am0.yahoodns.net", triage.Deferral, false)

	c := &Case{Role: Sender, Provider: "proofpoint", Identifiers: Identifiers{IPs: []string{ip}, RecipientDomains: []string{"customer.example"}}}
	c.Add([]triage.Finding{pdr, timeoutOther, timeoutOwn, local, complaint, yahoo}, at)
	var kept []string
	for _, e := range c.Failures() {
		kept = append(kept, e.Reply)
	}
	if len(kept) != 2 || !slices.Contains(kept, pdr.Text) || !slices.Contains(kept, timeoutOwn.Text) {
		t.Errorf("the Proofpoint case kept %q", kept)
	}

	esp := &Case{Role: Sender, Provider: "esp:sendgrid", Identifiers: Identifiers{IPs: []string{ip}}}
	esp.Add([]triage.Finding{yahoo, pdr, complaint, local}, at)
	if esp.Provider != "esp:sendgrid" || len(esp.Failures()) != 2 {
		t.Errorf("the pool's case: provider %s, %d failures (want esp:sendgrid, the Yahoo and Proofpoint refusals)", esp.Provider, len(esp.Failures()))
	}
}

// TestLeftOutPoolNamesTheESP: failures of an ESP pool's IP left out of another case are
// offered their own case as the ESP's (esp:NAME), not as the receiver's.
func TestLeftOutPoolNamesTheESP(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	esp, ok := triage.ESPNamed("sendgrid")
	if !ok {
		t.Fatal("no SendGrid in the knowledge")
	}
	f := triage.Finding{Source: "events:1", Mode: triage.HardBlock, Cause: triage.IPReputation, Provider: "proofpoint", Control: "dynamic-reputation",
		IP: "167.89.50.20", SendingIP: "167.89.50.20", At: at, Text: "554 5.7.0 Blocked", Route: triage.ESPRoute(esp)}
	c := &Case{Role: Sender, Provider: "proofpoint", Identifiers: Identifiers{IPs: []string{"203.0.113.45"}}}
	added := c.Add([]triage.Finding{f}, at)
	if len(added.Left) != 1 || added.Left[0].Start != "unblock new --provider esp:sendgrid --ip 167.89.50.20" {
		t.Errorf("left out: %+v", added.Left)
	}
}
