package policy

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/stridemap/stridemap/discover/flows"
	"github.com/stridemap/stridemap/model"
)

// Render writes the policies of one namespace of a suggestion as a YAML
// stream.
type Render func(s Suggestion, namespace string) ([]byte, error)

// formats are the renderings a suggestion can be written in, by the name
// policy suggest's --format takes.
var formats = map[string]Render{
	"kubernetes": func(s Suggestion, ns string) ([]byte, error) { return YAML(InNamespace(s.Policies, ns)) },
}

// FormatNames lists the formats, in order.
func FormatNames() []string { return slices.Sorted(maps.Keys(formats)) }

// Format finds a rendering by name, in any case.
func Format(name string) (Render, error) {
	if r, ok := formats[strings.ToLower(name)]; ok {
		return r, nil
	}
	names := FormatNames()
	use := names[len(names)-1]
	if len(names) > 1 {
		use = strings.Join(names[:len(names)-1], ", ") + " or " + use
	}
	return nil, fmt.Errorf("unknown --format %q: use %s", name, use)
}

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

// AllowedFlows lists the IDs of the flows the policies allow, each once,
// from their stridemap.io/flows annotations.
func AllowedFlows(policies []*networkingv1.NetworkPolicy) []string {
	var out []string
	for _, p := range policies {
		for _, line := range strings.Split(p.Annotations[AnnotationFlows], "\n") {
			if id, _, _ := strings.Cut(line, " "); id != "" && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Stream renders every namespace of s into one YAML stream, for kubectl
// apply -f -. header, a comment, opens it.
func Stream(s Suggestion, render Render, header string) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(comment(header))
	for i, ns := range s.Namespaces() {
		data, err := render(s, ns)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(data)
	}
	return buf.Bytes(), nil
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

// Files lays s out as a directory for kubectl apply -k: one file per
// namespace, NAMESPACE.yaml, a kustomization listing them, and the
// notes. A namespace whose name is not a Kubernetes name (and so may not
// be a safe file name) is refused.
func Files(s Suggestion, render Render, header string) ([]File, error) {
	var out []File
	kustomization := comment(header) + "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
	for _, ns := range s.Namespaces() {
		if problems := validation.IsDNS1123Label(ns); len(problems) > 0 {
			return nil, fmt.Errorf("namespace %q is not a Kubernetes namespace name (%s), so it cannot name a file: fix it in the manifests, or leave it out with -n for each other namespace", ns, problems[0])
		}
		data, err := render(s, ns)
		if err != nil {
			return nil, err
		}
		name := ns + ".yaml"
		out = append(out, File{Name: name, Data: append([]byte(comment(header)), data...), Policies: len(InNamespace(s.Policies, ns))})
		kustomization += "- " + name + "\n"
	}
	out = append(out, File{Name: KustomizationFile, Data: []byte(kustomization)})
	if len(s.Notes) > 0 {
		out = append(out, File{Name: NotesFile, Data: []byte(comment(header) + NotesText(s.Notes))})
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
			line = flows.Graphic(line)
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
