package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stridemap/stridemap/threats"
)

// TestTopBySeverity checks the summary's top findings against a full sort:
// for random findings and sizes, the same findings in the same order.
func TestTopBySeverity(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for round := range 300 {
		findings := make([]threats.Finding, rng.IntN(40))
		for i := range findings {
			findings[i] = threats.Finding{ID: fmt.Sprintf("rule%d@e%d", rng.IntN(9), i), Severity: threats.Severities[rng.IntN(len(threats.Severities))]}
		}
		n := rng.IntN(8)
		sorted := slices.Clone(findings)
		sortBySeverity(sorted)
		want := sorted[:min(n, len(sorted))]
		got := topBySeverity(findings, n)
		ids := func(fs []threats.Finding) []string {
			var out []string
			for _, f := range fs {
				out = append(out, string(f.Severity)+" "+f.ID)
			}
			return out
		}
		if !slices.Equal(ids(got), ids(want)) {
			t.Fatalf("round %d, top %d: got %v, a full sort gives %v", round, n, ids(got), ids(want))
		}
	}
}
