package threats

import (
	"context"
	"slices"

	"github.com/stridemap/stridemap/model/store"
)

// CompareStored computes the drift between two stored scans, the same
// Drift Compare computes from what LoadPair reads, but reads and decodes
// only what the scans do not share. A row both hold is the same element,
// flow, control or finding in both, so it has not changed, with one
// exception: whether an element is reachable from the internet depends on
// every flow. That is computed from the ends of all flows of each scan,
// and the few shared elements whose reachability differs are read too.
func CompareStored(ctx context.Context, s *store.Store, before, after int64) (Drift, error) {
	delta, err := s.Delta(ctx, before, after)
	if err != nil {
		return Drift{}, err
	}
	reachBefore, reachAfter := internetReach(delta.FlowsA), internetReach(delta.FlowsB)
	unshared := make(map[string]bool, len(delta.OnlyA.Nodes)+len(delta.OnlyB.Nodes))
	for _, n := range slices.Concat(delta.OnlyA.Nodes, delta.OnlyB.Nodes) {
		unshared[n.ID] = true
	}
	var moved []string
	for _, pair := range [][2]map[string]bool{{reachBefore, reachAfter}, {reachAfter, reachBefore}} {
		for id := range pair[0] {
			if !pair[1][id] && !unshared[id] {
				moved = append(moved, id)
			}
		}
	}
	slices.Sort(moved)
	shared, err := s.Nodes(ctx, after, moved)
	if err != nil {
		return Drift{}, err
	}
	// Both sides get the same shared elements: they compare equal but for
	// their reachability.
	delta.OnlyA.Nodes = append(delta.OnlyA.Nodes, shared...)
	delta.OnlyB.Nodes = append(delta.OnlyB.Nodes, shared...)

	fb, err := loadFindings(ctx, s, before, delta.FindingsA, nil, nil)
	if err != nil {
		return Drift{}, err
	}
	fa, err := loadFindings(ctx, s, after, delta.FindingsB, nil, nil)
	if err != nil {
		return Drift{}, err
	}
	decisions, err := s.Triage(ctx)
	if err != nil {
		return Drift{}, err
	}
	ApplyTriage(fb, decisions)
	ApplyTriage(fa, decisions)
	nb, err := s.NotAssessed(ctx, before)
	if err != nil {
		return Drift{}, err
	}
	na, err := s.NotAssessed(ctx, after)
	if err != nil {
		return Drift{}, err
	}
	d := compare(Snapshot{Graph: delta.OnlyA, Findings: fb, NotAssessed: nb}, Snapshot{Graph: delta.OnlyB, Findings: fa, NotAssessed: na},
		func() (map[string]bool, map[string]bool) { return reachBefore, reachAfter })
	d.FindingsUnchanged += delta.SharedFindings
	return d, nil
}
