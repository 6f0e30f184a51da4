package export

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

// ReportSchemaVersion is the version of the report's JSON form
// (docs/report-json.md). Bump it when a field changes meaning or
// disappears; adding a field does not.
const ReportSchemaVersion = 1

// Report is everything a report shows, in every format: the HTML,
// Markdown, JSON, SARIF and Threat Dragon writers all read it. Its JSON
// form is documented in docs/report-json.md.
type Report struct {
	SchemaVersion int         `json:"schemaVersion"`
	Title         string      `json:"title"`
	Tool          ToolInfo    `json:"tool"`
	GeneratedAt   time.Time   `json:"generatedAt"`
	Scan          ReportScan  `json:"scan"`
	Scope         *Scope      `json:"scope,omitempty"`
	Summary       Summary     `json:"summary"`
	Matrix        []MatrixRow `json:"matrix"`
	// EntryPoints are the flows from the internet into the system.
	EntryPoints []EntryPoint `json:"entryPoints"`
	// PlaintextFlows are the IDs of the flows known to be unencrypted, so
	// a report can serve as the baseline of a later scan.
	PlaintextFlows []string `json:"plaintextFlows"`
	// AttackPaths are chains of flows from the internet to sensitive data
	// with unprotected hops, as the attack-path rules found them.
	AttackPaths []AttackPath `json:"attackPaths"`
	// Findings, most severe first, each with its rule's text, evidence and
	// triage decision.
	Findings   []threats.Finding  `json:"findings"`
	Questions  []QuestionAnswer   `json:"questions"`
	Namespaces []NamespaceSummary `json:"namespaces"`
	// Coverage lists the kinds a live scan could not read, each with the
	// checks it left not assessed; empty when everything was read.
	Coverage []CoverageGap `json:"coverage"`
	// Changes is the drift since an earlier scan of the same target (the
	// previous one unless told otherwise), in stridemap diff's form; absent
	// when there is no earlier scan to compare with.
	Changes *Diff `json:"changes,omitempty"`
	// Policies is the appendix "Suggested NetworkPolicies": per namespace
	// of the report, the least-privilege policies for its flows
	// (policy.Suggest) and what they cannot express.
	Policies []NamespacePolicies `json:"suggestedPolicies"`

	// Graph is the (scoped) graph the report describes, for diagrams.
	Graph *model.Graph `json:"-"`

	// places locates findings whose evidence names no file (a namespace
	// without a default-deny policy, the cluster without admission
	// control): by element ID, and "" for anything else.
	places map[string]model.Evidence
}

// ToolInfo names the program that wrote the report.
type ToolInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// ReportScan describes the scan a report was made from.
type ReportScan struct {
	ID          int64             `json:"id"`
	StartedAt   time.Time         `json:"startedAt"`
	FinishedAt  time.Time         `json:"finishedAt"`
	Partial     bool              `json:"partial"`
	ToolVersion string            `json:"toolVersion"`
	Catalog     string            `json:"catalog"`
	Sources     []discover.Source `json:"sources"`
}

// Summary holds the headline numbers.
type Summary struct {
	Elements       map[model.NodeType]int `json:"elements"`
	Flows          int                    `json:"flows"`
	PlaintextFlows int                    `json:"plaintextFlows"`
	Boundaries     int                    `json:"boundaries"`
	Controls       int                    `json:"controls"`
	EntryPoints    int                    `json:"entryPoints"`
	Dangling       int                    `json:"dangling"`
	// Wire compares the declared flows with those seen on the wire; nil
	// when the scan holds no observation.
	Wire *WireSummary `json:"wire,omitempty"`

	Findings       int            `json:"findings"`
	Open           int            `json:"open"`
	BySeverity     SeverityCounts `json:"bySeverity"`
	OpenBySeverity SeverityCounts `json:"openBySeverity"`
	// ByStatus counts findings by triage status (open, accepted, mitigated,
	// false-positive).
	ByStatus map[threats.Status]int `json:"byStatus"`
	// HighestOpen is the most severe open finding's severity, "" when none.
	HighestOpen threats.Severity `json:"highestOpen,omitempty"`

	Questions int `json:"questions"`
	Answered  int `json:"answered"`

	// NotAssessed counts the checks coverage gaps left open: neither
	// findings nor passed.
	NotAssessed int `json:"notAssessed"`
}

// CoverageGap is a kind a live scan could not read and the checks that,
// for want of it, were not assessed.
type CoverageGap struct {
	Gap         discover.Gap        `json:"gap"`
	NotAssessed []store.NotAssessed `json:"notAssessed"`
}

// ElementCount is the number of elements of all types.
func (s Summary) ElementCount() int {
	n := 0
	for _, c := range s.Elements {
		n += c
	}
	return n
}

// MatrixRow is one STRIDE category's findings by severity.
type MatrixRow struct {
	Stride catalog.Stride `json:"stride"`
	Letter string         `json:"letter"`
	All    SeverityCounts `json:"all"`
	Open   SeverityCounts `json:"open"`
}

// EntryPoint is a flow from the internet into the system.
type EntryPoint struct {
	Edge       string           `json:"edge"`
	To         string           `json:"to"`
	Port       int32            `json:"port,omitempty"`
	Protocol   string           `json:"protocol"`
	Encryption model.Encryption `json:"encryption"`
	Via        string           `json:"via,omitempty"`
}

// WireSummary compares what the manifests declare with what was seen on
// the wire (stridemap observe, scan --flows).
type WireSummary struct {
	Observed   int `json:"observed"`   // flows seen on the wire
	Undeclared int `json:"undeclared"` // seen, declared by no manifest
	Unseen     int `json:"unseen"`     // declared, never seen
	// Plaintext counts flows seen in clear whose declaration says TLS or
	// mTLS.
	Plaintext int `json:"plaintext"`
	// Unclassified counts flows whose protocol and encryption are unknown
	// because the observer could not peek at payloads where they were
	// seen (model.Observation.Unclassified).
	Unclassified int `json:"unclassified"`
}

// AttackPath is a chain of flows from the internet to an element holding
// sensitive data, and the gaps on it.
type AttackPath struct {
	Finding  string           `json:"finding"`
	Target   string           `json:"target"`
	Severity threats.Severity `json:"severity"`
	Status   threats.Status   `json:"status"`
	Path     []string         `json:"path"`
	Gaps     []string         `json:"gaps"`
}

// QuestionAnswer is a review question and the answer in force, if any.
type QuestionAnswer struct {
	catalog.Question
	Answer *Answer `json:"answer,omitempty"`
}

// Answer is a stored answer to a review question.
type Answer struct {
	Value string    `json:"value"`
	Note  string    `json:"note,omitempty"`
	By    string    `json:"by,omitempty"`
	At    time.Time `json:"at"`
}

// NamespaceSummary is one namespace's size and open threats: the index a
// reader of a large system's report uses to pick a namespace to look at.
type NamespaceSummary struct {
	Namespace string         `json:"namespace"`
	Elements  int            `json:"elements"`
	Flows     int            `json:"flows"`
	Open      SeverityCounts `json:"open"`
}

// ReportInput is what BuildReport reads: one scan from the store.
type ReportInput struct {
	Title       string
	ToolVersion string
	GeneratedAt time.Time
	Scan        store.ScanInfo
	Graph       *model.Graph
	Findings    []threats.Finding // with triage applied (threats.Load)
	Questions   []catalog.Question
	Answers     map[string]store.Decision
	Scope       Scope
	// Objects is the scan's inventory index (store.Objects); optional. It
	// places findings on a namespace at its Namespace object.
	Objects []store.ObjectRef
	// NotAssessed are the checks the graph's gaps left open
	// (store.NotAssessed).
	NotAssessed []store.NotAssessed
	// Changes is the drift since an earlier scan, already narrowed to
	// Scope (NarrowSnapshot); optional.
	Changes *Diff
}

// BuildReport narrows the input to its scope and computes what every
// report format shows. Findings are kept when their element is in the
// scoped graph.
func BuildReport(in ReportInput) (*Report, error) {
	g := in.Graph
	if g == nil {
		g = &model.Graph{}
	}
	g, err := Narrow(g, in.Scope)
	if err != nil {
		return nil, err
	}
	findings := in.Findings
	if !in.Scope.IsZero() {
		findings = findingsIn(g, findings)
	}
	findings = slices.Clone(findings)
	SortFindings(findings)

	r := &Report{
		SchemaVersion: ReportSchemaVersion,
		Title:         in.Title,
		Tool:          ToolInfo{Name: "stridemap", Version: in.ToolVersion},
		GeneratedAt:   in.GeneratedAt.UTC(),
		Scan: ReportScan{
			ID: in.Scan.ID, StartedAt: in.Scan.StartedAt, FinishedAt: in.Scan.FinishedAt, Partial: in.Scan.Partial,
			ToolVersion: in.Scan.ToolVersion, Catalog: in.Scan.Catalog, Sources: in.Scan.Sources,
		},
		Findings:       findings,
		Graph:          g,
		EntryPoints:    []EntryPoint{},
		PlaintextFlows: []string{},
		AttackPaths:    []AttackPath{},
		Questions:      []QuestionAnswer{},
		Changes:        in.Changes,
	}
	if r.Scan.Sources == nil {
		r.Scan.Sources = []discover.Source{}
	}
	if !in.Scope.IsZero() {
		scope := in.Scope
		r.Scope = &scope
	}
	if r.Findings == nil {
		r.Findings = []threats.Finding{}
	}
	r.summarise(g)
	r.matrix()
	r.attackPaths()
	for _, q := range in.Questions {
		qa := QuestionAnswer{Question: q}
		if d, ok := in.Answers[q.ID]; ok {
			qa.Answer = &Answer{Value: d.Status, Note: d.Reason, By: d.Who, At: d.At.UTC()}
			r.Summary.Answered++
		}
		r.Questions = append(r.Questions, qa)
	}
	r.Summary.Questions = len(r.Questions)
	r.namespaces(g)
	r.locate(g, in.Objects)
	r.coverage(g, in.NotAssessed, !in.Scope.IsZero())
	full := in.Graph
	if full == nil {
		full = g
	}
	r.suggestPolicies(full, g, in.Scope)
	return r, nil
}

// locate finds a manifest line for each boundary and for the system as a
// whole: a namespace's Namespace object, else the first of its workloads;
// the first object scanned for the rest.
func (r *Report) locate(g *model.Graph, objects []store.ObjectRef) {
	r.places = map[string]model.Evidence{}
	for _, o := range objects {
		if o.Kind == "Namespace" && o.Location.File != "" {
			id := "boundary:namespace:" + o.Name
			if _, ok := r.places[id]; !ok {
				r.places[id] = model.Evidence{File: o.Location.File, Line: o.Location.Line, Object: "Namespace " + o.Name}
			}
		}
		if _, ok := r.places[""]; !ok && o.Location.File != "" {
			r.places[""] = model.Evidence{File: o.Location.File, Line: o.Location.Line, Object: o.Kind + " " + strings.TrimPrefix(o.Namespace+"/"+o.Name, "/")}
		}
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		if len(n.Evidence) == 0 || n.Evidence[0].File == "" {
			continue
		}
		if id := "boundary:namespace:" + n.Namespace; n.Namespace != "" {
			if _, ok := r.places[id]; !ok {
				r.places[id] = n.Evidence[0]
			}
		}
		if _, ok := r.places[""]; !ok {
			r.places[""] = n.Evidence[0]
		}
	}
}

// Place is where a finding whose evidence names no file is located: its
// boundary's manifest, else the first scanned one. ok is false when the
// report knows no manifest at all.
func (r *Report) Place(f *threats.Finding) (model.Evidence, bool) {
	if ev, ok := r.places[f.Element]; ok {
		return ev, true
	}
	ev, ok := r.places[""]
	return ev, ok
}

// coverage groups the checks not assessed by the gap that left them open;
// with a scope, only those on its elements.
func (r *Report) coverage(g *model.Graph, notAssessed []store.NotAssessed, scoped bool) {
	r.Coverage = make([]CoverageGap, 0, len(g.Gaps))
	index := map[discover.Gap]int{}
	for _, gap := range g.Gaps {
		index[gap] = len(r.Coverage)
		r.Coverage = append(r.Coverage, CoverageGap{Gap: gap, NotAssessed: []store.NotAssessed{}})
	}
	in := elementsOf(g)
	for _, n := range notAssessed {
		i, ok := index[n.Gap]
		if !ok || (scoped && !in[n.Element]) {
			continue
		}
		r.Coverage[i].NotAssessed = append(r.Coverage[i].NotAssessed, n)
		r.Summary.NotAssessed++
	}
}

// SortFindings orders findings most severe first, then by ID.
func SortFindings(findings []threats.Finding) {
	sort.SliceStable(findings, func(i, j int) bool {
		if a, b := findings[i].Severity.Rank(), findings[j].Severity.Rank(); a != b {
			return a > b
		}
		return findings[i].ID < findings[j].ID
	})
}

// findingsIn keeps the findings whose element is a node, edge or boundary
// of g.
func findingsIn(g *model.Graph, findings []threats.Finding) []threats.Finding {
	in := elementsOf(g)
	var out []threats.Finding
	for _, f := range findings {
		if in[f.Element] {
			out = append(out, f)
		}
	}
	return out
}

// elementsOf is the IDs of g's nodes, edges and boundaries.
func elementsOf(g *model.Graph) map[string]bool {
	in := map[string]bool{}
	for i := range g.Nodes {
		in[g.Nodes[i].ID] = true
	}
	for i := range g.Edges {
		in[g.Edges[i].ID] = true
	}
	for i := range g.Boundaries {
		in[g.Boundaries[i].ID] = true
	}
	return in
}

// StatusOf is a finding's triage status: open unless decided otherwise.
func StatusOf(f *threats.Finding) threats.Status {
	if f.Triage == nil {
		return threats.Open
	}
	return f.Triage.Status
}

func (r *Report) summarise(g *model.Graph) {
	s := &r.Summary
	s.Elements = map[model.NodeType]int{}
	for i := range g.Nodes {
		s.Elements[g.Nodes[i].Type]++
	}
	s.Flows, s.Boundaries, s.Controls, s.Dangling = len(g.Edges), len(g.Boundaries), len(g.Controls), len(g.Dangling)
	for i := range g.Edges {
		e := &g.Edges[i]
		if e.Encryption == model.EncryptionPlaintext {
			s.PlaintextFlows++
			r.PlaintextFlows = append(r.PlaintextFlows, e.ID)
		}
		if e.From == model.InternetID {
			r.EntryPoints = append(r.EntryPoints, EntryPoint{Edge: e.ID, To: e.To, Port: e.Port, Protocol: e.Protocol, Encryption: e.Encryption, Via: e.Via})
		}
	}
	slices.SortFunc(r.EntryPoints, func(a, b EntryPoint) int { return cmp.Compare(a.Edge, b.Edge) })
	slices.Sort(r.PlaintextFlows)
	s.EntryPoints = len(r.EntryPoints)
	s.Wire = wireSummary(g)
	s.ByStatus = map[threats.Status]int{}
	for i := range r.Findings {
		f := &r.Findings[i]
		s.Findings++
		s.BySeverity.Add(f.Severity)
		s.ByStatus[StatusOf(f)]++
		if f.IsOpen() {
			s.Open++
			s.OpenBySeverity.Add(f.Severity)
		}
	}
	s.HighestOpen = s.OpenBySeverity.Highest()
}

func (r *Report) matrix() {
	rows := map[catalog.Stride]*MatrixRow{}
	for _, st := range catalog.Strides {
		r.Matrix = append(r.Matrix, MatrixRow{Stride: st, Letter: st.Letter()})
	}
	for i := range r.Matrix {
		rows[r.Matrix[i].Stride] = &r.Matrix[i]
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		row := rows[f.Stride]
		if row == nil {
			continue
		}
		row.All.Add(f.Severity)
		if f.IsOpen() {
			row.Open.Add(f.Severity)
		}
	}
}

// Evidence details of attack-path findings start with these prefixes
// (catalog/rules/attack-paths.yaml).
const (
	pathPrefix = "path: "
	gapPrefix  = "gap: "
)

func (r *Report) attackPaths() {
	for i := range r.Findings {
		f := &r.Findings[i]
		var p *AttackPath
		for _, ev := range f.Evidence {
			if rest, ok := strings.CutPrefix(ev.Detail, pathPrefix); ok && p == nil {
				p = &AttackPath{Finding: f.ID, Target: f.Element, Severity: f.Severity, Status: StatusOf(f), Path: strings.Split(rest, " → "), Gaps: []string{}}
			}
		}
		if p == nil {
			continue
		}
		for _, ev := range f.Evidence {
			if gap, ok := strings.CutPrefix(ev.Detail, gapPrefix); ok {
				p.Gaps = append(p.Gaps, gap)
			}
		}
		r.AttackPaths = append(r.AttackPaths, *p)
	}
}

func (r *Report) namespaces(g *model.Graph) {
	byNS := map[string]*NamespaceSummary{}
	get := func(ns string) *NamespaceSummary {
		if ns == "" {
			return nil
		}
		s := byNS[ns]
		if s == nil {
			s = &NamespaceSummary{Namespace: ns}
			byNS[ns] = s
		}
		return s
	}
	nsOf := map[string]string{}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		nsOf[n.ID] = n.Namespace
		if s := get(n.Namespace); s != nil {
			s.Elements++
		}
	}
	for i := range g.Edges {
		e := &g.Edges[i]
		from, to := nsOf[e.From], nsOf[e.To]
		if s := get(from); s != nil {
			s.Flows++
		}
		if to != from {
			if s := get(to); s != nil {
				s.Flows++
			}
		}
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.IsOpen() {
			if s := get(f.Namespace); s != nil {
				s.Open.Add(f.Severity)
			}
		}
	}
	r.Namespaces = make([]NamespaceSummary, 0, len(byNS))
	for _, s := range byNS {
		r.Namespaces = append(r.Namespaces, *s)
	}
	// Most open risk first, then by name.
	slices.SortFunc(r.Namespaces, func(a, b NamespaceSummary) int {
		for i := len(threats.Severities) - 1; i >= 0; i-- {
			sev := threats.Severities[i]
			if c := cmp.Compare(b.Open.Of(sev), a.Open.Of(sev)); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.Namespace, b.Namespace)
	})
}

// OpenAtOrAbove counts the open findings at or above min: what --fail-on
// gates on.
func (r *Report) OpenAtOrAbove(min threats.Severity) int {
	n := 0
	for i := range r.Findings {
		if r.Findings[i].IsOpen() && r.Findings[i].Severity.Rank() >= min.Rank() {
			n++
		}
	}
	return n
}

// RuleGroup is the findings of one rule, with the rule's text once.
type RuleGroup struct {
	RuleID         string
	Title          string
	Stride         catalog.Stride
	Description    string
	Mitigation     string
	References     catalog.References
	MissingControl string
	Worst          threats.Severity
	Counts         SeverityCounts
	Findings       []*threats.Finding
}

// RuleGroups groups the report's findings by rule, the group with the most
// severe finding first.
func (r *Report) RuleGroups() []*RuleGroup {
	var groups []*RuleGroup
	byRule := map[string]*RuleGroup{}
	for i := range r.Findings {
		f := &r.Findings[i]
		g := byRule[f.RuleID]
		if g == nil {
			g = &RuleGroup{RuleID: f.RuleID, Title: f.Title(), Stride: f.Stride, Description: f.Description(), Mitigation: f.Mitigation(),
				References: f.References(), MissingControl: f.MissingControl, Worst: f.Severity}
			byRule[f.RuleID] = g
			groups = append(groups, g) // findings are sorted, so groups come in order of their worst
		}
		g.Counts.Add(f.Severity)
		g.Findings = append(g.Findings, f)
	}
	return groups
}

// ReferenceList flattens a rule's references, CWE first.
func ReferenceList(refs catalog.References) []string {
	return slices.Concat(refs.CWE, refs.CAPEC, refs.ATTACK, refs.OWASP, refs.NSA)
}

// wireSummary compares declared and observed flows; nil when nothing was
// observed.
func wireSummary(g *model.Graph) *WireSummary {
	var w WireSummary
	for i := range g.Edges {
		e := &g.Edges[i]
		switch {
		case e.Observed && !e.Declared:
			w.Undeclared++
		case e.Declared && !e.Observed:
			w.Unseen++
		}
		if e.Observed {
			w.Observed++
			if o := e.Observation; o != nil && o.Encryption == model.EncryptionPlaintext && (e.Encryption == model.EncryptionTLS || e.Encryption == model.EncryptionMTLS) {
				w.Plaintext++
			}
			if o := e.Observation; o != nil && o.Unclassified {
				w.Unclassified++
			}
		}
	}
	if w.Observed == 0 {
		return nil
	}
	return &w
}
