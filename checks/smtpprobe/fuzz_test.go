package smtpprobe

import (
	"testing"

	"github.com/unblock-mail/unblock/sanitize"
)

func FuzzParseTranscript(f *testing.F) {
	f.Add("220 mx.example ESMTP\r\n250-mx.example\r\n250-STARTTLS\r\n250 SIZE 1000\r\n")
	f.Add("554 5.7.1 go away\r\n")
	f.Add("220-a\r\n220 b\x1b[2J\r\n250 x\r\n")
	f.Add("2")
	f.Fuzz(func(t *testing.T, s string) {
		tr := parseTranscript(s)
		if sanitize.Line(tr.banner) != tr.banner {
			t.Errorf("raw banner %q", tr.banner)
		}
		for _, e := range tr.extensions {
			if sanitize.Line(e) != e {
				t.Errorf("raw extension %q", e)
			}
		}
		if tr.starttls && !tr.ehloDone {
			t.Errorf("STARTTLS seen without a whole EHLO reply: %q", s)
		}
	})
}
