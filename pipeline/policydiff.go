package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/stridemap/stridemap/controls"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/policy"
)

// PolicyDiffRequest says how to judge a stored scan.
type PolicyDiffRequest struct {
	// Sources, when set, are read for today's policies instead of the
	// scan's own (which may be stdin, or files since moved).
	Sources *Request
	// DefaultNamespace is the namespace of manifests that name none when
	// the scan's own sources are read again; "" means "default".
	DefaultNamespace string
	// Suggest and Diff shape the suggestion and the comparison.
	Suggest policy.Options
	Diff    policy.DiffOptions
}

// PolicyDiffResult is the comparison and the suggestion it was made with.
type PolicyDiffResult struct {
	Suggestion policy.Suggestion
	Report     policy.Report
}

// PolicyDiff judges a stored scan's flows, declared and observed (which
// cannot be seen again), with the policies its sources hold today, read
// again, and with the policies policy.Suggest writes for it. When the
// sources declare other flows than the scan holds, it warns: the scan's
// flows are still the ones judged.
func PolicyDiff(ctx context.Context, env Env, info store.ScanInfo, stored *model.Graph, req PolicyDiffRequest) (*PolicyDiffResult, error) {
	r := newRun(env)
	sources := req.Sources
	if sources == nil {
		rereading, err := sourcesOf(info, req.DefaultNamespace)
		if err != nil {
			return nil, err
		}
		sources = &rereading
	}
	inv, live, err := r.collect(ctx, *sources)
	if err != nil {
		return nil, err
	}
	r.problems(inv.Problems)
	if len(inv.Objects) == 0 {
		return nil, nothingRead{problems: inv.Problems}
	}
	if req.Sources == nil && live != nil && live.Server != info.Target.Server {
		return nil, fmt.Errorf("scan #%d read the cluster at %s, and the kubeconfig context %q now reaches %s: name the cluster with --kubeconfig and --context", info.ID, safetext.Text(info.Target.Server), safetext.Text(info.Target.Context), safetext.Text(live.Server))
	}

	today, rebuilt := policyEvaluator(inv)
	if n := changedDeclaredFlows(stored, rebuilt); n > 0 {
		r.report.Warning(fmt.Sprintf("the sources declare %d flow(s) other than scan #%d holds: they changed since the scan; its flows are judged against today's policies (re-scan to judge today's flows)", n, info.ID))
	}
	suggestion := policy.Suggest(stored, req.Suggest)
	withSuggestion, err := replacePolicies(inv, suggestion)
	if err != nil {
		return nil, err
	}
	suggested, _ := policyEvaluator(withSuggestion)
	opts := req.Diff
	opts.Notes = suggestion.NotesFor(policy.FormatKubernetes) // the form judged here
	if len(opts.Namespaces) == 0 {
		opts.Namespaces = req.Suggest.Namespaces
	}
	return &PolicyDiffResult{Suggestion: suggestion, Report: policy.Diff(stored, today, suggested, opts)}, nil
}

// sourcesOf is a request that reads the scan's sources again, or an error
// naming those that cannot be.
func sourcesOf(info store.ScanInfo, defaultNamespace string) (Request, error) {
	t := info.Target
	advice := "re-scan, or name today's sources with -f PATH, -k DIR or --live"
	if t.IsZero() {
		return Request{}, fmt.Errorf("scan #%d does not record what it read: %s", info.ID, advice)
	}
	var gone []string
	if t.Stdin {
		gone = append(gone, "standard input (-f -)")
	}
	for _, p := range append(append([]string{}, t.Files...), t.Kustomize...) {
		if _, err := os.Stat(p); err != nil {
			gone = append(gone, safetext.Text(p))
		}
	}
	if len(gone) > 0 {
		return Request{}, fmt.Errorf("scan #%d read %s, which cannot be read again: %s", info.ID, strings.Join(gone, ", "), advice)
	}
	req := Request{Manifests: manifests.Request{Paths: t.Files, Kustomize: t.Kustomize, DefaultNamespace: defaultNamespace}}
	if t.Server != "" {
		req.Cluster = &cluster.Request{Context: t.Context, Namespaces: t.Namespaces}
	}
	return req, nil
}

// policyEvaluator builds the graph of inv for the evaluator of its
// policies alone: no other detector runs.
func policyEvaluator(inv *discover.Inventory) (*controls.PolicyEvaluator, *model.Graph) {
	var ev *controls.PolicyEvaluator
	g := model.Build(inv, func(ix *model.Index) { ev = controls.NewPolicyEvaluator(ix) })
	return ev, g
}

// replacePolicies is inv with its NetworkPolicies (Kubernetes, Cilium
// and Calico) taken out and the suggestion's put in: policies add up, so
// one the sources hold would admit what the suggestion does not.
func replacePolicies(inv *discover.Inventory, s policy.Suggestion) (*discover.Inventory, error) {
	data, err := policy.YAML(s.Policies)
	if err != nil {
		return nil, err
	}
	suggested, problems := manifests.Decode("stridemap-suggestion.yaml", data, "")
	if len(problems) > 0 {
		return nil, errors.New("the suggested policies could not be read back: " + problems[0].String())
	}
	out := *inv
	out.Objects = nil
	for _, o := range inv.Objects {
		if !strings.HasSuffix(o.Kind, "NetworkPolicy") {
			out.Objects = append(out.Objects, o)
		}
	}
	out.Objects = append(out.Objects, suggested...)
	return &out, nil
}

// changedDeclaredFlows counts the flows declared in one graph and not in
// the other.
func changedDeclaredFlows(stored, rebuilt *model.Graph) int {
	declared := map[string]int{}
	for _, e := range stored.Edges {
		if e.Declared {
			declared[e.ID]++
		}
	}
	for _, e := range rebuilt.Edges {
		if e.Declared {
			declared[e.ID]--
		}
	}
	n := 0
	for _, d := range declared {
		if d != 0 {
			n++
		}
	}
	return n
}
