package export

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stridemap/stridemap/model"
)

// MaxDiagramNodes is the most elements a diagram may have before Graphviz's
// layout stops being readable (and, beyond a few thousand, fast): about
// one page of boxes at a legible size. Larger graphs are drawn one
// namespace or one neighbourhood at a time, or on request (--force).
const MaxDiagramNodes = 300

// TooLargeError says a graph has more elements than a diagram can show
// readably.
type TooLargeError struct {
	Nodes int
	Max   int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the graph has %d elements; diagrams of more than %d do not lay out readably", e.Nodes, e.Max)
}

// CheckDiagramSize returns a *TooLargeError when g has more than
// MaxDiagramNodes nodes.
func CheckDiagramSize(g *model.Graph) error {
	if len(g.Nodes) > MaxDiagramNodes {
		return &TooLargeError{Nodes: len(g.Nodes), Max: MaxDiagramNodes}
	}
	return nil
}

// Scope narrows a graph to one part of the system. The zero Scope is the
// whole graph.
type Scope struct {
	// Namespace keeps the elements of one namespace, plus the elements they
	// exchange flows with (the internet, a gateway, a shared database) so
	// the diagram shows what crosses its boundary.
	Namespace string `json:"namespace,omitempty"`
	// Focus keeps one element and everything within Depth flows of it, in
	// either direction. It names a node by ID (workload:shop/cart), by
	// NAMESPACE/NAME, or by name when that is unambiguous.
	Focus string `json:"focus,omitempty"`
	Depth int    `json:"depth,omitempty"`
}

// IsZero reports whether the scope is the whole graph.
func (s Scope) IsZero() bool { return s.Namespace == "" && s.Focus == "" }

// String describes the scope for titles: "namespace shop", "cart within 2 flows".
func (s Scope) String() string {
	var parts []string
	if s.Namespace != "" {
		parts = append(parts, "namespace "+s.Namespace)
	}
	if s.Focus != "" {
		parts = append(parts, fmt.Sprintf("%s within %d flow(s)", s.Focus, s.Depth))
	}
	return strings.Join(parts, ", ")
}

// Narrow returns the part of g that scope selects, as a new graph (g is not
// changed): the selected nodes, the edges among them, the boundaries that
// still hold one of them, and their controls and dangling references. It
// fails, naming what exists, when the namespace or element is not in g.
func Narrow(g *model.Graph, scope Scope) (*model.Graph, error) {
	if scope.IsZero() {
		return g, nil
	}
	keep := map[string]bool{}
	if scope.Namespace != "" {
		core := map[string]bool{}
		for i := range g.Nodes {
			if g.Nodes[i].Namespace == scope.Namespace {
				core[g.Nodes[i].ID] = true
				keep[g.Nodes[i].ID] = true
			}
		}
		if len(core) == 0 {
			return nil, fmt.Errorf("no element is in namespace %q; namespaces in this scan: %s", scope.Namespace, strings.Join(namespaces(g), ", "))
		}
		for i := range g.Edges {
			e := &g.Edges[i]
			if core[e.From] || core[e.To] {
				keep[e.From], keep[e.To] = true, true
			}
		}
		if scope.Focus == "" {
			return subgraph(g, keep, func(e *model.Edge) bool { return core[e.From] || core[e.To] }), nil
		}
		g = subgraph(g, keep, func(e *model.Edge) bool { return core[e.From] || core[e.To] })
	}
	if scope.Focus != "" {
		start, err := resolveElement(g, scope.Focus)
		if err != nil {
			return nil, err
		}
		depth := scope.Depth
		if depth < 0 {
			depth = 0
		}
		near := map[string][]string{}
		for i := range g.Edges {
			e := &g.Edges[i]
			near[e.From] = append(near[e.From], e.To)
			near[e.To] = append(near[e.To], e.From)
		}
		keep = map[string]bool{start: true}
		frontier := []string{start}
		for range depth {
			var next []string
			for _, id := range frontier {
				for _, n := range near[id] {
					if !keep[n] {
						keep[n] = true
						next = append(next, n)
					}
				}
			}
			frontier = next
		}
	}
	return subgraph(g, keep, func(*model.Edge) bool { return true }), nil
}

// subgraph copies the parts of g that touch only kept nodes; edges must
// also pass edgeOK.
func subgraph(g *model.Graph, keep map[string]bool, edgeOK func(*model.Edge) bool) *model.Graph {
	out := &model.Graph{Nodes: []model.Node{}, Edges: []model.Edge{}, Boundaries: []model.Boundary{}, Controls: []model.Control{}, Dangling: []model.DanglingRef{}, Gaps: g.Gaps}
	for i := range g.Nodes {
		if keep[g.Nodes[i].ID] {
			out.Nodes = append(out.Nodes, g.Nodes[i])
		}
	}
	kept := map[string]bool{}
	for i := range g.Edges {
		e := &g.Edges[i]
		if keep[e.From] && keep[e.To] && edgeOK(e) {
			out.Edges = append(out.Edges, *e)
			kept[e.ID] = true
		}
	}
	for _, b := range g.Boundaries {
		var members []string
		for _, m := range b.Members {
			if keep[m] {
				members = append(members, m)
			}
		}
		if len(members) == 0 {
			continue
		}
		b.Members = members
		out.Boundaries = append(out.Boundaries, b)
		kept[b.ID] = true
	}
	for i := range g.Controls {
		if t := g.Controls[i].Target; keep[t] || kept[t] {
			out.Controls = append(out.Controls, g.Controls[i])
		}
	}
	for i := range g.Dangling {
		if keep[g.Dangling[i].From] {
			out.Dangling = append(out.Dangling, g.Dangling[i])
		}
	}
	return out
}

// resolveElement finds the node a user named: its ID, NAMESPACE/NAME, or a
// name only one node has.
func resolveElement(g *model.Graph, name string) (string, error) {
	if n := g.Node(name); n != nil {
		return n.ID, nil
	}
	var matches []string
	for i := range g.Nodes {
		n := &g.Nodes[i]
		if n.Name == name || (n.Namespace != "" && n.Namespace+"/"+n.Name == name) {
			matches = append(matches, n.ID)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return "", fmt.Errorf("no element %q in this scan: name one by ID (workload:NS/NAME), NAMESPACE/NAME or name; stridemap graph --format table lists them", name)
	}
	slices.Sort(matches)
	if len(matches) > 5 {
		matches = append(matches[:5], "…")
	}
	return "", fmt.Errorf("%q names several elements (%s); use the ID or NAMESPACE/NAME", name, strings.Join(matches, ", "))
}

func namespaces(g *model.Graph) []string {
	out := Namespaces(g)
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("… (%d in all)", len(out)))
	}
	return out
}
