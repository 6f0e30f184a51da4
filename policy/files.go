package policy

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
)

// Rendered is a suggestion written in one format: per namespace its YAML
// and how many policies it holds, the flows they allow and the notes that
// hold for the format. Each format's objects are built once.
type Rendered struct {
	Format   Format
	YAML     map[string][]byte
	Policies map[string]int
	Flows    []string // IDs of the flows allowed, sorted
	Notes    []Note
	// namespaces are those with policies, in order.
	namespaces []string
}

// FormatNames lists the formats --format takes, in order.
func FormatNames() []string { return []string{string(FormatKubernetes), string(FormatCilium)} }

// Render writes s in format f.
func Render(s Suggestion, f Format) (Rendered, error) {
	r := Rendered{Format: f, YAML: map[string][]byte{}, Policies: map[string]int{}, Notes: s.NotesFor(f), namespaces: s.Namespaces()}
	var annotations []map[string]string
	var cilium []*CiliumNetworkPolicy
	if f == FormatCilium {
		cilium = s.CiliumPolicies()
	}
	for _, ns := range r.namespaces {
		var data []byte
		var err error
		switch f {
		case FormatKubernetes:
			policies := InNamespace(s.Policies, ns)
			r.Policies[ns] = len(policies)
			for _, p := range policies {
				annotations = append(annotations, p.Annotations)
			}
			data, err = YAML(policies)
		case FormatCilium:
			policies := InNamespace(cilium, ns)
			r.Policies[ns] = len(policies)
			for _, p := range policies {
				annotations = append(annotations, p.Annotations)
			}
			data, err = CiliumYAML(policies)
		default:
			return r, fmt.Errorf("unknown format %q", f)
		}
		if err != nil {
			return r, err
		}
		r.YAML[ns] = data
	}
	r.Flows = allowedFlows(annotations)
	return r, nil
}

// Count is how many policies r holds.
func (r Rendered) Count() int {
	n := 0
	for _, c := range r.Policies {
		n += c
	}
	return n
}

// Namespaces lists the namespaces r has policies for, in order.
func (r Rendered) Namespaces() []string { return r.namespaces }

// WorkloadNamespaces lists the namespaces of g that hold workloads: those
// a suggestion can write policies for.
func WorkloadNamespaces(g *model.Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		if n.Workload != nil && !slices.Contains(out, n.Namespace) {
			out = append(out, n.Namespace)
		}
	}
	slices.Sort(out)
	return out
}

// HasObserved says whether any flow of g was seen on the wire: without
// one, a suggestion from observed flows denies everything but DNS.
func HasObserved(g *model.Graph) bool {
	return slices.ContainsFunc(g.Edges, func(e model.Edge) bool { return e.Observed })
}

// allowedFlows lists the IDs of the flows policies allow, each once, from
// their stridemap.io/flows annotations.
func allowedFlows(annotations []map[string]string) []string {
	var out []string
	for _, a := range annotations {
		for _, line := range strings.Split(a[AnnotationFlows], "\n") {
			if id, _, _ := strings.Cut(line, " "); id != "" && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Stream joins every namespace of r into one YAML stream, for kubectl
// apply -f -. header, a comment, opens it.
func Stream(r Rendered, header string) []byte {
	var buf bytes.Buffer
	buf.WriteString(comment(header))
	for i, ns := range r.namespaces {
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(r.YAML[ns])
	}
	return buf.Bytes()
}

// File is one file of a suggestion laid out as a directory.
type File struct {
	Name     string // in the directory
	Data     []byte
	Policies int // how many it holds; 0 for the kustomization and notes
}

// File names a directory of policies holds beside one per namespace.
const (
	KustomizationFile = "kustomization.yaml"
	NotesFile         = "NOTES.txt"
)

// Files lays r out as a directory for kubectl apply -k: one file per
// namespace, NAMESPACE.yaml, a kustomization listing them, and the
// notes. A namespace whose name is not a Kubernetes name (and so may not
// be a safe file name) is refused.
func Files(r Rendered, header string) ([]File, error) {
	var out []File
	kustomization := comment(header) + "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
	for _, ns := range r.namespaces {
		if problems := validation.IsDNS1123Label(ns); len(problems) > 0 {
			return nil, fmt.Errorf("namespace %q is not a Kubernetes namespace name (%s), so it cannot name a file: fix it in the manifests, or leave it out with -n for each other namespace", ns, problems[0])
		}
		name := ns + ".yaml"
		out = append(out, File{Name: name, Data: append([]byte(comment(header)), r.YAML[ns]...), Policies: r.Policies[ns]})
		kustomization += "- " + name + "\n"
	}
	out = append(out, File{Name: KustomizationFile, Data: []byte(kustomization)})
	if len(r.Notes) > 0 {
		out = append(out, File{Name: NotesFile, Data: []byte(comment(header) + NotesText(r.Notes))})
	}
	return out, nil
}

// NotesText renders notes one a line, "NAMESPACE  SUBJECT: REASON". A
// line holding a character a terminal would act on or reorder (ESC, BEL,
// U+202E…) is escaped whole: notes name what the manifests name, and are
// read on a terminal.
func NotesText(notes []Note) string {
	var b strings.Builder
	for _, n := range notes {
		line := n.Namespace + "  " + n.String()
		if strings.IndexFunc(line, func(r rune) bool { return !strconv.IsGraphic(r) }) >= 0 {
			line = safetext.Text(line)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func comment(text string) string {
	if text == "" {
		return ""
	}
	return "# " + strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "\n# ") + "\n"
}
