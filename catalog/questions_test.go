package catalog_test

import (
	"slices"
	"testing"

	"github.com/stridemap/stridemap/catalog"
)

func TestQuestions(t *testing.T) {
	qs, err := catalog.Questions()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	topics := map[string]bool{}
	for _, q := range qs {
		if seen[q.ID] || q.Question == "" || q.Why == "" || !slices.Contains(catalog.Strides, q.Stride) {
			t.Errorf("question %+v: duplicate ID or missing fields", q)
		}
		seen[q.ID] = true
		topics[q.Topic] = true
	}
	// The issue asks for these; keep them covered.
	for _, id := range []string{"sast-in-ci", "dast", "dependency-scanning", "backups-tested", "disaster-recovery", "incident-response", "compliance-scope", "security-training"} {
		if !seen[id] {
			t.Errorf("missing review question %s", id)
		}
	}
}
