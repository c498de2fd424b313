package casefile

import (
	"strings"
	"testing"

	"github.com/unblock-mail/unblock/checks/dnsbl"
)

// TestBlocklistsCountedApart: a record written before domain lists were recorded apart
// (no domain_lists, unread without subject) is still split by the catalog of lists.
func TestBlocklistsCountedApart(t *testing.T) {
	var ip, domain []dnsbl.Zone
	for _, z := range dnsbl.Zones() {
		if z.Kind == dnsbl.KindIP {
			ip = append(ip, z)
		} else {
			domain = append(domain, z)
		}
	}
	if len(ip) < 3 || len(domain) < 2 {
		t.Fatalf("catalog has %d IP and %d domain lists", len(ip), len(domain))
	}
	b := AuthCheck{ID: "dnsbl", Status: "warn", IP: "192.0.2.1", Domain: "example.com",
		NotListed: []string{ip[0].Zone, ip[1].Zone, domain[0].Zone},
		Unread:    []Unread{{List: ip[2].Name, Why: "timeout"}, {List: domain[1].Name, Why: "refused"}}}
	got := blocklistText(b)
	want := "Blocklists: 192.0.2.1 not listed on 2 of 3 IP lists (1 could not be read: " + ip[2].Name + " (timeout)); " +
		"example.com not listed on 1 of 2 domain lists (1 could not be read: " + domain[1].Name + " (refused))"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Only IP lists answered: the domain is not mentioned.
	b.NotListed, b.Unread = []string{ip[0].Zone}, nil
	if got := blocklistText(b); got != "Blocklists: 192.0.2.1 not listed on 1 IP list" || strings.Contains(got, "example.com") {
		t.Errorf("one IP list: %q", got)
	}
}
