package threats

import (
	"slices"
	"strings"

	"github.com/stridemap/stridemap/model"
)

// Baseline is an earlier state a scan is judged against, so a pipeline can
// fail on what a change adds rather than on everything a repository
// already had: the findings, the flows in from the internet and the flows
// known to be plaintext.
type Baseline struct {
	// Name says where the baseline came from, for messages: "scan #3",
	// or a report file's path.
	Name        string
	Findings    map[string]Finding // by ID
	EntryPoints map[string]bool    // edge IDs from the internet
	// Plaintext are the edge IDs of plaintext flows; nil when the
	// baseline does not say, and no flow then counts as newly plaintext.
	Plaintext map[string]bool
}

// NewBaseline is the baseline of a scan's graph and findings.
func NewBaseline(name string, g *model.Graph, findings []Finding) *Baseline {
	b := &Baseline{Name: name, Findings: map[string]Finding{}, EntryPoints: map[string]bool{}, Plaintext: map[string]bool{}}
	for _, f := range findings {
		b.Findings[f.ID] = f
	}
	if g != nil {
		for _, e := range g.Edges {
			if e.From == model.InternetID {
				b.EntryPoints[e.ID] = true
			}
			if e.Encryption == model.EncryptionPlaintext {
				b.Plaintext[e.ID] = true
			}
		}
	}
	return b
}

// Baseline states of a finding, as SARIF names them.
const (
	BaselineNew       = "new"
	BaselineUnchanged = "unchanged"
	BaselineAbsent    = "absent"
)

// SinceBaseline is how a scan differs from its baseline.
type SinceBaseline struct {
	// New are findings the baseline did not have; Unchanged those it had.
	New, Unchanged []Finding
	// Fixed are the baseline's findings the scan no longer raises. A
	// finding the scan could not assess (a coverage gap) is neither fixed
	// nor new: it is in NoLongerAssessed.
	Fixed, NoLongerAssessed []Finding
	// NewEntryPoints and NewPlaintext are flows from the internet, and
	// plaintext flows, the baseline did not have.
	NewEntryPoints, NewPlaintext []model.Edge
}

// Compare sets a scan against the baseline. notAssessed are the IDs
// ("RULE@ELEMENT") of the checks the scan's coverage gaps left open.
func (b *Baseline) Compare(g *model.Graph, findings []Finding, notAssessed []string) SinceBaseline {
	var s SinceBaseline
	current := map[string]bool{}
	for _, f := range findings {
		current[f.ID] = true
		if _, ok := b.Findings[f.ID]; ok {
			s.Unchanged = append(s.Unchanged, f)
		} else {
			s.New = append(s.New, f)
		}
	}
	for _, f := range b.Findings {
		switch {
		case current[f.ID]:
		case slices.Contains(notAssessed, f.ID):
			s.NoLongerAssessed = append(s.NoLongerAssessed, f)
		default:
			s.Fixed = append(s.Fixed, f)
		}
	}
	byID := func(a, b Finding) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(s.Fixed, byID)
	slices.SortFunc(s.NoLongerAssessed, byID)
	if g != nil {
		for _, e := range g.Edges {
			if e.From == model.InternetID && !b.EntryPoints[e.ID] {
				s.NewEntryPoints = append(s.NewEntryPoints, e)
			}
			if e.Encryption == model.EncryptionPlaintext && b.Plaintext != nil && !b.Plaintext[e.ID] {
				s.NewPlaintext = append(s.NewPlaintext, e)
			}
		}
	}
	return s
}

// NewOpenAtOrAbove are the new findings at or above min that no triage
// decision closes: what a gate on a pull request fails on.
func (s SinceBaseline) NewOpenAtOrAbove(min Severity) []Finding {
	var out []Finding
	for _, f := range AtOrAbove(s.New, min) {
		if f.IsOpen() {
			out = append(out, f)
		}
	}
	return out
}
