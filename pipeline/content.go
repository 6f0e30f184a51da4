package pipeline

import (
	"context"
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
//
// A plain scan stores no hash: only a re-scan compares content, and
// hashing encodes the whole scan a second time, about 4% of a scan's
// CPU. A re-scan that finds the latest scan without one computes it from
// what the store holds (storedContentHash).
//
// Each element is encoded on its own, straight into the hash: encoding
// the whole graph at once would first build its JSON in memory, tens of
// megabytes for a large cluster.
func contentHash(g *model.Graph, findings []verdict, notAssessed []store.NotAssessed, problems []discover.Problem) (string, error) {
	// The volatile fields are cleared for the encoding and put back.
	restore := clearVolatile(g)
	defer restore()
	h := sha256.New()
	enc := json.NewEncoder(h)
	var err error
	// section hashes a name and a count before the n items, so an element
	// moved from one section to another changes the hash.
	section := func(name string, n int, item func(i int) any) {
		if err != nil {
			return
		}
		fmt.Fprintf(h, "%s %d\n", name, n)
		for i := 0; i < n && err == nil; i++ {
			err = enc.Encode(item(i))
		}
	}
	section("nodes", len(g.Nodes), func(i int) any { return &g.Nodes[i] })
	section("edges", len(g.Edges), func(i int) any { return &g.Edges[i] })
	section("boundaries", len(g.Boundaries), func(i int) any { return &g.Boundaries[i] })
	section("controls", len(g.Controls), func(i int) any { return &g.Controls[i] })
	section("dangling", len(g.Dangling), func(i int) any { return &g.Dangling[i] })
	section("gaps", len(g.Gaps), func(i int) any { return &g.Gaps[i] })
	section("findings", len(findings), func(i int) any { return findings[i] })
	section("not assessed", len(notAssessed), func(i int) any { return verdict{notAssessed[i].ID(), "not assessed"} })
	section("problems", len(problems), func(i int) any { return &problems[i] })
	if err != nil {
		return "", fmt.Errorf("hash the scan's content: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// clearVolatile clears what differs between two reads of unchanged
// sources (evidence's resourceVersion, flows' observations) and returns
// the function that puts it back.
func clearVolatile(g *model.Graph) (restore func()) {
	// Only evidence read from an API server has a version: a scan of
	// files, whose evidence runs to hundreds of thousands, keeps nothing.
	type versioned struct {
		evidence *model.Evidence
		version  string
	}
	var versions []versioned
	g.EachEvidence(func(e *model.Evidence) {
		if e.Version != "" {
			versions = append(versions, versioned{e, e.Version})
			e.Version = ""
		}
	})
	observations := make([]*model.Observation, len(g.Edges))
	for i := range g.Edges {
		observations[i], g.Edges[i].Observation = g.Edges[i].Observation, nil
	}
	return func() {
		for _, v := range versions {
			v.evidence.Version = v.version
		}
		for i := range g.Edges {
			g.Edges[i].Observation = observations[i]
		}
	}
}

// verdict is what the content hash keeps of a finding or of a rule not
// assessed. Its JSON, {"ID":…,"Severity":…}, is part of every hash
// stored: changing it would make each re-scan store its content again.
type verdict struct{ ID, Severity string }

// verdictsOf lists the verdicts of findings as they are stored, before
// triage (which never changes a severity).
func verdictsOf(findings []threats.Finding) []verdict {
	out := make([]verdict, len(findings))
	for i := range findings {
		out[i] = verdict{findings[i].ID, string(findings[i].Severity)}
	}
	return out
}

// storedContentHash is the content hash of scan id computed from what the
// store holds, for a scan stored without one: by a plain scan, or by a
// version before re-scans. The store reads back exactly what was saved,
// so it equals the hash the scan had in memory.
func storedContentHash(ctx context.Context, s *store.Store, id int64) (string, error) {
	g, err := s.Graph(ctx, id)
	if err != nil {
		return "", err
	}
	records, err := s.Findings(ctx, id)
	if err != nil {
		return "", err
	}
	findings := make([]verdict, len(records))
	for i := range records {
		findings[i] = verdict{records[i].ID, records[i].Severity}
	}
	notAssessed, err := s.NotAssessed(ctx, id)
	if err != nil {
		return "", err
	}
	problems, err := s.Problems(ctx, id)
	if err != nil {
		return "", err
	}
	return contentHash(g, findings, notAssessed, problems)
}
