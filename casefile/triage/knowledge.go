package triage

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// The field's knowledge, as data (PROVIDERS.md): desks, who operates which hosts, each
// provider's replies (rules.go) and the status-code registry. It is written in YAML under
// knowledge/ and compiled into knowledge_gen.go, so that no program decodes YAML to start:
// after changing a file there, run
//
//	go test ./casefile/triage -run TestKnowledgeGenerated -update
//
// and the test fails until knowledge_gen.go says what the YAML says.

// Desk is a support desk a case can go to.
type Desk struct {
	Kind         string        `yaml:"kind"`     // the route kind
	Name         string        `yaml:"name"`     // for people: "Proofpoint IP check and delisting request"
	Provider     string        `yaml:"provider"` // owner of the desk; "unknown" for non-desks
	Contact      string        `yaml:"contact"`
	URL          string        `yaml:"url"`           // may hold {ip}
	Message      string        `yaml:"message"`       // message kind written for it; "none" if no message
	Audience     string        `yaml:"audience"`      // customer, sender or any
	ResponseTime time.Duration `yaml:"response"`      // as published; 0 when nobody answers
	BusinessDays bool          `yaml:"business_days"` // the response time counts Monday to Friday only
	Basis        string        `yaml:"basis"`         // where the response time comes from
	Asks         []string      `yaml:"asks"`
	Notes        string        `yaml:"notes"`
}

// Filter is a mail filtering provider recognised by host name.
type Filter struct {
	Provider string   `yaml:"provider"`
	Product  string   `yaml:"product"`
	Suffixes []string `yaml:"suffixes"`
}

// ESP is an email service provider whose shared pools are recognised by host name.
type ESP struct {
	Name     string   `yaml:"name"` // "sendgrid": the provider value is "esp:sendgrid"
	Product  string   `yaml:"product"`
	Suffixes []string `yaml:"suffixes"`
	Support  string   `yaml:"support"`
}

var (
	desks   []Desk
	deskBy  = map[string]int{}
	filters []Filter
	esps    []ESP
)

func init() {
	if err := loadKnowledge(); err != nil {
		panic(err) // the embedded data is part of the program; its tests catch this
	}
}

func loadKnowledge() error {
	k := knowledgeData()
	desks = k.desks
	for i, d := range desks {
		if _, dup := deskBy[d.Kind]; dup {
			return fmt.Errorf("knowledge/desks.yaml: desk %q twice", d.Kind)
		}
		deskBy[d.Kind] = i
	}
	filters, esps = k.hosts.Filters, k.hosts.ESPs
	return nil
}

// knowledge is the YAML of knowledge/, as knowledge_gen.go holds it.
type knowledge struct {
	desks []Desk
	hosts hostsFile
	// tables are the files of knowledge/providers, by name, in tableFiles.
	tables     []ProviderTable
	tableFiles []string
	registry   []StatusMeaning
}

// hostsFile is knowledge/hosts.yaml.
type hostsFile struct {
	Filters []Filter `yaml:"filters"`
	ESPs    []ESP    `yaml:"esps"`
}

// Desks returns every desk, in the order of the data.
func Desks() []Desk { return append([]Desk(nil), desks...) }

// DeskFor returns the desk of a route kind.
func DeskFor(kind string) (Desk, bool) {
	i, ok := deskBy[kind]
	if !ok {
		return Desk{}, false
	}
	return desks[i], true
}

// RouteFor returns the route of a kind with the IP filled into its URL. An unknown kind
// comes back as given, with nothing else filled in.
func RouteFor(kind, ip string) Route {
	d, ok := DeskFor(kind)
	if !ok {
		return Route{Kind: kind}
	}
	return Route{Kind: kind, Contact: d.Contact, URL: fillIP(d.URL, ip), Asks: append([]string(nil), d.Asks...)}
}

func fillIP(url, ip string) string {
	if !strings.Contains(url, "{ip}") {
		return url
	}
	if _, err := netip.ParseAddr(ip); err != nil {
		// Without a valid IP the page is still the right one, just not pre-filled.
		url = strings.Replace(url, "?ip={ip}", "", 1)
		url = strings.Replace(url, "?search={ip}", "", 1)
		return strings.ReplaceAll(url, "{ip}", "")
	}
	return strings.ReplaceAll(url, "{ip}", ip)
}

// FilterForHost names the filtering provider operating host (an MX or a host in a
// reply), matching whole labels at the end of the name.
func FilterForHost(host string) (Filter, bool) {
	for _, f := range filters {
		if hasSuffix(host, f.Suffixes) {
			return f, true
		}
	}
	return Filter{}, false
}

// ESPForHost names the email service provider whose pool host (a PTR name, an envelope
// or DKIM domain) belongs to.
func ESPForHost(host string) (ESP, bool) {
	for _, e := range esps {
		if hasSuffix(host, e.Suffixes) {
			return e, true
		}
	}
	return ESP{}, false
}

// ESPNamed is the email service provider of a provider value's name ("sendgrid" of
// "esp:sendgrid").
func ESPNamed(name string) (ESP, bool) {
	for _, e := range esps {
		if e.Name == name {
			return e, true
		}
	}
	return ESP{}, false
}

// ESPOfRoute names the ESP a route to esp-support goes to (its support URL), if known.
func ESPOfRoute(r Route) (ESP, bool) {
	if r.Kind != "esp-support" || r.URL == "" {
		return ESP{}, false
	}
	for _, e := range esps {
		if e.Support == r.URL {
			return e, true
		}
	}
	return ESP{}, false
}

// ESPRoute is the route for a case whose IP is in an ESP's pool: the ESP's support.
func ESPRoute(e ESP) Route {
	r := RouteFor("esp-support", "")
	r.URL = e.Support
	return r
}

func hasSuffix(host string, suffixes []string) bool {
	host = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(host), "."))
	for _, s := range suffixes {
		if host == s || strings.HasSuffix(host, "."+s) {
			return true
		}
	}
	return false
}
