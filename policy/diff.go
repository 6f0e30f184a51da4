package policy

import (
	"slices"
	"strconv"
	"strings"

	"github.com/stridemap/stridemap/model"
)

// Evaluator decides a flow between two nodes as a set of policies would:
// controls.PolicyEvaluator is one. The verdict is model.PolicyAllowed,
// model.PolicyDenied, or "" when no policy governs the flow; ok is false
// when the evaluator knows no such source or destination workload.
type Evaluator interface {
	Verdict(from, to string, port model.PodPort) (verdict string, evidence []model.Evidence, ok bool)
}

// DefaultMaxPairs bounds the pairs of workloads a diff evaluates: past it,
// only pairs within a namespace are, so a cluster of thousands of
// workloads does not cost millions of evaluations.
const DefaultMaxPairs = 250_000

// DiffOptions narrow a diff.
type DiffOptions struct {
	// Notes are the suggestion's: what it could not express, shown with
	// the flows it would deny.
	Notes []Note
	// Namespaces limit the destinations looked at; none: every namespace.
	Namespaces []string
	// MaxPairs bounds the pairs (source, destination, port) evaluated; 0
	// means DefaultMaxPairs.
	MaxPairs int
}

// Flow is one flow of the graph and what a set of policies decides.
type Flow struct {
	Edge     string           `json:"edge"`
	From     string           `json:"from"`
	To       string           `json:"to"`
	Port     model.PodPort    `json:"port"` // the destination pod's port; zero when unknown
	Declared bool             `json:"declared"`
	Observed bool             `json:"observed"`
	Verdict  string           `json:"verdict"` // allowed, denied, or "" when no policy governs it
	Evidence []model.Evidence `json:"evidence,omitempty"`
	// Reason says why the flow was not judged (Report.NotJudged only).
	Reason string `json:"reason,omitempty"`
}

// Pairs are the sources that may (or may no longer) reach one port of a
// destination workload with no flow of the graph behind them, and the
// policy rules that decide so.
type Pairs struct {
	To   string        `json:"to"`
	Port model.PodPort `json:"port"`
	From []string      `json:"from"`
	By   []string      `json:"by,omitempty"` // "NetworkPolicy ns/name spec.ingress[0]", sorted
}

// Report is today's policies against the flows, and what the suggestion
// would change.
type Report struct {
	// Observed says the graph holds flows seen on the wire: "unused" then
	// means neither declared nor seen, rather than only not declared.
	Observed bool `json:"observed"`
	// Used are the flows today's policies allow.
	Used []Flow `json:"used"`
	// Denied are the flows today's policies deny.
	Denied []Flow `json:"denied"`
	// Ungoverned are the flows that pass only because no policy selects
	// their destination for ingress.
	Ungoverned []Flow `json:"ungoverned"`
	// NotJudged are the flows no evaluation applies to: to a host outside
	// the cluster, to a gateway, or between nodes today's sources lack.
	NotJudged []Flow `json:"notJudged"`
	// Unused are the pairs a policy allows today that no flow uses.
	Unused []Pairs `json:"unused"`
	// Open are the pairs no policy governs today and no flow uses: their
	// destination has no ingress policy.
	Open []Pairs `json:"open"`
	// Broken are the flows the suggestion would not allow, with Notes
	// saying what it could not express.
	Broken []Flow `json:"broken"`
	Notes  []Note `json:"notes"`
	// Removes and Adds are the connectivity between workloads the
	// suggestion takes away from, and gives beyond, today's policies.
	Removes []Pairs `json:"removes"`
	Adds    []Pairs `json:"adds"`
	// Bounded says how pairs were limited, when they were.
	Bounded string `json:"bounded,omitempty"`
}

// Diff judges g's flows, declared and observed, with today's policies and
// the suggested ones, and compares the two over every pair of workloads on
// the ports their containers declare.
func Diff(g *model.Graph, today, suggested Evaluator, opts DiffOptions) Report {
	if opts.MaxPairs <= 0 {
		opts.MaxPairs = DefaultMaxPairs
	}
	r := Report{}
	inScope := func(ns string) bool { return len(opts.Namespaces) == 0 || slices.Contains(opts.Namespaces, ns) }
	byID := make(map[string]*model.Node, len(g.Nodes))
	for i := range g.Nodes {
		byID[g.Nodes[i].ID] = &g.Nodes[i]
	}
	used := map[string]bool{} // from, to and port number of every flow
	for _, e := range g.Edges {
		to := byID[e.To]
		if to == nil || !inScope(to.Namespace) {
			continue
		}
		r.Observed = r.Observed || e.Observed
		f := Flow{Edge: e.ID, From: e.From, To: e.To, Port: flowPort(to, &e), Declared: e.Declared, Observed: e.Observed}
		used[pairKey(e.From, e.To, f.Port.Number)] = true
		if to.Workload == nil {
			f.Reason = "its destination is no workload: no NetworkPolicy selects it"
			r.NotJudged = append(r.NotJudged, f)
			continue
		}
		verdict, evidence, ok := today.Verdict(e.From, e.To, f.Port)
		if !ok {
			f.Reason = "today's sources no longer hold its source or destination"
			r.NotJudged = append(r.NotJudged, f)
			continue
		}
		f.Verdict, f.Evidence = verdict, evidence
		switch verdict {
		case model.PolicyAllowed:
			r.Used = append(r.Used, f)
		case model.PolicyDenied:
			r.Denied = append(r.Denied, f)
		default:
			r.Ungoverned = append(r.Ungoverned, f)
		}
		if v, ev, ok := suggested.Verdict(e.From, e.To, f.Port); !ok || v != model.PolicyAllowed {
			f.Verdict, f.Evidence = v, ev
			r.Broken = append(r.Broken, f)
		}
	}
	r.Notes = opts.Notes
	r.comparePairs(g, today, suggested, used, inScope, opts.MaxPairs)
	return r
}

// comparePairs evaluates every pair of workloads on each port the
// destination declares, within a namespace only when there are more pairs
// than max.
func (r *Report) comparePairs(g *model.Graph, today, suggested Evaluator, used map[string]bool, inScope func(string) bool, max int) {
	var workloads []*model.Node
	for i := range g.Nodes {
		if n := &g.Nodes[i]; n.Workload != nil {
			workloads = append(workloads, n)
		}
	}
	pairs := 0
	for _, dst := range workloads {
		if inScope(dst.Namespace) {
			pairs += len(DeclaredPorts(dst)) * (len(workloads) - 1)
		}
	}
	sameNamespace := pairs > max
	if sameNamespace {
		r.Bounded = "only pairs within a namespace were compared: the graph has more pairs of workloads and ports than the limit; narrow it with -n"
	}
	for _, dst := range workloads {
		if !inScope(dst.Namespace) {
			continue
		}
		for _, port := range DeclaredPorts(dst) {
			var unused, open, removes, adds Pairs
			for _, p := range []*Pairs{&unused, &open, &removes, &adds} {
				*p = Pairs{To: dst.ID, Port: port}
			}
			for _, src := range workloads {
				if src.ID == dst.ID || (sameNamespace && src.Namespace != dst.Namespace) {
					continue
				}
				now, evidence, ok := today.Verdict(src.ID, dst.ID, port)
				if !ok {
					continue
				}
				if !used[pairKey(src.ID, dst.ID, port.Number)] && !used[pairKey(src.ID, dst.ID, 0)] {
					switch now {
					case model.PolicyAllowed:
						unused.add(src.ID, evidence)
					case "":
						open.add(src.ID, nil)
					}
				}
				then, thenEvidence, _ := suggested.Verdict(src.ID, dst.ID, port)
				switch {
				case now != model.PolicyDenied && then == model.PolicyDenied:
					removes.add(src.ID, thenEvidence)
				case now == model.PolicyDenied && then != model.PolicyDenied:
					adds.add(src.ID, thenEvidence)
				}
			}
			r.Unused = unused.appendTo(r.Unused)
			r.Open = open.appendTo(r.Open)
			r.Removes = removes.appendTo(r.Removes)
			r.Adds = adds.appendTo(r.Adds)
		}
	}
}

func (p *Pairs) add(from string, evidence []model.Evidence) {
	p.From = append(p.From, from)
	for _, e := range evidence {
		by := strings.TrimSpace(e.Object + " " + e.Field)
		if by != "" && !slices.Contains(p.By, by) {
			p.By = append(p.By, by)
		}
	}
}

func (p Pairs) appendTo(list []Pairs) []Pairs {
	if len(p.From) == 0 {
		return list
	}
	slices.Sort(p.From)
	slices.Sort(p.By)
	return append(list, p)
}

// pairKey names a pair on a port; port 0, a flow whose port is not
// known, stands for every port.
func pairKey(from, to string, port int32) string {
	return from + " " + to + " " + strconv.Itoa(int(port))
}

// FlowPort is the pod port a flow of a stored graph reaches: the Service's
// target port when the flow goes through one, with the name and protocol
// the destination's containers give it; the number alone when none
// declares it, zero when the flow names no port.
func FlowPort(g *model.Graph, e *model.Edge) model.PodPort {
	return flowPort(g.Node(e.To), e)
}

func flowPort(to *model.Node, e *model.Edge) model.PodPort {
	number := e.Port
	if e.TargetPort != 0 {
		number = e.TargetPort
	}
	if number == 0 {
		return model.PodPort{}
	}
	if to != nil && to.Workload != nil {
		for _, p := range DeclaredPorts(to) {
			if p.Number == number {
				return p
			}
		}
	}
	return model.PodPort{Number: number, Protocol: "TCP"}
}

// DeclaredPorts are the ports a workload's (not init) containers declare,
// once each, in order.
func DeclaredPorts(n *model.Node) []model.PodPort {
	var out []model.PodPort
	for _, c := range n.Workload.Containers {
		if c.Init {
			continue
		}
		for _, cp := range c.Ports {
			p := model.PodPort{Number: cp.Port, Name: cp.Name, Protocol: cp.Protocol}
			if p.Protocol == "" {
				p.Protocol = "TCP"
			}
			if !slices.ContainsFunc(out, func(q model.PodPort) bool { return q.Number == p.Number && q.Protocol == p.Protocol }) {
				out = append(out, p)
			}
		}
	}
	return out
}
