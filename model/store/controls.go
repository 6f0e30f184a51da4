package store

import "github.com/stridemap/stridemap/model"

// controlGroup is how the store keeps controls: one row for a run of
// consecutive controls with the same target, which in a built graph is all
// of one element's controls (Graph.Controls is sorted by target). An
// element has several controls and each row costs far more to write than
// its bytes do, so a scan saves about a sixth of the rows it would one per
// control; and an element whose controls did not change still shares its
// row with the scans before.
type controlGroup struct {
	Target   string           `json:"target"`
	Controls []groupedControl `json:"controls"`
}

// groupedControl is a control without its target, which its group holds,
// and without its ID when that is TYPE@TARGET, as the graph builder makes
// every ID (a pointer, so that any other ID, even an empty one, is kept).
type groupedControl struct {
	ID       *string          `json:"id,omitempty"`
	Type     string           `json:"type"`
	Evidence []model.Evidence `json:"evidence"`
}

// controlRuns returns where each run of consecutive controls with the same
// target starts, and len(controls) last: run i is [at[i], at[i+1]).
func controlRuns(controls []model.Control) []int {
	return runs(len(controls), func(i int) bool { return controls[i].Target == controls[i-1].Target })
}

// groupControls is the row for the run controls, which share one target.
func groupControls(controls []model.Control) controlGroup {
	g := controlGroup{Target: controls[0].Target, Controls: make([]groupedControl, len(controls))}
	for i := range controls {
		c := &controls[i]
		g.Controls[i] = groupedControl{Type: c.Type, Evidence: c.Evidence}
		if !isTypeAtTarget(c) {
			g.Controls[i].ID = &c.ID
		}
	}
	return g
}

// isTypeAtTarget says c's ID is TYPE@TARGET, without building it.
func isTypeAtTarget(c *model.Control) bool {
	id, n := c.ID, len(c.Type)
	return len(id) == n+1+len(c.Target) && id[:n] == c.Type && id[n] == '@' && id[n+1:] == c.Target
}

// appendControls appends the controls the groups hold, in order.
func appendControls(out []model.Control, groups []controlGroup) []model.Control {
	for _, g := range groups {
		for _, c := range g.Controls {
			id := c.Type + "@" + g.Target
			if c.ID != nil {
				id = *c.ID
			}
			out = append(out, model.Control{ID: id, Type: c.Type, Target: g.Target, Evidence: c.Evidence})
		}
	}
	return out
}
