package triage

import (
	"strings"
	"testing"
)

// Every route kind of DESIGN.md's value table has a desk.
func TestEveryRouteKindHasADesk(t *testing.T) {
	for _, kind := range strings.Fields(`proofpoint-ipcheck proofpoint-postmaster proofpoint-support
		proofpoint-essentials cloudmark-reset microsoft-delist microsoft-delist-mail outlook-support
		yahoo-sender-support apple-postmaster spamhaus barracuda-removal talos recipient-admin
		esp-support fix-authentication fix-recipient wait none`) {
		d, ok := DeskFor(kind)
		if !ok {
			t.Errorf("no desk for route kind %q", kind)
			continue
		}
		if d.Name == "" || d.Message == "" || d.Basis == "" {
			t.Errorf("desk %q lacks a name, message kind or basis: %+v", kind, d)
		}
		// The recipient's admin and the ESP's desk are known only from the case.
		personal := kind == "recipient-admin" || kind == "esp-support"
		if d.Message != "none" && d.Contact == "" && d.URL == "" && !personal {
			t.Errorf("desk %q writes a %q message but has neither contact nor URL", kind, d.Message)
		}
	}
}

func TestRouteFor(t *testing.T) {
	r := RouteFor("proofpoint-ipcheck", "192.0.2.25")
	if r.URL != "https://ipcheck.proofpoint.com/?ip=192.0.2.25" || len(r.Asks) == 0 {
		t.Errorf("ipcheck route = %+v", r)
	}
	if r := RouteFor("proofpoint-ipcheck", ""); r.URL != "https://ipcheck.proofpoint.com/" {
		t.Errorf("ipcheck route without IP = %q", r.URL)
	}
	if r := RouteFor("proofpoint-ipcheck", "not-an-ip\x1b[2J"); strings.Contains(r.URL, "\x1b") || strings.Contains(r.URL, "{ip}") {
		t.Errorf("a bad IP leaked into the URL: %q", r.URL)
	}
	if r := RouteFor("proofpoint-postmaster", "192.0.2.25"); r.Contact != "postmaster@proofpoint.com" {
		t.Errorf("postmaster route = %+v", r)
	}
	if r := RouteFor("no-such-desk", "192.0.2.25"); r.Kind != "no-such-desk" || r.URL != "" {
		t.Errorf("unknown route = %+v", r)
	}
}

func TestHosts(t *testing.T) {
	for host, want := range map[string]string{
		"mx0a-00069f02.pphosted.com":              "proofpoint",
		"mxa-00178001.gslb.pphosted.com.":         "proofpoint",
		"mx1-us1.ppe-hosted.com":                  "proofpoint",
		"Example-COM.mail.protection.outlook.com": "microsoft",
		"aspmx.l.google.com":                      "google",
		"mx01.mail.icloud.com":                    "apple",
		"eu-smtp-inbound-1.mimecast.com":          "mimecast",
		"d123456a.ess.barracudanetworks.com":      "barracuda",
		"mx1.hc1234-56.iphmx.com":                 "cisco",
		"mx-01-eu-west-1.prod.hydra.sophos.com":   "sophos",
		"mta5.am0.yahoodns.net":                   "yahoo",
		"cluster1.eu.messagelabs.com":             "symantec",
	} {
		f, ok := FilterForHost(host)
		if !ok || f.Provider != want {
			t.Errorf("FilterForHost(%q) = %+v, %v; want %s", host, f, ok, want)
		}
	}
	for _, host := range []string{"evilpphosted.com", "pphosted.com.evil.example", "mail.example.com", ""} {
		if f, ok := FilterForHost(host); ok {
			t.Errorf("FilterForHost(%q) = %+v, want none", host, f)
		}
	}
	for host, want := range map[string]string{
		"o1.ptr1234.sendgrid.net": "sendgrid", "a8-30.smtp-out.amazonses.com": "ses",
		"mail176.sea51.mcsv.net": "mailchimp", "m42-12.mailgun.net": "mailgun",
		"mta12.mtasv.net": "postmark", "bounce.brevo.com": "brevo",
	} {
		e, ok := ESPForHost(host)
		if !ok || e.Name != want {
			t.Errorf("ESPForHost(%q) = %+v; want %s", host, e, want)
		}
	}
	if _, ok := ESPForHost("notsendgrid.net"); ok {
		t.Error("notsendgrid.net taken for SendGrid")
	}
}
