package dnsbl

import (
	"testing"
)

func FuzzParseZones(f *testing.F) {
	f.Add(string(zonesYAML))
	f.Add("zones: [{zone: x.example, kind: ip, weight: 1}]")
	f.Add("zones: [{zone: x.example, kind: domain, weight: 2, bits: {8: {meaning: a}}}]")
	f.Fuzz(func(t *testing.T, data string) {
		zs, err := ParseZones([]byte(data))
		if err != nil {
			return
		}
		for _, z := range zs {
			if z.Zone == "" || z.Weight < 1 || (z.Kind != KindIP && z.Kind != KindDomain) {
				t.Errorf("accepted a zone without what a lookup needs: %+v", z)
			}
		}
	})
}
