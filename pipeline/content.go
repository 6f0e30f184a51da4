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
// flows). The graph's JSON is deterministic (maps are encoded with sorted
// keys), so equal content hashes equal.
func contentHash(g *model.Graph, findings []threats.Finding, notAssessed []store.NotAssessed, problems []discover.Problem) (string, error) {
	// The volatile fields are cleared for the encoding and put back, so
	// the graph is encoded once, straight into the hash.
	restore := clearVolatile(g)
	defer restore()
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
		Graph    *model.Graph
		Verdicts []verdict
		Problems []discover.Problem
	}{g, verdicts, problems}); err != nil {
		return "", fmt.Errorf("hash the scan's content: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// clearVolatile clears what differs between two reads of unchanged
// sources (evidence's resourceVersion, flows' observations) and returns
// the function that puts it back.
func clearVolatile(g *model.Graph) (restore func()) {
	var versions []string
	g.EachEvidence(func(e *model.Evidence) {
		versions = append(versions, e.Version)
		e.Version = ""
	})
	observations := make([]*model.Observation, len(g.Edges))
	for i := range g.Edges {
		observations[i], g.Edges[i].Observation = g.Edges[i].Observation, nil
	}
	return func() {
		i := 0
		g.EachEvidence(func(e *model.Evidence) {
			e.Version = versions[i]
			i++
		})
		for i := range g.Edges {
			g.Edges[i].Observation = observations[i]
		}
	}
}
