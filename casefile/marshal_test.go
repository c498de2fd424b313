package casefile

import (
	"bytes"
	"testing"
)

// TestMarshalMatchesYAML: the chunked timeline encoding gives the bytes yaml/v3 gives for
// the whole document, including multi-line replies.
func TestMarshalMatchesYAML(t *testing.T) {
	c := bigCase(200)
	c.ID, c.Schema, c.Status, c.Created, c.Updated = "x", 1, StatusOpen, t0, t0
	c.Timeline[3].Reply = "550-5.7.26 first line\n550 5.7.26 second: line\n\nafter a blank"
	c.Timeline[5].Reply = "quoted: \"yes\" # not a comment"
	got, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := encodeYAML(&want, c); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("chunked encoding differs from yaml/v3's:\n%s\n----\n%s", got[:2000], want.Bytes()[:2000])
	}
	back, err := Parse("x.yaml", got)
	if err != nil {
		t.Fatal(err)
	}
	if back.Timeline[3].Reply != c.Timeline[3].Reply || len(back.Timeline) != 200 {
		t.Fatalf("round trip lost the timeline: %q", back.Timeline[3].Reply)
	}
}
