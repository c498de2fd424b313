package casefile

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/unblock-mail/unblock/sanitize"
)

// fullDecode reads a case file wholly through yaml/v3: what the plain-form timeline
// reader must agree with.
func fullDecode(t testing.TB, data []byte) *Case {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	c := new(Case)
	if err := dec.Decode(c); err != nil {
		t.Fatalf("yaml/v3: %v\n%s", err, data)
	}
	for i := range c.Timeline {
		c.Timeline[i].upgrade()
	}
	return c
}

func sameTimeline(a, b []Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if !x.At.Equal(y.At) {
			return false
		}
		x.At, y.At = time.Time{}, time.Time{}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// tricky are values the plain form must not write plain (or must write so they read back).
var tricky = []string{
	"550-5.7.26 first line\n550 5.7.26 second: line\n\nafter a blank",
	"quoted: \"yes\" # not a comment", "- starts like a list", "ends with a colon:", "true", "null", "~", "",
	" leading space", "trailing space ", "550", "5.7.0", "1e3", "0x1F", "2026-11-22", "#hash", "a # b", "tab\there",
	"ok: no", "'single'", "[flow]", "{map}", "*alias", "&anchor", "!tag", "%dir", "@at", "`tick", "|pipe", ">fold",
	"?q", ",comma", "ünïcödé ✓", "control ␛[31m pictured", "2001:db8::1", "http://x.example/?a=b#frag",
}

// TestRepliesWithAColon: replies as logs quote them ("said: 550 …") are written
// single-quoted by the plain form exactly as yaml/v3 writes them, and read back on the
// plain path as the bytes they were (a save compares bytes).
func TestRepliesWithAColon(t *testing.T) {
	replies := []string{
		"host mx.example[192.0.2.9] said: 550 5.7.1 <a@b.example>: Recipient address rejected",
		"it's said: 554 'blocked'", "colon at the end: ", "said: x #tag", "ünï: cödé", "a:  two spaces",
		"550 5.7.1 see https://x.example/?a=b #frag",
	}
	c := bigCase(len(replies))
	c.ID, c.Schema, c.Status, c.Created, c.Updated = "x", SchemaVersion, StatusOpen, t0, t0
	for i, r := range replies {
		c.Timeline[i].Reply = r
	}
	got := sameAsYAML(t, c)
	if n := bytes.Count(got, []byte("    reply: '")); n != len(replies) {
		t.Errorf("%d replies single-quoted, want %d:\n%s", n, len(replies), got)
	}
	back, err := Parse("x.yaml", got)
	if err != nil {
		t.Fatal(err)
	}
	if !back.saved.exact || !sameTimeline(back.Timeline, c.Timeline) {
		t.Errorf("read back as exact=%v, same timeline=%v", back.saved.exact, sameTimeline(back.Timeline, c.Timeline))
	}
	if full := fullDecode(t, got); !sameTimeline(back.Timeline, full.Timeline) {
		t.Errorf("plain-form reader and yaml/v3 disagree")
	}
}

// TestMarshalReadsBack: whatever the values, the bytes Marshal writes read back the same
// through the plain-form reader and through yaml/v3, and match yaml/v3's own encoding.
func TestMarshalReadsBack(t *testing.T) {
	c := bigCase(len(tricky) + 10)
	c.ID, c.Schema, c.Status, c.Created, c.Updated = "x", 1, StatusOpen, t0, t0
	for i, v := range tricky {
		c.Timeline[i].Reply = v
		c.Timeline[len(tricky)-1-i].Source = v
	}
	c.Timeline[2].RecipientDomain = "null"
	got := sameAsYAML(t, c)
	back, err := Parse("x.yaml", got)
	if err != nil {
		t.Fatal(err)
	}
	if !sameTimeline(back.Timeline, c.Timeline) {
		t.Errorf("round trip changed the timeline")
	}
	if full := fullDecode(t, got); !sameTimeline(back.Timeline, full.Timeline) {
		t.Errorf("plain-form reader and yaml/v3 disagree")
	}
}

// TestHandEditedTimeline: a timeline a person edited (comments, quotes, flow maps, keys
// in another order) reads as yaml/v3 reads it, and errors in it name the file's line.
func TestHandEditedTimeline(t *testing.T) {
	head := "schema: 1\nid: h\nstatus: open\ncreated: 2026-11-22T09:00:00Z\nupdated: 2026-11-22T09:00:00Z\nrole: sender\nprovider: proofpoint\n"
	for _, tl := range []string{
		"timeline:\n  - at: 2026-11-22T08:00:00Z\n    reply: plain\n",
		"timeline:\n  # a comment\n  - at: 2026-11-22T08:00:00Z\n    reply: 'quoted'\n",
		"timeline:\n  - {at: 2026-11-22T08:00:00Z, reply: flow}\n  - reply: second\n    at: 2026-11-22T09:00:00+01:00\n",
		"timeline:\n- at: 2026-11-22T08:00:00Z\n  reply: not indented\n",
		"timeline:\n  - reply: a\n    count: 3\n  - reply: >-\n      folded\n      text\n",
		"timeline:\n  - reply: a # with a comment\n    reply_code: 0550\n",
		"timeline:\n  - at: 2026-11-22 08:00:00\n    reply: space-separated time\n",
	} {
		data := []byte(head + tl)
		c, err := Parse("h.yaml", data)
		if err != nil {
			t.Errorf("%q: %v", tl, err)
			continue
		}
		if full := fullDecode(t, data); !sameTimeline(c.Timeline, full.Timeline) {
			t.Errorf("%q: read %+v, yaml/v3 reads %+v", tl, c.Timeline, full.Timeline)
		}
	}
	for tl, want := range map[string]string{
		"timeline:\n  - at: 2026-11-22T08:00:00Z\n    reply: a\n  - reply: b\n    colour: red\n": `h.yaml:12: unknown field "colour"`,
		"timeline:\n  - reply: a\n  - reply: b\n    reply_code: five\n":                          "h.yaml:11: field reply_code: cannot unmarshal",
		"timeline:\n  - reply: a\n    reply: b\n":                                                `h.yaml:10: field reply: mapping key "reply" already defined at line 9`,
		// Not a flow sequence: one bracket is not two.
		"timeline:\n  - reply: a\n    recipients: a@b.example]\n": "h.yaml:10: field recipients: cannot unmarshal",
	} {
		_, err := Parse("h.yaml", []byte(head+tl))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", tl, err, want)
		}
	}
}

func FuzzTimelineValue(f *testing.F) {
	for _, v := range tricky {
		f.Add(v)
	}
	for _, v := range []string{"\x1b[31mred", "\xad", "\u009b1m", "bell\a", "cr\rlf", "0?"} {
		f.Add(v) // what loading makes visible
	}
	f.Fuzz(func(t *testing.T, v string) {
		c := &Case{Schema: 1, ID: "f", Status: StatusOpen, Role: Sender, Provider: "p", Created: t0, Updated: t0}
		c.Timeline = []Event{{Kind: KindFailure, At: t0, Reply: v, Source: v}, {Kind: KindFailure, Reply: "x", Recipients: []string{v}}}
		data, err := Marshal(c)
		if err != nil {
			return // yaml/v3 refuses some strings (invalid UTF-8); so does the file
		}
		back, err := Parse("f.yaml", data)
		if err != nil {
			t.Fatalf("%q: %v\n%s", v, err, data)
		}
		// Loading sanitizes (a case file is text from outside): what comes back is the value
		// made safe to show, and exactly that.
		want := c.clone()
		sanitizeCase(want)
		if !reflect.DeepEqual(back.Timeline[1], want.Timeline[1]) || back.Timeline[0].Reply != sanitize.Text(v) {
			t.Fatalf("%q read back as %+v", v, back.Timeline)
		}
		full := fullDecode(t, data)
		sanitizeCase(full)
		if !sameTimeline(back.Timeline, full.Timeline) {
			t.Fatalf("%q: plain-form reader and yaml/v3 disagree", v)
		}
	})
}

// TestColonQuotedIsYAMLs: for every short string of the characters that matter, what
// the plain form single-quotes it writes exactly as yaml/v3 does, and reads back.
func TestColonQuotedIsYAMLs(t *testing.T) {
	alphabet := []string{"a", ":", " ", "#", "é", "-", "'"}
	var all []string
	var grow func(s string, n int)
	grow = func(s string, n int) {
		if s != "" {
			all = append(all, s)
		}
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			grow(s+c, n-1)
		}
	}
	grow("", 5)
	quoted := 0
	for _, s := range all {
		if !colonQuoted(s) {
			continue
		}
		quoted++
		var want bytes.Buffer
		if err := encodeYAML(&want, struct {
			Reply string `yaml:"reply"`
		}{s}); err != nil {
			t.Fatal(err)
		}
		if got := "reply: " + string(appendSingleQuoted(nil, s)) + "\n"; got != want.String() {
			t.Errorf("%q: the plain form writes %q, yaml/v3 %q", s, got, want.String())
		}
		if u, ok := singleQuoted(string(appendSingleQuoted(nil, s))); !ok || u != s {
			t.Errorf("%q reads back as %q, %v", s, u, ok)
		}
	}
	if quoted < 100 {
		t.Fatalf("only %d strings single-quoted: the test proves little", quoted)
	}
}

// sameAsYAML fails unless Marshal writes c as yaml/v3 does.
func sameAsYAML(t *testing.T, c *Case) []byte {
	t.Helper()
	got, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := encodeYAML(&want, c); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("Marshal differs from yaml/v3's encoding:\n%s\n----\n%s", got, want.Bytes())
	}
	return got
}
