package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/policy"
)

func (a *app) policyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Suggest least-privilege NetworkPolicies from the flows and compare them with today's",
		Long: `NetworkPolicies from what a scan found: stridemap knows every flow the manifests
declare and every flow the kernel saw (stridemap observe), so it can write the
segmentation most clusters never get: a default deny per namespace and one
allow per real flow.

  stridemap policy suggest    the policies for a scan, as a YAML stream or a
                              directory for kubectl apply -k
  stridemap policy diff       today's policies against the flows: what they allow
                              that nothing uses, what they deny that is used, and
                              what the suggestion would change

docs/policy.md says what the suggestion allows and how to review it.`,
		Example: `  stridemap policy suggest -o policies/
  stridemap policy suggest -n shop | kubectl apply --dry-run=server -f -`,
		Args: unknownCommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.policySuggestCommand(), a.newPolicyDiffCmd())
	return cmd
}

type policySuggestOptions struct {
	namespaces []string
	from       string
	format     string
	output     string
}

func (a *app) policySuggestCommand() *cobra.Command {
	var opts policySuggestOptions
	cmd := &cobra.Command{
		Use:   "suggest [SCAN]",
		Short: "Write least-privilege NetworkPolicies for the flows of a scan",
		Long: `Write the NetworkPolicies that allow exactly the flows of a scan (the latest
unless SCAN names one) and nothing else. For each namespace with workloads:

  stridemap-default-deny   denies all ingress and egress of every pod
  stridemap-dns            lets every pod resolve names through kube-dns
  stridemap-WORKLOAD       per workload, one ingress rule per caller and one
                           egress rule per callee, on the pod ports the flows
                           reach (named where the container names them)

Pods are selected by their stable pod template labels (never
pod-template-hash or other labels controllers add, never an empty
selector), namespaces by kubernetes.io/metadata.name. Egress to a host known
by its IP address is an ipBlock of that address; entry points from the
internet or an ingress controller whose pods are not in the manifests admit
every address (0.0.0.0/0) on the entry port. Each policy's
stridemap.io/flows annotation lists the flows it allows (FROM->TO:PORT) and
where each was found.

Notes are what a NetworkPolicy cannot express, so the flow or workload they
name is NOT allowed by the policies and needs a decision: a workload without
labels, a hostNetwork pod, workloads with the same labels, a host known only
by name, a reference that resolved to nothing. Review them before applying.

--from declared|observed|both picks the flows: those the manifests declare,
those the kernel saw (stridemap observe), or either (the default). With
--from observed, a scan without observed flows (in the namespaces asked
for) is an error, not a warning: its policies would deny everything but
DNS, and piped into kubectl that would cut every connection of the
namespaces.

Output, without -o: one YAML stream on stdout, ready for kubectl apply -f -;
the notes, then a summary line (policies, namespaces, flows allowed, notes),
on stderr. With -o DIR: DIR (created if missing) gets NAMESPACE.yaml per
namespace, kustomization.yaml listing them (kubectl apply -k DIR) and
NOTES.txt when there are notes; the files written are listed. Those files
are overwritten; nothing else in DIR is changed or deleted, so files of
namespaces an earlier run wrote stay but are no longer in the kustomization.

Formats (--format): kubernetes (networking.k8s.io/v1 NetworkPolicy, the
default) or cilium (cilium.io/v2 CiliumNetworkPolicy, for clusters whose
network plugin is Cilium): the same rules, plus what only Cilium can say —
egress to a host known by name as toFQDNs, with the DNS rule through
Cilium's DNS proxy that toFQDNs needs, and the internet as the entity world.
The notes differ accordingly.

Dry-run against the cluster before applying: the policies deny every flow
the scan did not see.`,
		Example: `  stridemap policy suggest -o policies/ && kubectl apply -k policies/ --dry-run=server
  stridemap policy suggest --format cilium -o cilium-policies/
  stridemap policy suggest -n shop -n payments | kubectl apply -f -
  stridemap policy suggest 3 --from observed -o policies/`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runPolicySuggest(cmd.Context(), args, opts)
		},
	}
	cmd.Flags().StringArrayVarP(&opts.namespaces, "namespace", "n", nil, "only this namespace (repeatable); default every namespace with workloads")
	cmd.Flags().StringVar(&opts.from, "from", string(policy.FromBoth), "the flows to allow: declared, observed or both")
	cmd.Flags().StringVar(&opts.format, "format", string(policy.FormatKubernetes), "policy format: "+strings.Join(policy.FormatNames(), " or "))
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "write a directory for kubectl apply -k (one file per namespace) instead of stdout")
	return cmd
}

func (a *app) runPolicySuggest(ctx context.Context, args []string, opts policySuggestOptions) error {
	// Both errors quote the value given (%q), escaped.
	from, err := policy.ParseFrom(strings.ToLower(opts.from))
	if err != nil {
		return err
	}
	format, err := policy.ParseFormat(strings.ToLower(opts.format))
	if err != nil {
		return err
	}
	s, err := a.readStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	id, err := scanIDArg(ctx, s, args)
	if err != nil {
		return err
	}
	g, err := s.Graph(ctx, id)
	if err != nil {
		return err
	}
	known := policy.WorkloadNamespaces(g)
	for _, ns := range opts.namespaces {
		if !slices.Contains(known, ns) {
			return &exitError{code: exitUsage, message: fmt.Sprintf("-n %s: scan #%d has no workloads in that namespace; namespaces with workloads: %s",
				safetext.Text(ns), id, safetext.Text(strings.Join(known, ", ")))}
		}
	}
	sug := policy.Suggest(g, policy.Options{From: from, Namespaces: opts.namespaces})
	out, err := policy.Render(sug, format)
	if err != nil {
		return err
	}
	allowed := out.Flows
	if from == policy.FromObserved && len(allowed) == 0 {
		none := fmt.Sprintf("scan #%d has no observed flows", id)
		if policy.HasObserved(g) {
			none = fmt.Sprintf("no observed flow of scan #%d that a policy can allow reaches %s", id, safetext.Text(strings.Join(sug.Namespaces(), ", ")))
		}
		return &exitError{code: exitUsage, message: none + ": --from observed would deny everything but DNS; add flows with stridemap observe, or use --from declared or both"}
	}
	header := fmt.Sprintf("Suggested by stridemap policy suggest from scan #%d (--from %s, --format %s): review the notes before applying; docs/policy.md", id, from, format)
	summary := fmt.Sprintf("%s in %s, %s allowed, %s",
		policyCount(out.Count()), plural(len(out.Namespaces()), "namespace"),
		plural(len(allowed), "flow"), plural(len(out.Notes), "note"))
	if opts.output == "" {
		data := policy.Stream(out, header)
		if a.isTerminal(a.stdout) {
			data = escapeLines(data)
		}
		if _, err := a.stdout.Write(data); err != nil {
			return err
		}
		io.WriteString(a.stderr, policy.NotesText(out.Notes))
		fmt.Fprintln(a.stderr, summary)
		return nil
	}
	return a.writePolicyDir(opts.output, out, header, summary)
}

// writePolicyDir writes the suggestion's files into dir, each whole or
// not at all, and lists them.
func (a *app) writePolicyDir(dir string, out policy.Rendered, header, summary string) error {
	files, err := policy.Files(out, header) // its error quotes the namespace (%q)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", safetext.Text(dir), err)
	}
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		if err := writeOutput(nil, path, func(w io.Writer) error { _, err := w.Write(f.Data); return err }); err != nil {
			return fmt.Errorf("%s", safetext.Text(err.Error()))
		}
		what := ""
		switch f.Name {
		case policy.KustomizationFile:
			what = "lists the namespace files for kubectl apply -k"
		case policy.NotesFile:
			what = "what the policies cannot express: review before applying"
		default:
			what = policyCount(f.Policies)
		}
		fmt.Fprintf(a.stdout, "wrote %s  (%s)\n", safetext.Text(path), what)
	}
	if len(out.Notes) > 0 {
		summary += " (in " + safetext.Text(filepath.Join(dir, policy.NotesFile)) + ")"
	}
	fmt.Fprintln(a.stderr, summary)
	return nil
}

// escapeLines escapes, for a terminal, each line holding a character a
// terminal could act on or reorder (ESC, BEL, U+202E…); YAML escapes
// control characters but leaves bidirectional ones raw.
func escapeLines(data []byte) []byte {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		line := sc.Text()
		if strings.IndexFunc(line, func(r rune) bool { return !strconv.IsGraphic(r) }) >= 0 {
			line = safetext.Text(line)
		}
		out.WriteString(line + "\n")
	}
	return out.Bytes()
}

// policyCount is plural's "N policies".
func policyCount(n int) string {
	if n == 1 {
		return "1 policy"
	}
	return strconv.Itoa(n) + " policies"
}
