package common

import (
	"cmp"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/policy"
	"github.com/stridemap/stridemap/threats"
)

// SortOrder is how the Threats table is sorted.
type SortOrder int

const (
	BySeverity SortOrder = iota // most severe first, then by ID
	ByRule                      // by rule, most severe first within a rule
	ByElement                   // by element, most severe first within an element
	sortOrders
)

// Next is the order after o, cycling.
func (o SortOrder) Next() SortOrder { return (o + 1) % sortOrders }

func (o SortOrder) String() string {
	return [...]string{"severity", "rule", "element"}[o]
}

// RuleInfo is what every finding of one rule shares.
type RuleInfo struct {
	Title          string
	MissingControl string
}

// Findings is a scan's findings as the TUI shows them. The store's records
// carry the columns a table needs (ID, rule, STRIDE, severity, element,
// namespace); the rest of a finding is JSON, decoded when the finding is
// looked at. So opening a scan with tens of thousands of findings costs one
// query, not decoding every description.
//
// A Findings is built once and only read afterwards, except for the cache
// of decoded findings and search text, which only the UI goroutine touches.
type Findings struct {
	Records []store.Finding
	Rules   map[string]RuleInfo
	texts   []store.Rule // the rules' texts as the scan saved them

	orders [sortOrders][]int

	decoded  map[int]*threats.Finding
	haystack []string // lower-cased ID, title and namespace, built on the first search
}

// NewFindings indexes a scan's findings: one decoded finding per rule for
// its title, and the three sort orders, built in linear time (the records
// come in ID order).
func NewFindings(records []store.Finding, rules []store.Rule) (*Findings, error) {
	f := &Findings{Records: records, Rules: map[string]RuleInfo{}, texts: rules, decoded: map[int]*threats.Finding{}}
	for i := range records {
		if _, ok := f.Rules[records[i].RuleID]; ok {
			continue
		}
		decoded, err := threats.FromRecords(records[i:i+1], rules)
		if err != nil {
			return nil, err
		}
		f.Rules[records[i].RuleID] = RuleInfo{Title: decoded[0].Title(), MissingControl: decoded[0].MissingControl}
	}

	byID := make([]int, len(records))
	for i := range byID {
		byID[i] = i
	}
	if !slices.IsSortedFunc(byID, f.compareID) {
		slices.SortFunc(byID, f.compareID)
	}
	// Severity: a stable bucket pass over ID order.
	var buckets [5][]int
	for _, i := range byID {
		r := threats.Severity(records[i].Severity).Rank()
		buckets[4-r] = append(buckets[4-r], i)
	}
	bySeverity := slices.Concat(buckets[:]...)
	f.orders[BySeverity] = bySeverity
	f.orders[ByRule] = stableGroup(bySeverity, func(i int) string { return records[i].RuleID })
	f.orders[ByElement] = stableGroup(bySeverity, func(i int) string { return records[i].Element })
	return f, nil
}

func (f *Findings) compareID(a, b int) int { return cmp.Compare(f.Records[a].ID, f.Records[b].ID) }

// stableGroup orders indices by key, keeping the given order within a key:
// one pass to bucket, a sort of the distinct keys only.
func stableGroup(order []int, key func(int) string) []int {
	groups := map[string][]int{}
	var keys []string
	for _, i := range order {
		k := key(i)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], i)
	}
	slices.Sort(keys)
	out := make([]int, 0, len(order))
	for _, k := range keys {
		out = append(out, groups[k]...)
	}
	return out
}

// Len is the number of findings.
func (f *Findings) Len() int { return len(f.Records) }

// Order returns the record indices in a sort order. Callers must not
// modify it.
func (f *Findings) Order(o SortOrder) []int { return f.orders[o] }

// Severity of record i.
func (f *Findings) Severity(i int) threats.Severity { return threats.Severity(f.Records[i].Severity) }

// Stride of record i.
func (f *Findings) Stride(i int) catalog.Stride { return catalog.Stride(f.Records[i].Stride) }

// Title of record i, from its rule.
func (f *Findings) Title(i int) string { return f.Rules[f.Records[i].RuleID].Title }

// MissingControl of record i, from its rule.
func (f *Findings) MissingControl(i int) string { return f.Rules[f.Records[i].RuleID].MissingControl }

// Finding decodes record i, once. UI goroutine only.
func (f *Findings) Finding(i int) (*threats.Finding, error) {
	if d, ok := f.decoded[i]; ok {
		return d, nil
	}
	decoded, err := threats.FromRecords(f.Records[i:i+1], f.texts)
	if err != nil {
		return nil, err
	}
	f.decoded[i] = &decoded[0]
	return &decoded[0], nil
}

// Matches reports whether record i contains the lower-case text query in
// its ID, title or namespace. UI goroutine only.
func (f *Findings) Matches(i int, query string) bool {
	if f.haystack == nil {
		f.haystack = f.SearchIndex()
	}
	return strings.Contains(f.haystack[i], query)
}

// SearchIndex is the lower-cased text Matches searches, one string per
// record. It only reads the findings, so it can be built in the background
// (SearchIndexCmd) and handed over with SetSearchIndex.
func (f *Findings) SearchIndex() []string {
	out := make([]string, len(f.Records))
	for j := range f.Records {
		r := &f.Records[j]
		out[j] = strings.ToLower(r.ID + " " + f.Rules[r.RuleID].Title + " " + r.Namespace)
	}
	return out
}

// SetSearchIndex installs an index built by SearchIndex, unless one is
// already there. UI goroutine only.
func (f *Findings) SetSearchIndex(index []string) {
	if f.haystack == nil && len(index) == len(f.Records) {
		f.haystack = index
	}
}

// Namespaces lists the namespaces findings are in, sorted.
func (f *Findings) Namespaces() []string {
	seen := map[string]bool{}
	var out []string
	for i := range f.Records {
		if ns := f.Records[i].Namespace; ns != "" && !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return out
}

// StatusOf is the triage status in force for a finding ID.
func StatusOf(triage map[string]store.Decision, id string) threats.Status {
	if d, ok := triage[id]; ok {
		return threats.Status(d.Status)
	}
	return threats.Open
}

// Group is a list of nodes that share a trust boundary: a namespace, or
// the internet for external entities.
type Group struct {
	Name     string // the namespace, or "internet"
	Boundary string // the boundary's ID
	Nodes    []int  // positions in Graph.Nodes, sorted by name
}

// GraphIndex is a scan's graph with the lookups the Map needs.
type GraphIndex struct {
	Graph    *model.Graph
	Groups   []Group
	In, Out  [][]int        // edge positions into and out of each node
	Findings map[string]int // findings per element ID
	nodes    map[string]int

	// Suggested is the least-privilege NetworkPolicies policy.Suggest
	// writes for the graph, worked out once as the graph loads (off the
	// event loop), so moving through the Map never recomputes it.
	Suggested policy.Suggestion
	policies  map[string]*networkingv1.NetworkPolicy // by namespace/name
	notes     [][]policy.Note                        // the notes concerning each node
}

// NewGraphIndex indexes g. findings may be nil.
func NewGraphIndex(g *model.Graph, findings *Findings) *GraphIndex {
	x := &GraphIndex{
		Graph:    g,
		In:       make([][]int, len(g.Nodes)),
		Out:      make([][]int, len(g.Nodes)),
		Findings: map[string]int{},
		nodes:    make(map[string]int, len(g.Nodes)),
	}
	for i := range g.Nodes {
		x.nodes[g.Nodes[i].ID] = i
	}
	for i := range g.Edges {
		if from, ok := x.nodes[g.Edges[i].From]; ok {
			x.Out[from] = append(x.Out[from], i)
		}
		if to, ok := x.nodes[g.Edges[i].To]; ok {
			x.In[to] = append(x.In[to], i)
		}
	}
	groups := map[string]*Group{}
	for i := range g.Nodes {
		name := GroupOf(&g.Nodes[i])
		boundary := "boundary:namespace:" + name
		switch name {
		case "internet":
			boundary = "boundary:internet"
		case "cluster":
			boundary = "boundary:cluster"
		}
		grp := groups[name]
		if grp == nil {
			grp = &Group{Name: name, Boundary: boundary}
			groups[name] = grp
		}
		grp.Nodes = append(grp.Nodes, i)
	}
	for _, grp := range groups {
		slices.SortFunc(grp.Nodes, func(a, b int) int {
			return cmp.Or(cmp.Compare(g.Nodes[a].Name, g.Nodes[b].Name), cmp.Compare(g.Nodes[a].ID, g.Nodes[b].ID))
		})
		x.Groups = append(x.Groups, *grp)
	}
	rank := func(name string) int { // the internet first, the cluster next, then namespaces
		switch name {
		case "internet":
			return 0
		case "cluster":
			return 1
		}
		return 2
	}
	slices.SortFunc(x.Groups, func(a, b Group) int {
		return cmp.Or(cmp.Compare(rank(a.Name), rank(b.Name)), cmp.Compare(a.Name, b.Name))
	})
	if findings != nil {
		for i := range findings.Records {
			x.Findings[findings.Records[i].Element]++
		}
	}
	x.suggest()
	return x
}

// suggest works out the graph's suggested policies and which workloads
// each note concerns: the workload it names, both ends of a flow it
// names, the workload whose reference dangles ("workload:ns/a => b").
func (x *GraphIndex) suggest() {
	g := x.Graph
	x.Suggested = policy.Suggest(g, policy.Options{})
	x.policies = make(map[string]*networkingv1.NetworkPolicy, len(x.Suggested.Policies))
	for _, p := range x.Suggested.Policies {
		x.policies[p.Namespace+"/"+p.Name] = p
	}
	x.notes = make([][]policy.Note, len(g.Nodes))
	edges := make(map[string]int, len(g.Edges))
	for i := range g.Edges {
		edges[g.Edges[i].ID] = i
	}
	concerns := func(id string, n policy.Note) {
		if i, ok := x.nodes[id]; ok {
			x.notes[i] = append(x.notes[i], n)
		}
	}
	for _, n := range x.Suggested.Notes {
		if e, ok := edges[n.Subject]; ok {
			concerns(g.Edges[e].From, n)
			if g.Edges[e].To != g.Edges[e].From {
				concerns(g.Edges[e].To, n)
			}
			continue
		}
		from, _, _ := strings.Cut(n.Subject, " => ")
		concerns(from, n)
	}
}

// SuggestedFor is the policy suggested for the workload at position ni
// (nil when it has none: no flows, or no selector can single its pods
// out) and the notes that concern it.
func (x *GraphIndex) SuggestedFor(ni int) (*networkingv1.NetworkPolicy, []policy.Note) {
	n := &x.Graph.Nodes[ni]
	if n.Workload == nil {
		return nil, x.notes[ni]
	}
	return x.policies[n.Namespace+"/"+policy.WorkloadPolicyName(n)], x.notes[ni]
}

// Node returns the position of the node with id.
func (x *GraphIndex) Node(id string) (int, bool) {
	i, ok := x.nodes[id]
	return i, ok
}

// GroupOf is the boundary a node is listed under: its namespace, "internet"
// for external entities, "cluster" for cluster-scoped elements.
func GroupOf(n *model.Node) string {
	switch {
	case n.Type == model.ExternalEntity:
		return "internet"
	case n.Namespace == "":
		return "cluster"
	}
	return n.Namespace
}
