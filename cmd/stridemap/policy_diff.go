package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/pipeline"
	"github.com/stridemap/stridemap/policy"
)

type policyDiffOptions struct {
	format     string
	from       string
	namespaces []string
	// failOn are the sections that, when not empty, make the command exit
	// 1: "denied", "open", "broken".
	failOn []string
	// sources, when named, replace the scan's own as where today's
	// policies are read.
	sources scanOptions
}

// newPolicyDiffCmd is "policy diff": today's policies against a scan's
// flows, and what the suggestion would change.
func (a *app) newPolicyDiffCmd() *cobra.Command {
	var opts policyDiffOptions
	cmd := &cobra.Command{
		Use:   "diff [SCAN]",
		Short: "Judge a scan's flows with today's NetworkPolicies, and show what the suggested policies would change",
		Long: `Judge every flow of a scan (declared and observed) with the NetworkPolicies
(and Cilium and Calico policies) its sources hold today, and compare them with
the policies "policy suggest" writes for it:

  allowed and used          flows today's policies allow
  used but denied           flows today's policies deny
  open                      flows that pass only because no policy selects the destination
  not judged                flows to a host outside the cluster or to a gateway
  allowed, never used       pairs of workloads a policy allows on a port the destination's
                            containers declare, with no flow behind them (with observed
                            flows: neither declared nor seen; otherwise: not declared)
  open, never used          the same for pairs no policy governs
  the suggestion would deny flows of the scan it cannot allow, with its notes
  removes / adds            connectivity between workloads the suggestion takes away from,
                            or gives beyond, today's policies

SCAN is a scan number (default: the latest). Today's policies are read from the
sources the scan recorded: its files, directories and kustomizations, or the
cluster it read. Flows seen on the wire cannot be seen again, so the scan's
flows are judged; when the sources now declare other flows, a warning says so.
A scan of standard input, or of files since moved, names its sources with -f,
-k or --live. -n narrows the suggestion and the comparison to namespaces; with
one -n, it is also the namespace of manifests that name none, as for scan.

Pairs are compared on each port the destination's containers declare; past
250000 pairs only pairs within a namespace are (said in the output).

For CI: --fail-on denied,open,broken (any of them) exits 1 after the report
when flows are used but denied today (denied), pass only because no policy
selects their destination (open), or would not be allowed by the suggestion
(broken). Exit codes: 0 done, 1 a --fail-on section has flows, 2 usage error
or nothing could be read.`,
		Example: `  stridemap scan -f shop/ -f shop-policies/
  stridemap policy diff
  stridemap policy diff 3 --format json
  stridemap policy diff -f today/ --from observed
  stridemap policy diff --fail-on denied,broken     # in CI: policies must admit every flow`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.format, err = choice("--format", opts.format, "text", "json"); err != nil {
				return err
			}
			if _, err := policy.ParseFrom(opts.from); err != nil {
				return err
			}
			for _, section := range opts.failOn {
				if _, err := choice("--fail-on", section, failOnSections...); err != nil {
					return err
				}
			}
			return a.runPolicyDiff(cmd.Context(), args, opts)
		},
	}
	cmd.Flags().StringVar(&opts.format, "format", "text", "text or json")
	cmd.Flags().StringVar(&opts.from, "from", string(policy.FromBoth), "the flows the suggestion allows: declared, observed or both")
	cmd.Flags().StringArrayVarP(&opts.namespaces, "namespace", "n", nil, "suggest for and compare in this namespace (repeatable; default: every namespace)")
	cmd.Flags().StringSliceVar(&opts.failOn, "fail-on", nil, "exit 1 when these sections have flows: denied (used but denied today), open (no policy selects the destination), broken (the suggestion would not allow them)")
	opts.sources.registerReadSources(cmd)
	return cmd
}

func (a *app) runPolicyDiff(ctx context.Context, args []string, opts policyDiffOptions) error {
	req := pipeline.PolicyDiffRequest{
		Suggest: policy.Options{From: policy.From(opts.from), Namespaces: opts.namespaces},
	}
	if len(opts.namespaces) == 1 {
		req.DefaultNamespace = opts.namespaces[0]
	}
	src := &opts.sources
	if len(src.files) > 0 || len(src.kustomize) > 0 || src.live || src.kubeconfig != "" || src.kubeCtx != "" {
		src.namespaces = opts.namespaces
		if err := src.checkSources("policy diff"); err != nil {
			return err
		}
		sources := src.request()
		sources.Manifests.Stdin = a.stdin
		req.Sources = &sources
	}
	s, err := a.readStore(ctx)
	if err != nil {
		return err
	}
	id, err := scanIDArg(ctx, s, args)
	if err != nil {
		s.Close()
		return err
	}
	info, err := s.Scan(ctx, id)
	var g *model.Graph
	if err == nil {
		g, err = s.Graph(ctx, id)
	}
	s.Close()
	if err != nil {
		return err
	}
	report := a.reporter()
	res, err := pipeline.PolicyDiff(ctx, a.env(report), info, g, req)
	report.done()
	if errors.Is(err, pipeline.ErrNothingRead) {
		return &exitError{code: exitUsage, message: err.Error()}
	}
	if err != nil {
		return err
	}
	if opts.format == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(struct {
			Scan int64 `json:"scan"`
			policy.Report
		}{id, res.Report})
	} else {
		err = writePolicyDiff(a.stdout, id, len(res.Suggestion.Policies), res.Report)
	}
	if err != nil {
		return err
	}
	return failOnFlows(res.Report, opts.failOn)
}

// failOnSections are the sections of a policy diff --fail-on names.
var failOnSections = []string{"denied", "open", "broken"}

// failOnFlows is the exit of a policy diff with --fail-on: 1, saying how
// many flows, when a section named has any.
func failOnFlows(r policy.Report, sections []string) error {
	counts := map[string]int{"denied": len(r.Denied), "open": len(r.Ungoverned), "broken": len(r.Broken)}
	what := map[string]string{"denied": "used but denied today", "open": "allowed only because no policy selects their destination", "broken": "the suggestion would not allow"}
	var failed []string
	for _, section := range failOnSections {
		if slices.Contains(sections, section) && counts[section] > 0 {
			failed = append(failed, fmt.Sprintf("%d flow(s) %s", counts[section], what[section]))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &exitError{code: exitFindings, message: strings.Join(failed, "; ") + " (--fail-on)"}
}

// writePolicyDiff prints the report's sections; every name from the input
// is escaped for the terminal.
func writePolicyDiff(w io.Writer, scan int64, policies int, r policy.Report) error {
	p := &printer{w: w}
	unused := "allowed today, never declared nor observed"
	open := "open today (no policy selects the destination), never declared nor observed"
	if !r.Observed {
		unused = "allowed today, not declared (the scan holds no observed flows: what runs may use them)"
		open = "open today (no policy selects the destination), not declared (the scan holds no observed flows)"
	}
	p.line("Scan #%d judged with today's policies, and with the %d suggested ones (stridemap policy suggest).", scan, policies)
	if r.Bounded != "" {
		p.line("Note: %s.", r.Bounded)
	}
	p.flows("Flows allowed and used", r.Used)
	p.flows("Flows used but denied today", r.Denied)
	p.flows("Flows allowed only because no policy selects their destination", r.Ungoverned)
	p.flows("Flows not judged", r.NotJudged)
	p.pairs("Pairs "+unused, r.Unused, true)
	p.pairs("Pairs "+open, r.Open, false)
	p.flows("Flows the suggestion would not allow", r.Broken)
	p.section("Notes of the suggestion", len(r.Notes))
	for _, n := range r.Notes {
		p.line("  %s: %s", safetext.Text(n.Subject), safetext.Text(n.Reason))
	}
	// The suggested rules behind a change are the suggestion's whole
	// file; --format json lists them.
	p.pairs("Connectivity the suggestion removes", r.Removes, false)
	p.pairs("Connectivity the suggestion adds", r.Adds, false)
	return p.err
}

// printer writes lines and keeps the first error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
	}
}

func (p *printer) section(title string, n int) {
	p.line("")
	if n == 0 {
		p.line("%s: none", title)
		return
	}
	p.line("%s (%d):", title, n)
}

func (p *printer) flows(title string, list []policy.Flow) {
	p.section(title, len(list))
	for _, f := range list {
		var how []string
		if f.Declared {
			how = append(how, "declared")
		}
		if f.Observed {
			how = append(how, "observed")
		}
		text := fmt.Sprintf("  %s → %s %s, %s", safetext.Text(f.From), safetext.Text(f.To), portText(f.Port), strings.Join(how, " and "))
		switch {
		case f.Reason != "":
			text += ": " + f.Reason
		case len(f.Evidence) > 0:
			text += "; " + verdictText(f.Verdict) + " by " + evidenceText(f.Evidence)
		case f.Verdict == "":
			text += "; no policy governs it"
		}
		p.line("%s", text)
	}
}

func (p *printer) pairs(title string, list []policy.Pairs, rules bool) {
	n := 0
	for _, g := range list {
		n += len(g.From)
	}
	p.section(title, n)
	for _, g := range list {
		from := make([]string, len(g.From))
		for i, f := range g.From {
			from[i] = safetext.Text(f)
		}
		text := fmt.Sprintf("  → %s %s from %s", safetext.Text(g.To), portText(g.Port), strings.Join(from, ", "))
		if rules && len(g.By) > 0 {
			by := make([]string, len(g.By))
			for i, b := range g.By {
				by[i] = safetext.Text(b)
			}
			text += "; by " + strings.Join(by, "; ")
		}
		p.line("%s", text)
	}
}

func verdictText(v string) string {
	if v == "" {
		return "not governed"
	}
	return v
}

// portText renders a pod port as "8080/TCP (http)"; "any port" when the
// flow names none.
func portText(p model.PodPort) string {
	if p.Number == 0 && p.Name == "" {
		return "on a port not known"
	}
	text := strconv.Itoa(int(p.Number)) + "/" + p.Protocol
	if p.Number == 0 {
		text = p.Name + "/" + p.Protocol
	} else if p.Name != "" {
		text += " (" + safetext.Text(p.Name) + ")"
	}
	return text
}

// evidenceText names the policy rules that decided: object and field.
func evidenceText(evidence []model.Evidence) string {
	var parts []string
	for _, e := range evidence {
		part := strings.TrimSpace(e.Object + " " + e.Field)
		if part == "" {
			part = e.Detail
		}
		parts = append(parts, safetext.Text(part))
	}
	return strings.Join(parts, "; ")
}
