package export

import (
	"fmt"
	"html"
	"slices"
	"strings"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

// DriftKind is how an element, flow or boundary differs from an earlier
// scan.
type DriftKind string

// The kinds of drift a diagram marks.
const (
	DriftAdded   DriftKind = "added"
	DriftRemoved DriftKind = "removed"
	DriftChanged DriftKind = "changed"
)

// DriftMark is what a diagram says about one element, flow or boundary
// that drifted.
type DriftMark struct {
	Kind DriftKind
	// Changes are the fields that differ, for DriftChanged.
	Changes []threats.Change
}

// DiagramDrift marks a diagram with what changed since an earlier scan.
type DiagramDrift struct {
	// Since names the earlier scan in the legend and tooltips: "scan #3".
	Since string
	// Marks are by element, flow or boundary ID; what is not here is
	// unchanged.
	Marks map[string]DriftMark
}

// driftLooks are how each kind of drift is drawn: a sign before the
// label, a colour no element, flow or threat count uses, and a line
// width. Removed elements and flows are also dashed.
var driftLooks = map[DriftKind]struct{ sign, colour, penwidth string }{
	DriftAdded:   {"+", "#188038", "3"},
	DriftRemoved: {"-", "#9334e6", "2"},
	DriftChanged: {"~", "#007b83", "2"},
}

// DriftDiagram returns what a diagram of the drift d shows: the later
// scan's graph after, plus the elements, flows and boundaries only the
// earlier scan had, as that scan had them, with the marks that say what
// was added, removed or changed since the earlier scan (named by since).
// A boundary that lost a removed element holds it again, so the element
// is drawn where it was. after is not changed; Narrow and
// CheckDiagramSize apply to the result as to any graph.
//
// Controls and findings are not marked: the diagram shows the later
// scan's threat counts, and stridemap diff lists the rest.
func DriftDiagram(after *model.Graph, d threats.Drift, since string) (*model.Graph, *DiagramDrift) {
	marks := map[string]DriftMark{}
	mark := func(kind DriftKind, ids ...string) {
		for _, id := range ids {
			marks[id] = DriftMark{Kind: kind}
		}
	}
	merged := *after
	merged.Nodes = slices.Concat(after.Nodes, d.NodesRemoved)
	merged.Edges = slices.Concat(after.Edges, d.EdgesRemoved)

	removed := map[string]bool{}
	for _, n := range d.NodesRemoved {
		removed[n.ID] = true
		mark(DriftRemoved, n.ID)
	}
	returning := map[string][]string{} // boundary ID → the removed elements it held
	for _, c := range d.BoundariesChanged {
		for _, ch := range c.Changes {
			if ch.After == "" && removed[ch.Before] {
				returning[c.ID] = append(returning[c.ID], ch.Before)
			}
		}
	}
	merged.Boundaries = make([]model.Boundary, 0, len(after.Boundaries)+len(d.BoundariesRemoved))
	for _, b := range after.Boundaries {
		if back := returning[b.ID]; len(back) > 0 {
			b.Members = slices.Concat(b.Members, back)
		}
		merged.Boundaries = append(merged.Boundaries, b)
	}
	// A removed boundary is drawn with the removed elements it held; one
	// whose members all remain (a mesh left, say) has nothing to draw.
	for _, b := range d.BoundariesRemoved {
		b.Members = slices.DeleteFunc(slices.Clone(b.Members), func(m string) bool { return !removed[m] })
		if len(b.Members) > 0 {
			merged.Boundaries = append(merged.Boundaries, b)
			mark(DriftRemoved, b.ID)
		}
	}

	for _, n := range d.NodesAdded {
		mark(DriftAdded, n.ID)
	}
	for _, e := range d.EdgesAdded {
		mark(DriftAdded, e.ID)
	}
	for _, e := range d.EdgesRemoved {
		mark(DriftRemoved, e.ID)
	}
	for _, b := range d.BoundariesAdded {
		mark(DriftAdded, b.ID)
	}
	for _, c := range d.NodesChanged {
		marks[c.ID] = DriftMark{Kind: DriftChanged, Changes: c.Changes}
	}
	for _, c := range d.EdgesChanged {
		marks[c.ID] = DriftMark{Kind: DriftChanged, Changes: c.Changes}
	}
	return &merged, &DiagramDrift{Since: since, Marks: marks}
}

// mark returns the mark of id; a nil DiagramDrift marks nothing.
func (dd *DiagramDrift) mark(id string) (DriftMark, bool) {
	if dd == nil {
		return DriftMark{}, false
	}
	m, ok := dd.Marks[id]
	return m, ok
}

// note is a mark as a tooltip says it: "added since scan #3", and for a
// change each field as "field: before → after".
func (dd *DiagramDrift) note(m DriftMark) string {
	lines := []string{fmt.Sprintf("%s since %s", m.Kind, dd.Since)}
	for _, c := range m.Changes {
		lines = append(lines, c.String())
	}
	return strings.Join(lines, "\n")
}

// legendRows explain the drift marks, in the legend's HTML-like table.
func (dd *DiagramDrift) legendRows(b *strings.Builder) {
	since := html.EscapeString(dd.Since)
	fmt.Fprintf(b, `<TR><TD COLSPAN="2"><B>Changes since %s</B></TD></TR>`, since)
	for _, r := range []struct {
		kind       DriftKind
		cellStyle  string
		what, line string
	}{
		{DriftAdded, "", "added", "thick border; flows: thick, green label"},
		{DriftRemoved, ` STYLE="dashed"`, "removed", "dashed, drawn as it was"},
		{DriftChanged, "", "changed", "the tooltip lists what changed"},
	} {
		look := driftLooks[r.kind]
		fmt.Fprintf(b, `<TR><TD BORDER="2" COLOR="%s"%s><FONT COLOR="%s">%s %s</FONT></TD><TD ALIGN="LEFT">%s since %s;<BR ALIGN="LEFT"/>%s</TD></TR>`,
			look.colour, r.cellStyle, look.colour, look.sign, r.what, r.what, since, r.line)
	}
}
