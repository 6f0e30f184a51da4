package threats

import (
	"errors"
	"slices"
	"sort"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/parallel"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
)

// Assessment is what evaluating the catalog over a graph gives: the
// findings, and the rules whose condition held where a coverage gap hides
// what they depend on, so their verdict is unknown.
type Assessment struct {
	Findings    []Finding
	NotAssessed []store.NotAssessed
}

// Evaluate runs every rule of the catalog on every element it applies to
// and returns the findings in ID order; Assess also says which rules the
// graph's gaps left open. Errors from individual rules (a user rule that
// exceeds its cost limit, say) are returned joined; the findings of the
// other rules are still returned.
func Evaluate(g *model.Graph, c *catalog.Catalog) ([]Finding, error) {
	a, err := Assess(g, c)
	return a.Findings, err
}

// Assess runs every rule of the catalog on every element it applies to.
// Where a rule's condition holds but a kind it depends on is a gap of the
// graph covering the element, it is not assessed instead of raised: the
// control it would report missing may be in what could not be read. Both
// lists come in ID order.
func Assess(g *model.Graph, c *catalog.Catalog) (Assessment, error) {
	facts := newGraphFacts(g)
	gaps := gapsByRule(g.Gaps, c)
	texts := make(map[*catalog.Rule]*RuleText, len(c.Rules))
	for _, r := range c.Rules {
		texts[r] = &RuleText{Title: r.Title, Description: r.Description, Mitigation: r.Mitigation, References: r.References}
	}
	nodes := map[string]*model.Node{}
	for i := range g.Nodes {
		nodes[g.Nodes[i].ID] = &g.Nodes[i]
	}
	var jobs []func() (results, error)
	for i := range g.Nodes {
		n := &g.Nodes[i]
		target := catalog.Target(n.Type)
		jobs = append(jobs, func() (results, error) {
			v := &catalog.Vars{Node: n, Ctx: facts.nodeContext(n)}
			return evaluate(c, gaps, texts, target, v, element{n.ID, n.Namespace, []string{n.Namespace}, n.Evidence, facts.controlsOf[n.ID], facts.data[n.ID], facts.guessed[n.ID], facts.entry[n.ID]})
		})
	}
	for i := range g.Edges {
		e := &g.Edges[i]
		from, to := nodes[e.From], nodes[e.To]
		if from == nil || to == nil {
			continue
		}
		jobs = append(jobs, func() (results, error) {
			ctx := facts.edgeContext(e, from, to)
			v := &catalog.Vars{Edge: e, From: from, To: to, Ctx: ctx}
			_, guessed := facts.edgeData(e, from, to)
			return evaluate(c, gaps, texts, catalog.TargetFlow, v, element{e.ID, to.Namespace, flowNamespaces(from, to), e.Evidence, facts.controlsOf[e.ID], ctx.Data, guessed, e.From == model.InternetID})
		})
	}
	for i := range g.Boundaries {
		b := &g.Boundaries[i]
		target := catalog.TargetBoundary
		switch b.Type {
		case model.BoundaryCluster:
			target = catalog.TargetCluster
		case model.BoundaryInternet:
			continue
		}
		jobs = append(jobs, func() (results, error) {
			ctx := facts.boundaryContext(b)
			ns := ""
			if b.Type == model.BoundaryNamespace {
				ns = b.Name
			}
			return evaluate(c, gaps, texts, target, &catalog.Vars{Boundary: b, Ctx: ctx}, element{b.ID, ns, []string{ns}, facts.controlEvidence(b.ID), nil, ctx.Data, nil, false})
		})
	}
	all, err := runParallel(jobs)
	shareDetails(all.findings)
	sort.Slice(all.findings, func(i, j int) bool { return all.findings[i].ID < all.findings[j].ID })
	sort.Slice(all.notAssessed, func(i, j int) bool { return all.notAssessed[i].ID() < all.notAssessed[j].ID() })
	return Assessment{Findings: all.findings, NotAssessed: all.notAssessed}, err
}

// shareDetails makes equal evidence details of the findings one string.
// The rules build them element by element ("container server", "port
// 80"), and a large scan's findings repeat half of them: the copies were
// a tenth of the findings' memory, which lives until the scan is stored.
func shareDetails(findings []Finding) {
	seen := map[string]string{}
	for i := range findings {
		for j := range findings[i].Evidence {
			ev := &findings[i].Evidence[j]
			if ev.Detail == "" {
				continue
			}
			if shared, ok := seen[ev.Detail]; ok {
				ev.Detail = shared
			} else {
				seen[ev.Detail] = ev.Detail
			}
		}
	}
}

// results are what the rules gave on some elements.
type results struct {
	findings    []Finding
	notAssessed []store.NotAssessed
}

// gapsByRule lists, for each rule that depends on a kind the scan could
// not read, the gaps of those kinds, in the graph's order.
func gapsByRule(gaps []discover.Gap, c *catalog.Catalog) map[*catalog.Rule][]discover.Gap {
	if len(gaps) == 0 {
		return nil
	}
	out := map[*catalog.Rule][]discover.Gap{}
	for _, r := range c.Rules {
		kinds := r.DependsOn()
		for _, gap := range gaps {
			if slices.Contains(kinds, gap.GroupKind()) || slices.Contains(kinds, gap.Group+"/*") {
				out[r] = append(out[r], gap)
			}
		}
	}
	return out
}

// flowNamespaces are the namespaces whose objects decide a flow's verdict:
// those of its ends inside the cluster, or "" when neither is.
func flowNamespaces(from, to *model.Node) []string {
	var out []string
	for _, ns := range []string{from.Namespace, to.Namespace} {
		if ns != "" && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	if len(out) == 0 {
		return []string{""}
	}
	return out
}

// element is what a finding records about the element it is on.
type element struct {
	id, namespace string
	// scopes are the namespaces whose objects the element's verdicts
	// read; "" for the cluster and what lies outside it.
	scopes   []string
	evidence []model.Evidence
	// located are the element's controls (and weaknesses), whose
	// evidence says where a detail a rule quotes was seen.
	located []*model.Control
	data    []string // data classes it touches
	guessed []string // those of them only element names suggest
	entry   bool     // an entry point from the internet
}

// evaluate runs the rules that apply to one element.
func evaluate(c *catalog.Catalog, gaps map[*catalog.Rule][]discover.Gap, texts map[*catalog.Rule]*RuleText, target catalog.Target, v *catalog.Vars, el element) (results, error) {
	var out results
	var errs []error
	// The rules that hold, gathered first so that the findings, a few
	// hundred bytes each, are allocated once at their number rather than
	// grown: growing them was a quarter of what the catalog allocated.
	type match struct {
		rule    *catalog.Rule
		details []string
	}
	var held [8]match
	matches := held[:0]
	for _, r := range c.Rules {
		if !r.Applies(target) {
			continue
		}
		matched, details, err := r.Match(v)
		if err != nil {
			errs = append(errs, err)
		}
		if !matched {
			continue
		}
		if gap, ok := covering(gaps[r], el.scopes); ok {
			out.notAssessed = append(out.notAssessed, store.NotAssessed{RuleID: r.ID, Title: r.Title, Element: el.id, Namespace: el.namespace, Gap: gap})
			continue
		}
		matches = append(matches, match{r, details})
	}
	if len(matches) > 0 {
		out.findings = make([]Finding, 0, len(matches))
	}
	for _, m := range matches {
		r, details := m.rule, m.details
		f := Finding{
			ID: r.ID + "@" + el.id, RuleID: r.ID, Stride: r.Stride,
			Element: el.id, ElementType: target, Namespace: el.namespace,
			MissingControl: r.MissingControl, Texts: texts[r],
			Evidence: findingEvidence(el.evidence, el.located, details),
		}
		rate(&f, r, el.entry, v.Edge, el.data, el.guessed)
		out.findings = append(out.findings, f)
	}
	return out, errors.Join(errs...)
}

// covering is the first of gaps that covers one of the namespaces.
func covering(gaps []discover.Gap, namespaces []string) (discover.Gap, bool) {
	for _, gap := range gaps {
		for _, ns := range namespaces {
			if gap.Covers(ns) {
				return gap, true
			}
		}
	}
	return discover.Gap{}, false
}

// findingEvidence lists what proves a finding, the line that proves it
// first: in the details' order, those that carry their own location
// (catalog.Located: the line of a setting) and those the rule quotes from
// a control or weakness of the element, which keep that evidence's place
// (the ConfigMap key, the Secret, the env var); then the element's own
// evidence; then the other details, attached to the element's first
// location.
func findingEvidence(element []model.Evidence, located []*model.Control, details []string) []model.Evidence {
	out := make([]model.Evidence, 0, len(element)+len(details))
	var rest []string
	for _, d := range details {
		if ev, ok := catalog.SplitLocated(d); ok {
			out = append(out, ev)
			continue
		}
		if ev, ok := quoted(located, d); ok {
			out = append(out, ev)
			continue
		}
		rest = append(rest, d)
	}
	out = append(out, element...)
	var at model.Evidence
	if len(element) > 0 {
		at = model.Evidence{File: element[0].File, Line: element[0].Line, Object: element[0].Object}
	}
	for _, d := range rest {
		ev := at
		ev.Detail = d
		out = append(out, ev)
	}
	return out
}

// quoted is the first evidence of the controls that located detail d.
func quoted(controls []*model.Control, d string) (model.Evidence, bool) {
	for _, c := range controls {
		for _, ev := range c.Evidence {
			if ev.Detail == d && ev.File != "" {
				return ev, true
			}
		}
	}
	return model.Evidence{}, false
}

// runParallel runs jobs on all cores and gathers their results, in the
// jobs' order.
func runParallel(jobs []func() (results, error)) (results, error) {
	type done struct {
		results
		err error
	}
	each := parallel.Map(len(jobs), func(i int) done {
		r, err := jobs[i]()
		return done{r, err}
	})
	total := 0
	for _, r := range each {
		total += len(r.findings)
	}
	all := results{findings: make([]Finding, 0, total)}
	var errs []error
	for _, r := range each {
		all.findings = append(all.findings, r.findings...)
		all.notAssessed = append(all.notAssessed, r.notAssessed...)
		errs = append(errs, r.err)
	}
	return all, errors.Join(errs...)
}
