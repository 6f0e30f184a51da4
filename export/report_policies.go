package export

import (
	"slices"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/policy"
)

// SuggestCommand is how a reader of a report gets the suggested policies
// as files, one per namespace.
const SuggestCommand = "stridemap policy suggest -o DIR"

// NamespacePolicies is one namespace of the appendix "Suggested
// NetworkPolicies": the least-privilege policies policy.Suggest writes for
// the flows of the scan, and what they cannot express.
type NamespacePolicies struct {
	Namespace string `json:"namespace"`
	// Policies are the NetworkPolicy objects, in their JSON form.
	Policies []*networkingv1.NetworkPolicy `json:"policies"`
	Notes    []PolicyNote                  `json:"notes"`
}

// PolicyNote is something a NetworkPolicy cannot express: a workload
// without labels, a hostNetwork pod, a host known by name only…
type PolicyNote struct {
	Subject string `json:"subject"`
	Reason  string `json:"reason"`
}

// suggestPolicies fills the appendix. The suggestion is made on the whole
// graph, so selectors tell a namespace's workloads apart from all their
// neighbours, and covers the namespaces of the scope: a namespace's
// policies only hold together, default deny included.
func (r *Report) suggestPolicies(full, scoped *model.Graph, scope Scope) {
	opts := policy.Options{}
	switch {
	case scope.Namespace != "":
		opts.Namespaces = []string{scope.Namespace}
	case !scope.IsZero():
		for i := range scoped.Nodes {
			if n := &scoped.Nodes[i]; n.Workload != nil && !slices.Contains(opts.Namespaces, n.Namespace) {
				opts.Namespaces = append(opts.Namespaces, n.Namespace)
			}
		}
		if len(opts.Namespaces) == 0 {
			r.Policies = []NamespacePolicies{}
			return
		}
	}
	s := policy.Suggest(full, opts)
	notes := map[string][]PolicyNote{}
	for _, n := range s.Notes {
		notes[n.Namespace] = append(notes[n.Namespace], PolicyNote{Subject: n.Subject, Reason: n.Reason})
	}
	namespaces := s.Namespaces()
	r.Policies = make([]NamespacePolicies, 0, len(namespaces))
	for _, ns := range namespaces {
		np := NamespacePolicies{Namespace: ns, Policies: policy.InNamespace(s.Policies, ns), Notes: notes[ns]}
		if np.Notes == nil {
			np.Notes = []PolicyNote{}
		}
		r.Policies = append(r.Policies, np)
	}
}

// reportMaxPolicyNamespaces is the most namespaces whose suggested
// policies the HTML and Markdown reports print: rendering YAML is the
// costly part of a large system's report, and beyond a few dozen
// namespaces a reader wants the files. The JSON report holds them all.
const reportMaxPolicyNamespaces = 50

// policyYAML is one namespace of the appendix as the HTML and Markdown
// reports print it.
type policyYAML struct {
	NamespacePolicies
	YAML string
}

// appendixYAML renders the first reportMaxPolicyNamespaces namespaces of
// the appendix as YAML, and counts the rest.
func appendixYAML(policies []NamespacePolicies) ([]policyYAML, int, error) {
	shown, more := capList(policies, reportMaxPolicyNamespaces)
	out := make([]policyYAML, 0, len(shown))
	for _, np := range shown {
		stream, err := policy.YAML(np.Policies)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, policyYAML{NamespacePolicies: np, YAML: string(stream)})
	}
	return out, more, nil
}

// codeText escapes what is not a graphic character (controls, bidi
// overrides) as Go escapes do, keeping line breaks: text from manifests in
// a code block or <pre> then reads as written, and cannot move a terminal's
// cursor or reorder what a reader sees.
func codeText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == '\n' || strconv.IsGraphic(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRuneToGraphic(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// mdFence is a code fence longer than any run of backticks in text, so
// the text cannot close it.
func mdFence(text string) string {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// writePoliciesMarkdown writes the appendix.
func writePoliciesMarkdown(p func(string, ...any), policies []NamespacePolicies) error {
	shown, more, err := appendixYAML(policies)
	if err != nil {
		return err
	}
	p("\n## Appendix: Suggested NetworkPolicies\n\n")
	p("Least-privilege NetworkPolicies for the flows of this scan: per namespace a default deny of ingress and egress, DNS to kube-dns, and one policy per workload allowing exactly its flows, each annotated with the flows it allows and their evidence. ")
	p("`%s` writes them as files, one per namespace, for `kubectl apply` or a kustomization.\n", SuggestCommand)
	if len(policies) == 0 {
		p("\nNo namespace of this report has workloads.\n")
	}
	for _, np := range shown {
		p("\n### Namespace %s\n\n", md(np.Namespace))
		if len(np.Notes) > 0 {
			p("What these policies cannot express:\n\n")
			for _, n := range np.Notes {
				p("- %s: %s\n", md(n.Subject), md(n.Reason))
			}
			p("\n")
		}
		text := codeText(np.YAML)
		fence := mdFence(text)
		p("%syaml\n%s%s\n", fence, text, fence)
	}
	if more > 0 {
		p("\n… and %d more namespaces (`%s` writes them all; the JSON report holds them all).\n", more, SuggestCommand)
	}
	return nil
}
