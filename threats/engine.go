package threats

import (
	"errors"
	"runtime"
	"sort"
	"sync"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/model"
)

// Evaluate runs every rule of the catalog on every element it applies to
// and returns the findings in ID order. Errors from individual rules (a
// user rule that exceeds its cost limit, say) are returned joined; the
// findings of the other rules are still returned.
func Evaluate(g *model.Graph, c *catalog.Catalog) ([]Finding, error) {
	facts := newGraphFacts(g)
	nodes := map[string]*model.Node{}
	for i := range g.Nodes {
		nodes[g.Nodes[i].ID] = &g.Nodes[i]
	}
	var jobs []func() ([]Finding, error)
	for i := range g.Nodes {
		n := &g.Nodes[i]
		target := catalog.Target(n.Type)
		jobs = append(jobs, func() ([]Finding, error) {
			v := &catalog.Vars{Node: n, Ctx: facts.nodeContext(n)}
			return evaluate(c, target, v, element{n.ID, n.Namespace, n.Evidence, facts.data[n.ID], facts.entry[n.ID]})
		})
	}
	for i := range g.Edges {
		e := &g.Edges[i]
		from, to := nodes[e.From], nodes[e.To]
		if from == nil || to == nil {
			continue
		}
		jobs = append(jobs, func() ([]Finding, error) {
			ctx := facts.edgeContext(e, from, to)
			v := &catalog.Vars{Edge: e, From: from, To: to, Ctx: ctx}
			return evaluate(c, catalog.TargetFlow, v, element{e.ID, to.Namespace, e.Evidence, ctx.Data, e.From == model.InternetID})
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
		jobs = append(jobs, func() ([]Finding, error) {
			ctx := facts.boundaryContext(b)
			ns := ""
			if b.Type == model.BoundaryNamespace {
				ns = b.Name
			}
			return evaluate(c, target, &catalog.Vars{Boundary: b, Ctx: ctx}, element{b.ID, ns, facts.controlEvidence[b.ID], ctx.Data, false})
		})
	}
	findings, err := runParallel(jobs)
	sort.Slice(findings, func(i, j int) bool { return findings[i].ID < findings[j].ID })
	return findings, err
}

// element is what a finding records about the element it is on.
type element struct {
	id, namespace string
	evidence      []model.Evidence
	data          []string // data classes it touches
	entry         bool     // an entry point from the internet
}

// evaluate runs the rules that apply to one element.
func evaluate(c *catalog.Catalog, target catalog.Target, v *catalog.Vars, el element) ([]Finding, error) {
	var out []Finding
	var errs []error
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
		f := Finding{
			ID: r.ID + "@" + el.id, RuleID: r.ID, Title: r.Title, Stride: r.Stride,
			Element: el.id, ElementType: target, Namespace: el.namespace,
			MissingControl: r.MissingControl, Description: r.Description, Mitigation: r.Mitigation, References: r.References,
			Evidence: findingEvidence(el.evidence, details),
		}
		rate(&f, r, el.entry, v.Edge, el.data)
		out = append(out, f)
	}
	return out, errors.Join(errs...)
}

// findingEvidence is the element's own evidence, followed by what the
// rule's evidence expression pointed out, attached to the element's first
// location.
func findingEvidence(element []model.Evidence, details []string) []model.Evidence {
	out := make([]model.Evidence, 0, len(element)+len(details))
	out = append(out, element...)
	var at model.Evidence
	if len(element) > 0 {
		at = model.Evidence{File: element[0].File, Line: element[0].Line, Object: element[0].Object}
	}
	for _, d := range details {
		ev := at
		ev.Detail = d
		out = append(out, ev)
	}
	return out
}

// runParallel runs jobs on all cores and gathers their findings.
func runParallel(jobs []func() ([]Finding, error)) ([]Finding, error) {
	workers := runtime.GOMAXPROCS(0)
	results := make([][]Finding, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				results[i], errs[i] = jobs[i]()
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	total := 0
	for _, r := range results {
		total += len(r)
	}
	all := make([]Finding, 0, total)
	for _, r := range results {
		all = append(all, r...)
	}
	return all, errors.Join(errs...)
}
