package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

// Rescan makes a scan a periodic re-scan: when its content hashes as the
// latest scan of its target does, that scan is confirmed instead of a new
// one stored, so the history holds changes, not ticks.
type Rescan struct {
	// Target is what the watch's last stored or confirmed scan looked
	// at, recorded with a failure of a live scan, whose server is known
	// only once reached; zero for none yet.
	Target discover.Target
}

// contentHash is what a scan's content hashes to: the graph and the
// findings, and the problems met reading (a scan that became partial has
// changed), without what changes between two reads of the same thing (the
// resourceVersion of API objects, the counts and times of observed
// flows). Maps are encoded with sorted keys, so equal content hashes
// equal.
func contentHash(g *model.Graph, findings []threats.Finding, notAssessed []store.NotAssessed, problems []discover.Problem) (string, error) {
	data, err := json.Marshal(g)
	if err != nil {
		return "", fmt.Errorf("hash the scan's content: %w", err)
	}
	var graph any
	if err := json.Unmarshal(data, &graph); err != nil {
		return "", fmt.Errorf("hash the scan's content: %w", err)
	}
	graph = withoutVolatile(graph)
	type verdict struct{ ID, Severity string }
	verdicts := make([]verdict, 0, len(findings)+len(notAssessed))
	for _, f := range findings {
		verdicts = append(verdicts, verdict{f.ID, string(f.Severity)})
	}
	for _, n := range notAssessed {
		verdicts = append(verdicts, verdict{n.ID(), "not assessed"})
	}
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(struct {
		Graph    any
		Verdicts []verdict
		Problems []discover.Problem
	}{graph, verdicts, problems}); err != nil {
		return "", fmt.Errorf("hash the scan's content: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// volatile are the keys of the graph's JSON that differ between two reads
// of unchanged sources.
var volatile = map[string]bool{"resourceVersion": true, "observation": true}

func withoutVolatile(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if volatile[k] {
				delete(v, k)
				continue
			}
			v[k] = withoutVolatile(child)
		}
	case []any:
		for i := range v {
			v[i] = withoutVolatile(v[i])
		}
	}
	return v
}
