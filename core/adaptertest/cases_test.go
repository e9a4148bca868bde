package adaptertest

import (
	"testing"

	"github.com/authgate/authgate/core/authtest"
)

// TestEveryCaseNamesItsSource keeps the conformance table auditable: every
// case names the rule, advisory or document it comes from, names are unique
// (the core attack table points at them), and every variant exists.
func TestEveryCaseNamesItsSource(t *testing.T) {
	seen := map[string]bool{}
	perSource := map[string]int{}
	for _, c := range cases() {
		if c.source == "" {
			t.Errorf("case %q names no source", c.name)
		}
		if seen[c.name] {
			t.Errorf("two cases are named %q", c.name)
		}
		seen[c.name] = true
		if _, ok := variants[c.variant]; c.variant != "" && !ok {
			t.Errorf("case %q names the unknown variant %q", c.name, c.variant)
		}
		if id := catalogID(c.name); id != "" && catalogSource[id] == "" {
			t.Errorf("case %q starts with the catalog id %q, which catalogSource lacks", c.name, id)
		}
		perSource[c.source]++
	}
	for s, n := range perSource {
		t.Logf("%-55s %d", s, n)
	}
}

// TestEveryDPoPCaseNamesItsSource: the same for the sender-constrained
// table, whose sources must be the RFCs (9449, 8705, 9440, ...).
func TestEveryDPoPCaseNamesItsSource(t *testing.T) {
	f := newDPoPFixture(authtest.New(t))
	seen := map[string]bool{}
	for _, c := range dpopCases(f) {
		if len(c.source) < 8 || c.source[:4] != "RFC " {
			t.Errorf("case %q names no RFC section: %q", c.name, c.source)
		}
		if seen[c.name] {
			t.Errorf("two cases are named %q", c.name)
		}
		seen[c.name] = true
		if _, ok := dpopVariants[c.variant]; !ok {
			t.Errorf("case %q names the unknown variant %q", c.name, c.variant)
		}
	}
	if len(seen) < 40 {
		t.Errorf("the DPoP table has %d cases, want at least 40", len(seen))
	}
}
