package threats

import (
	"cmp"
	"slices"

	"github.com/stridemap/stridemap/model"
)

// Snapshot is one scan as Compare sees it: its graph and its findings.
// Compare reads only the findings' IDs, so findings summarised from the
// store's columns (without their JSON) compare as well as whole ones.
type Snapshot struct {
	Graph    *model.Graph
	Findings []Finding
}

// Drift is what changed between two scans: the elements, flows and controls
// that appeared or disappeared, and the findings that are new or gone.
// Everything is matched by stable ID, so a renamed workload is one node
// removed and one added. Each list is in ID order; a list is nil when
// nothing changed.
type Drift struct {
	NodesAdded, NodesRemoved       []model.Node
	EdgesAdded, EdgesRemoved       []model.Edge
	ControlsAdded, ControlsRemoved []model.Control
	// FindingsAdded are new threats; FindingsRemoved are threats the later
	// scan no longer finds (fixed, or the element is gone).
	FindingsAdded, FindingsRemoved []Finding
}

// Compare computes the drift from before to after. A nil graph counts as
// an empty one. It works in time linear in the two scans' sizes.
func Compare(before, after Snapshot) Drift {
	var d Drift
	bg, ag := graphOrEmpty(before.Graph), graphOrEmpty(after.Graph)
	d.NodesAdded, d.NodesRemoved = diffByID(bg.Nodes, ag.Nodes, func(n *model.Node) string { return n.ID })
	d.EdgesAdded, d.EdgesRemoved = diffByID(bg.Edges, ag.Edges, func(e *model.Edge) string { return e.ID })
	d.ControlsAdded, d.ControlsRemoved = diffByID(bg.Controls, ag.Controls, func(c *model.Control) string { return c.ID })
	d.FindingsAdded, d.FindingsRemoved = diffByID(before.Findings, after.Findings, func(f *Finding) string { return f.ID })
	return d
}

// Empty reports whether nothing changed.
func (d Drift) Empty() bool {
	return len(d.NodesAdded)+len(d.NodesRemoved)+len(d.EdgesAdded)+len(d.EdgesRemoved)+
		len(d.ControlsAdded)+len(d.ControlsRemoved)+len(d.FindingsAdded)+len(d.FindingsRemoved) == 0
}

func graphOrEmpty(g *model.Graph) *model.Graph {
	if g == nil {
		return &model.Graph{}
	}
	return g
}

// diffByID returns the elements of after whose ID is not in before (added)
// and those of before whose ID is not in after (removed), each sorted by ID.
func diffByID[T any](before, after []T, id func(*T) string) (added, removed []T) {
	in := func(list []T) map[string]struct{} {
		set := make(map[string]struct{}, len(list))
		for i := range list {
			set[id(&list[i])] = struct{}{}
		}
		return set
	}
	beforeIDs, afterIDs := in(before), in(after)
	for i := range after {
		if _, ok := beforeIDs[id(&after[i])]; !ok {
			added = append(added, after[i])
		}
	}
	for i := range before {
		if _, ok := afterIDs[id(&before[i])]; !ok {
			removed = append(removed, before[i])
		}
	}
	byID := func(a, b T) int { return cmp.Compare(id(&a), id(&b)) }
	slices.SortStableFunc(added, byID)
	slices.SortStableFunc(removed, byID)
	return added, removed
}
