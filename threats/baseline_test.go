package threats_test

import (
	"slices"
	"testing"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

// TestBaselineCompare: new, unchanged and fixed findings by ID; a finding
// a coverage gap left open is not fixed; new entry points and plaintext
// flows are those the baseline did not have, and a baseline that does not
// know its plaintext flows counts none as new.
func TestBaselineCompare(t *testing.T) {
	f := func(id string, sev threats.Severity) threats.Finding { return threats.Finding{ID: id, Severity: sev} }
	edge := func(id, from string, enc model.Encryption) model.Edge {
		return model.Edge{ID: id, From: from, Encryption: enc}
	}
	before := &model.Graph{Edges: []model.Edge{edge("in-1", model.InternetID, model.EncryptionTLS), edge("a->b", "a", model.EncryptionPlaintext)}}
	b := threats.NewBaseline("scan #1", before, []threats.Finding{f("kept", threats.High), f("fixed", threats.Low), f("hidden", threats.Medium)})
	after := &model.Graph{Edges: []model.Edge{
		edge("in-1", model.InternetID, model.EncryptionTLS), edge("in-2", model.InternetID, model.EncryptionTLS),
		edge("a->b", "a", model.EncryptionPlaintext), edge("a->c", "a", model.EncryptionPlaintext),
	}}
	s := b.Compare(after, []threats.Finding{f("kept", threats.High), f("new-low", threats.Low), f("new-crit", threats.Critical)}, []string{"hidden"})
	ids := func(fs []threats.Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.ID)
		}
		return out
	}
	if got := ids(s.New); !slices.Equal(got, []string{"new-low", "new-crit"}) {
		t.Errorf("new: %v", got)
	}
	if !slices.Equal(ids(s.Unchanged), []string{"kept"}) || !slices.Equal(ids(s.Fixed), []string{"fixed"}) || !slices.Equal(ids(s.NoLongerAssessed), []string{"hidden"}) {
		t.Errorf("unchanged %v, fixed %v, no longer assessed %v", ids(s.Unchanged), ids(s.Fixed), ids(s.NoLongerAssessed))
	}
	if got := ids(s.NewOpenAtOrAbove(threats.High)); !slices.Equal(got, []string{"new-crit"}) {
		t.Errorf("new at or above high: %v", got)
	}
	if len(s.NewEntryPoints) != 1 || s.NewEntryPoints[0].ID != "in-2" || len(s.NewPlaintext) != 1 || s.NewPlaintext[0].ID != "a->c" {
		t.Errorf("new entry points %v, new plaintext %v", s.NewEntryPoints, s.NewPlaintext)
	}
	b.Plaintext = nil
	if s := b.Compare(after, nil, nil); len(s.NewPlaintext) != 0 {
		t.Errorf("a baseline without plaintext flows made %d new", len(s.NewPlaintext))
	}
}
