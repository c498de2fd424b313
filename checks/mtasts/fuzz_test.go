package mtasts

import (
	"strings"
	"testing"

	"github.com/unblock-mail/unblock/sanitize"
)

func FuzzParsePolicy(f *testing.F) {
	f.Add(goodPolicy)
	f.Add("version: STSv1\nmode: none\nmax_age: 86400\n")
	f.Add("version: STSv1\nmode: testing\nmx: *.example.net\nmax_age: 0\n")
	f.Add("version:STSv1\r\nmode:enforce\r\nmx:\x1b[31m\r\nmax_age:1")
	f.Fuzz(func(t *testing.T, text string) {
		p, err := ParsePolicy(text)
		if err != nil {
			if sanitize.Line(err.Error()) != err.Error() {
				t.Errorf("error carries raw control characters: %q", err)
			}
			return
		}
		// A parsed policy prints back to a policy that parses to the same thing.
		q, err := ParsePolicy(p.String())
		if err != nil || q.Mode != p.Mode || q.MaxAge != p.MaxAge || len(q.MX) != len(p.MX) {
			t.Errorf("round trip of %q: %+v %v", text, q, err)
		}
		for _, mx := range p.MX {
			if !strings.HasPrefix(mx, "*.") && mx != "" && !p.Matches(mx) {
				t.Errorf("policy does not match its own mx %q", mx)
			}
		}
	})
}

func FuzzParseRecords(f *testing.F) {
	f.Add("v=STSv1; id=20240101;")
	f.Add("v=TLSRPTv1; rua=mailto:a@example.com")
	f.Add("v=STSv1;id=;;")
	f.Fuzz(func(t *testing.T, txt string) {
		if r, err := ParseRecord(txt); err == nil {
			if back, err := ParseRecord(r.String()); err != nil || back != r {
				t.Errorf("record round trip of %q: %+v %v", txt, back, err)
			}
		}
		if r, err := ParseTLSRPT(txt); err == nil && (r.Version != "TLSRPTv1" || len(r.RUA) == 0) {
			t.Errorf("accepted %q as %+v", txt, r)
		}
	})
}
