package model

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestIsHostLabel: isHostLabel accepts exactly what the regular
// expression for a DNS label accepts, on edge cases and on 200,000 random
// strings over an alphabet that reaches every branch.
func TestIsHostLabel(t *testing.T) {
	label := regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	cases := []string{"", "a", "-", "a-", "-a", "a-b", "0", "A", "a_b", "a.b", "é", strings.Repeat("a", 63), strings.Repeat("a", 64),
		"a" + strings.Repeat("-", 61) + "b", "a" + strings.Repeat("-", 62) + "b"}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "az09-A._é"
	for range 200000 {
		b := make([]byte, rng.IntN(70))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		if got, want := isHostLabel(s), label.MatchString(s); got != want {
			t.Fatalf("isHostLabel(%q) = %v, the regular expression says %v", s, got, want)
		}
	}
}
