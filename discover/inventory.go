package discover

import (
	"strconv"
	"strings"
	"unicode"
)

// Location is where something was read: a file path as the user gave it
// ("-" for standard input) and a 1-based line, 0 when unknown.
type Location struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
}

// String renders the location as file:line, the form editors and CI
// annotations understand. A file name that holds a line break or another
// control character is quoted, with Go's escapes, so that the location
// stays on one line.
func (l Location) String() string {
	file := l.File
	if strings.IndexFunc(file, unicode.IsControl) >= 0 {
		file = strconv.Quote(file)
	}
	if l.Line > 0 {
		return file + ":" + strconv.Itoa(l.Line)
	}
	return file
}

// Object is one Kubernetes object read from a source.
//
// Core kinds are decoded into their k8s.io/api types and held in Typed (for
// example *appsv1.Deployment). Other kinds, CRDs such as Istio or Gateway API
// resources, keep their content as decoded JSON in Fields (numbers are
// float64, as encoding/json decodes them); one of the two is set.
// Secret values are removed by the collector before an Object is built: only
// key names remain, each with a nil value, or PublicSecretValue where the
// value was only public material (a certificate, a public key, a config
// file without credentials).
//
// Objects are read-only once decoded: equal small maps (labels,
// selectors, resource lists) are one map shared by every object that holds
// them, so a change to one would change them all.
type Object struct {
	APIVersion string
	Kind       string
	Namespace  string // empty for cluster-scoped kinds
	Name       string
	Location   Location // the line where the object's document starts
	// ResourceVersion is the version of an object read from an API
	// server, which with its Location says exactly what was read.
	ResourceVersion string
	// Origin is where a scan of a repository and a cluster found the
	// object; "" when it read only one of them.
	Origin Origin
	Typed  any
	Fields map[string]any
	Lines  LineIndex
	// Running is what the object's pods run, as an API server reports
	// them: each distinct container and image, sorted. Nil for objects
	// read from files, and when no pod of the object was read.
	Running []RunningContainer
}

// PublicSecretValue stands, in a decoded Secret's data, for a value that
// held only public material: a CA or server certificate, a public key, or
// a config file that mentions no credential (secretvalue.IsPlainConfig).
// Every other value is nil, so this one cannot come from the input.
const PublicSecretValue = "stridemap:public-material"

// RunningContainer is one container the pods of a workload run: what the
// controllers and admission webhooks made of its template, and the image
// the container runtime resolved.
type RunningContainer struct {
	Name string
	Init bool
	// Injected is set when the template of the controller that made the
	// pod does not declare the container: an admission webhook added it,
	// as Istio and Linkerd add their proxies.
	Injected bool
	Image    string // as the pod's spec names it
	// ImageID is the pod status's imageID: the image that runs, by
	// digest ("docker.io/library/nginx@sha256:…"); "" until it started.
	ImageID string
}

// Origin says on which side of a scan of a repository and a cluster an
// object was found: what was meant, what runs, or both.
type Origin string

const (
	OriginRepository Origin = "repository"
	OriginCluster    Origin = "cluster"
	OriginBoth       Origin = "both"
)

// Ref names the object the way a reader searches for it: "Deployment shop/cart".
func (o *Object) Ref() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Key identifies the object whatever version of its API it was read in:
// group, kind, namespace and name. The same object read from a file and
// from a cluster has the same key.
func (o *Object) Key() string {
	return o.Group() + "/" + o.Kind + " " + o.Namespace + "/" + o.Name
}

// Group is the API group of the object ("" for the core group).
func (o *Object) Group() string {
	group, _, found := strings.Cut(o.APIVersion, "/")
	if !found {
		return ""
	}
	return group
}

// LineOf returns the line of a field path such as
// "spec.template.spec.containers[0].env[2].value", falling back to the
// nearest indexed ancestor and finally to the object's first line.
// Mapping keys that are empty or contain '.', '[' or ']' are written in
// brackets: "metadata.annotations[example.com/x]" (see PathKey). A mapping
// value is indexed at the line of its key, a sequence item at its own line.
func (o *Object) LineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if line, ok := o.Lines.Lookup(p); ok {
			return line
		}
	}
	return o.Location.Line
}

// BlockSuffix, after a field path, names the first line of the field's
// value when it is a literal block ("key: |"), whose lines are kept as
// written.
const BlockSuffix = "|"

// ValueLine returns the line of line i (0-based) of a field's value, when
// the value is a literal block whose start was indexed; ok is false
// otherwise, and the field's own line is the best evidence.
func (o *Object) ValueLine(path string, i int) (line int, ok bool) {
	start, ok := o.Lines.Lookup(path + BlockSuffix)
	if !ok {
		return 0, false
	}
	return start + i, true
}

// At is the Location of a field of the object.
func (o *Object) At(path string) Location {
	return Location{File: o.Location.File, Line: o.LineOf(path)}
}

func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		// A bracketed key may itself hold dots: step over it whole.
		if i := strings.LastIndexByte(p, '['); i > 0 {
			return p[:i]
		}
		return ""
	}
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

// Severity says whether a problem made the scan partial.
type Severity string

const (
	// SeverityError means an input, or part of it, could not be used.
	SeverityError Severity = "error"
	// SeverityWarning means the input was used but something looks wrong.
	SeverityWarning Severity = "warning"
)

// Problem is one thing that went wrong while reading a source. It names the
// file (and line and object where known) and says what the user can do.
type Problem struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"` // stable machine-readable kind, e.g. "yaml", "duplicate"
	Location Location `json:"location"`
	Object   string   `json:"object,omitempty"`
	Message  string   `json:"message"`
}

// String is the one-line form printed to users.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Location.String())
	b.WriteString(": ")
	if p.Object != "" {
		b.WriteString(p.Object)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// SourceKind says how a source was named on the command line.
type SourceKind string

const (
	SourceFile      SourceKind = "file"      // one file named directly
	SourceDir       SourceKind = "dir"       // a directory, read recursively
	SourceStdin     SourceKind = "stdin"     // standard input, named "-"
	SourceKustomize SourceKind = "kustomize" // a kustomization directory, rendered
)

// Source is one input the user named, with a digest of what was read so a
// later scan can tell whether it changed.
type Source struct {
	Kind    SourceKind `json:"kind"`
	Path    string     `json:"path"`
	Files   int        `json:"files"`
	Objects int        `json:"objects"`
	SHA256  string     `json:"sha256"`
	// Context is the kubeconfig context a live API server was read
	// through: with Path (the server's URL), which cluster it was.
	Context string `json:"context,omitempty"`
	// Notes say what the source could not show, one line each: the parts
	// of the eBPF observer a node's kernel refused, say.
	Notes []string `json:"notes,omitempty"`
}

// Inventory is everything collectors found: the objects, the sources they
// came from, the problems met on the way and what could not be looked at.
type Inventory struct {
	Sources  []Source
	Objects  []*Object
	Problems []Problem
	Gaps     []Gap
}

// Gap is a kind of object a collector could not read where it looked (the
// identity may not list it, say): nothing is known of those objects, so
// their absence proves nothing.
type Gap struct {
	Group     string `json:"group,omitempty"` // API group, "" for the core group
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"` // "" for every namespace, or a cluster-scoped kind
	Reason    string `json:"reason"`              // GapForbidden…, or what failed
}

// GapForbidden begins the Reason of a gap the identity may not read: the
// same on every scan with the same credentials, unlike a list that timed
// out or a server that did not answer.
const GapForbidden = "forbidden"

// Forbidden says the gap is one of permission, not of a failure that the
// next scan may not meet.
func (g Gap) Forbidden() bool { return strings.HasPrefix(g.Reason, GapForbidden) }

// String names the gap in one line: "NetworkPolicy.networking.k8s.io in
// namespace shop: forbidden".
func (g Gap) String() string {
	return g.What() + ": " + g.Reason
}

// What names what could not be read: "NetworkPolicy.networking.k8s.io in
// namespace shop".
func (g Gap) What() string {
	what := g.Kind
	if g.Group != "" {
		what += "." + g.Group
	}
	if g.Namespace != "" {
		what += " in namespace " + g.Namespace
	}
	return what
}

// GroupKind is "group/Kind", as the detectors name the kinds they read
// ("/LimitRange" for the core group).
func (g Gap) GroupKind() string { return g.Group + "/" + g.Kind }

// Covers reports whether the gap hides objects that matter to an element
// of namespace ns; "" stands for a cluster-scoped element, which any gap
// of the kind concerns.
func (g Gap) Covers(ns string) bool {
	return g.Namespace == "" || ns == "" || g.Namespace == ns
}

// CodeChangedWhileRead marks a file that was listed, then gone when the
// scan came to read it: the source was being changed (a checkout, a sync, a
// directory moved away). Unlike an unreadable file, it says nothing about
// the input, so a periodic re-scan tries again rather than store the half
// it saw.
const CodeChangedWhileRead = "changed-while-read"

// ChangedWhileRead returns the first problem that says a source changed
// while it was read.
func (inv *Inventory) ChangedWhileRead() (Problem, bool) {
	for _, p := range inv.Problems {
		if p.Code == CodeChangedWhileRead {
			return p, true
		}
	}
	return Problem{}, false
}

// Partial reports whether any input could not be used.
func (inv *Inventory) Partial() bool {
	for _, p := range inv.Problems {
		if p.Severity == SeverityError {
			return true
		}
	}
	return false
}
