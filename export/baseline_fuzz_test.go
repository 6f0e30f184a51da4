package export

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzReadBaseline: any bytes given as a baseline file give a baseline or
// one line naming the file; a baseline read holds every finding of the
// report once, and each of its entry points and plaintext flows.
func FuzzReadBaseline(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":1,"tool":{"name":"stridemap","version":"v1"},"findings":[{"id":"a@x","ruleId":"a","severity":"high"}],"entryPoints":[{"edge":"external:internet->x:443"}],"plaintextFlows":["x->y:80"]}`))
	f.Add([]byte(`{"schemaVersion":1,"tool":{"name":"stridemap"},"findings":[]}`))
	f.Add([]byte(`{"schemaVersion":9,"tool":{"name":"stridemap","version":"v9"}}`))
	f.Add([]byte(`{"version":"2.1.0","runs":[]}`))
	f.Add([]byte("\x1b]0;title\x07"))
	f.Add([]byte(`[1,2`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "baseline.json"
		b, err := ReadBaseline(bytes.NewReader(data), name)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, name) {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			return
		}
		var rep struct {
			Findings []struct {
				ID string `json:"id"`
			} `json:"findings"`
			EntryPoints []struct {
				Edge string `json:"edge"`
			} `json:"entryPoints"`
			PlaintextFlows []string `json:"plaintextFlows"`
		}
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&rep); err != nil {
			t.Fatalf("read as a baseline, but not as JSON: %v", err)
		}
		ids := map[string]bool{}
		for _, f := range rep.Findings {
			ids[f.ID] = true
		}
		if len(b.Findings) != len(ids) {
			t.Fatalf("baseline holds %d findings, the report %d distinct", len(b.Findings), len(ids))
		}
		for _, e := range rep.EntryPoints {
			if !b.EntryPoints[e.Edge] {
				t.Fatalf("entry point %q lost", e.Edge)
			}
		}
		for _, id := range rep.PlaintextFlows {
			if !b.Plaintext[id] {
				t.Fatalf("plaintext flow %q lost", id)
			}
		}
	})
}
