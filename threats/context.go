package threats

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/model"
)

// graphFacts are the indexes the engine computes once per graph, so each
// element's Context is a few lookups.
type graphFacts struct {
	g        *model.Graph
	controls map[string][]string // target ID → control types
	// controlsOf are the controls themselves by target, for their evidence:
	// what a rule's detail quotes, and what a boundary finding points at,
	// since a boundary has no lines of its own.
	controlsOf map[string][]*model.Control
	anywhere   []string // control types present on any element, sorted
	observed   bool     // some edge was seen on the wire
	callers    map[string][]string
	callees    map[string][]string
	exposed    map[string]bool        // reachable from the internet along flows
	entry      map[string]bool        // reached directly from the internet, or through an exposed gateway
	data       map[string][]string    // node ID → data classes, propagated
	guessed    map[string][]string    // node ID → those of its classes only a name suggests
	sharedSA   map[string][]string    // node ID → other workloads with the same service account
	parent     map[string]*model.Edge // node ID → the edge that reaches it first from the internet
}

func newGraphFacts(g *model.Graph) *graphFacts {
	f := &graphFacts{g: g, controls: map[string][]string{}, callers: map[string][]string{}, callees: map[string][]string{},
		exposed: map[string]bool{}, entry: map[string]bool{}, parent: map[string]*model.Edge{}, data: map[string][]string{}, guessed: map[string][]string{}, sharedSA: map[string][]string{}}
	f.controlsOf = map[string][]*model.Control{}
	types := map[string]bool{}
	for i, c := range g.Controls {
		f.controls[c.Target] = append(f.controls[c.Target], c.Type)
		f.controlsOf[c.Target] = append(f.controlsOf[c.Target], &g.Controls[i])
		types[c.Type] = true
	}
	f.anywhere = slices.Sorted(maps.Keys(types))
	for _, e := range g.Edges {
		f.observed = f.observed || e.Observed
		f.callers[e.To] = append(f.callers[e.To], e.From)
		f.callees[e.From] = append(f.callees[e.From], e.To)
	}
	f.reach()
	f.classify()
	f.serviceAccounts()
	return f
}

// controlEvidence is the evidence of a target's controls, in order.
func (f *graphFacts) controlEvidence(target string) []model.Evidence {
	var out []model.Evidence
	for _, c := range f.controlsOf[target] {
		out = append(out, c.Evidence...)
	}
	return out
}

// reach marks every node reachable from the internet along flows, and the
// entry points: the nodes the internet reaches directly, and the backends
// of gateways it reaches directly.
func (f *graphFacts) reach() {
	types := map[string]model.NodeType{}
	for _, n := range f.g.Nodes {
		types[n.ID] = n.Type
	}
	for _, first := range f.callees[model.InternetID] {
		f.entry[first] = true
		if types[first] == model.Gateway {
			for _, backend := range f.callees[first] {
				f.entry[backend] = true
			}
		}
	}
	out := map[string][]*model.Edge{}
	for i := range f.g.Edges {
		e := &f.g.Edges[i]
		out[e.From] = append(out[e.From], e)
	}
	// Breadth first, so each node's parent edge lies on a shortest path.
	queue := []string{model.InternetID}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, e := range out[id] {
			if !f.exposed[e.To] && e.To != model.InternetID {
				f.exposed[e.To] = true
				f.parent[e.To] = e
				queue = append(queue, e.To)
			}
		}
	}
}

// classify reads the data classes of each node (declared, or guessed from
// its name by the model) and propagates them cautiously, along flows that
// carry data only (model.CarriesData: not telemetry, feature-flag or
// configuration traffic): a data store's classes reach the workloads that
// call it (they read and write that data), and a workload's classes reach
// the data stores it calls (it stores them there). Classes do not travel
// further, so one PII store does not mark the whole system. A class that
// only names suggest is recorded as guessed.
func (f *graphFacts) classify() {
	declared := map[string][]string{}
	sure := map[string]map[string]bool{} // node → classes declared, not guessed
	nodes := map[string]*model.Node{}
	for i := range f.g.Nodes {
		n := &f.g.Nodes[i]
		nodes[n.ID] = n
		for _, d := range n.Data {
			declared[n.ID] = append(declared[n.ID], d.Class)
			if d.Source != "heuristic" {
				if sure[n.ID] == nil {
					sure[n.ID] = map[string]bool{}
				}
				sure[n.ID][d.Class] = true
			}
		}
	}
	classes := map[string][]string{}
	known := map[string]map[string]bool{}
	add := func(id, from string) {
		classes[id] = append(classes[id], declared[from]...)
		for c := range sure[from] {
			if known[id] == nil {
				known[id] = map[string]bool{}
			}
			known[id][c] = true
		}
	}
	for id := range declared {
		add(id, id)
	}
	for i := range f.g.Edges {
		e := &f.g.Edges[i]
		from, to := nodes[e.From], nodes[e.To]
		if from == nil || to == nil || to.Type != model.DataStore || !model.CarriesData(e, from, to) {
			continue
		}
		add(from.ID, to.ID)
		add(to.ID, from.ID)
	}
	for id, list := range classes {
		sort.Strings(list)
		f.data[id] = slices.Compact(list)
		for _, c := range f.data[id] {
			if !known[id][c] {
				f.guessed[id] = append(f.guessed[id], c)
			}
		}
	}
}

func (f *graphFacts) serviceAccounts() {
	bySA := map[string][]string{}
	for _, n := range f.g.Nodes {
		if n.Workload != nil {
			key := n.Namespace + "/" + n.Workload.ServiceAccount
			bySA[key] = append(bySA[key], n.ID)
		}
	}
	for _, ids := range bySA {
		if len(ids) < 2 {
			continue
		}
		for _, id := range ids {
			for _, other := range ids {
				if other != id {
					f.sharedSA[id] = append(f.sharedSA[id], other)
				}
			}
		}
	}
}

func (f *graphFacts) nodeContext(n *model.Node) *catalog.Context {
	hops, path := f.attackPath(n.ID)
	return &catalog.Context{
		Controls:             f.controls[n.ID],
		NamespaceControls:    f.namespaceControls(n.Namespace),
		ClusterControls:      f.controls[model.ClusterBoundaryID],
		GraphControls:        f.anywhere,
		Exposed:              f.exposed[n.ID],
		Data:                 f.data[n.ID],
		Callers:              f.callers[n.ID],
		Callees:              f.callees[n.ID],
		SharedServiceAccount: f.sharedSA[n.ID],
		ControlDetails:       f.controlDetails(n.ID),
		AttackPath:           path,
		PathGaps:             f.pathGaps(hops),
		GraphObserved:        f.observed,
	}
}

// controlDetails collects the evidence details of one node's or
// boundary's controls by type. It runs per node rather than once per graph, since most rules never
// read it and the strings are already there.
func (f *graphFacts) controlDetails(id string) map[string][]string {
	var out map[string][]string
	for _, c := range f.controlsOf[id] {
		for _, ev := range c.Evidence {
			if ev.Detail == "" {
				continue
			}
			if out == nil {
				out = map[string][]string{}
			}
			out[c.Type] = append(out[c.Type], ev.Detail)
		}
	}
	return out
}

// attackPath returns the hops of the shortest path from the internet to
// id, and the node IDs along it.
func (f *graphFacts) attackPath(id string) ([]*model.Edge, []string) {
	var hops []*model.Edge
	for e := f.parent[id]; e != nil; e = f.parent[e.From] {
		hops = append(hops, e)
		if len(hops) > len(f.g.Nodes) {
			break // cannot happen with BFS parents; a guard against a cycle
		}
	}
	if len(hops) == 0 {
		return nil, nil
	}
	slices.Reverse(hops)
	nodes := []string{hops[0].From}
	for _, e := range hops {
		nodes = append(nodes, e.To)
	}
	return hops, nodes
}

// pathGaps lists what is missing on each hop of an attack path: the
// reviewer's checklist for cutting it.
func (f *graphFacts) pathGaps(hops []*model.Edge) []string {
	var gaps []string
	for _, e := range hops {
		hop := e.From + " → " + e.To
		if e.Encryption != model.EncryptionTLS && e.Encryption != model.EncryptionMTLS {
			gaps = append(gaps, hop+": not known to be encrypted ("+string(e.Encryption)+")")
		}
		if e.From != model.InternetID && e.Policy != "allowed" {
			gaps = append(gaps, hop+": no NetworkPolicy restricts who may connect")
		}
		if !slices.ContainsFunc(f.controls[e.To], isAccessControl) {
			gaps = append(gaps, e.To+": no authentication or authorization control detected")
		}
	}
	return gaps
}

// isAccessControl recognises controls that authenticate or authorize
// callers (gateway auth, JWT validation, authorization policy, mTLS).
func isAccessControl(control string) bool {
	return strings.Contains(control, "authentication") || strings.Contains(control, "authorization") || strings.Contains(control, "mtls")
}

func (f *graphFacts) namespaceControls(ns string) []string {
	if ns == "" {
		return nil
	}
	return f.controls[model.NamespaceBoundaryID(ns)]
}

// edgeData are the data classes a flow carries: those of its ends, unless
// it is telemetry, feature-flag or configuration traffic; and those of
// them only names suggest.
func (f *graphFacts) edgeData(e *model.Edge, from, to *model.Node) (data, guessed []string) {
	if !model.CarriesData(e, from, to) {
		return nil, nil
	}
	data = slices.Concat(f.data[e.From], f.data[e.To])
	sort.Strings(data)
	guessed = slices.Concat(f.guessed[e.From], f.guessed[e.To])
	sort.Strings(guessed)
	return slices.Compact(data), slices.Compact(guessed)
}

func (f *graphFacts) edgeContext(e *model.Edge, from, to *model.Node) *catalog.Context {
	data, _ := f.edgeData(e, from, to)
	return &catalog.Context{
		Controls:          f.controls[e.ID],
		NamespaceControls: f.namespaceControls(to.Namespace),
		ClusterControls:   f.controls[model.ClusterBoundaryID],
		GraphControls:     f.anywhere,
		Exposed:           e.From == model.InternetID || f.exposed[e.From],
		Data:              slices.Compact(data),
		FromControls:      f.controls[from.ID],
		ToControls:        f.controls[to.ID],
		GraphObserved:     f.observed,
	}
}

func (f *graphFacts) boundaryContext(b *model.Boundary) *catalog.Context {
	var data []string
	exposed := false
	for _, m := range b.Members {
		data = append(data, f.data[m]...)
		exposed = exposed || f.exposed[m]
	}
	sort.Strings(data)
	return &catalog.Context{
		Controls:        f.controls[b.ID],
		ControlDetails:  f.controlDetails(b.ID),
		ClusterControls: f.controls[model.ClusterBoundaryID],
		GraphControls:   f.anywhere,
		Exposed:         exposed,
		Data:            slices.Compact(data),
		GraphObserved:   f.observed,
	}
}

// DataClasses are the data classes each node touches once they have
// propagated along the flows that carry data, as severity reads them; a
// class only element names suggest is followed by " (guessed)".
func DataClasses(g *model.Graph) map[string][]string {
	f := &graphFacts{g: g, data: map[string][]string{}, guessed: map[string][]string{}}
	f.classify()
	out := map[string][]string{}
	for id, classes := range f.data {
		for _, c := range classes {
			if slices.Contains(f.guessed[id], c) {
				c += " (guessed)"
			}
			out[id] = append(out[id], c)
		}
	}
	return out
}
