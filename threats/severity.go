package threats

import (
	"slices"
	"strings"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/model"
)

// SensitiveData are the data classes that raise a finding's impact.
var SensitiveData = []string{"pii", "payment", "financial", "credentials", "phi", "secret"}

// rate sets a finding's likelihood, impact and severity: the rule's base
// levels, raised one step each by context, as DESIGN.md describes.
//   - an entry point (reached directly from the internet, or behind an
//     exposed gateway) or a flow from the internet: likelihood +1. Deeper
//     elements are reachable too, but only through other services, which
//     is the normal shape of a system and would raise everything.
//   - a flow crossing a trust boundary: likelihood +1 (once with the above)
//   - touching sensitive data: impact +1; the reason says when only
//     element names suggest the data (guessed), so a reviewer confirms it
//
// Severity is likelihood × impact: 12 and above critical, 6 and above high,
// 3 and above medium, below that low.
func rate(f *Finding, r *catalog.Rule, entry bool, edge *model.Edge, data, guessed []string) {
	l, i := r.Likelihood.Score(), r.Impact.Score()
	switch {
	case entry:
		l++
		f.Raised = append(f.Raised, "directly reachable from the internet")
	case edge != nil && len(edge.Crosses) > 0:
		l++
		f.Raised = append(f.Raised, "crosses a trust boundary ("+strings.Join(edge.Crosses, ", ")+")")
	}
	var sensitive []string
	onlyGuessed := true
	for _, d := range data {
		if slices.Contains(SensitiveData, d) {
			sensitive = append(sensitive, d)
			onlyGuessed = onlyGuessed && slices.Contains(guessed, d)
		}
	}
	if len(sensitive) > 0 {
		i++
		reason := "touches " + strings.Join(sensitive, ", ") + " data"
		if onlyGuessed {
			reason += " (guessed from element names; declare " + model.DataAnnotation + " to confirm)"
		}
		f.Raised = append(f.Raised, reason)
	}
	f.Likelihood, f.Impact = l, i
	switch score := l * i; {
	case score >= 12:
		f.Severity = Critical
	case score >= 6:
		f.Severity = High
	case score >= 3:
		f.Severity = Medium
	default:
		f.Severity = Low
	}
}
