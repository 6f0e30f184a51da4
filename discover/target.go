package discover

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
)

// Target is what a scan looked at, so that "the previous scan" and drift
// compare like with like: two apps, or two clusters, kept in one store are
// never taken for one another. Paths are absolute and resolved; every list
// is sorted. The zero Target is unknown (a scan stored before targets were
// recorded, whose sources named relative paths).
type Target struct {
	// Files are the files and directories read, resolved.
	Files []string `json:"files,omitempty"`
	// Kustomize are the kustomization directories rendered, resolved.
	Kustomize []string `json:"kustomize,omitempty"`
	// Stdin is set when manifests were read from standard input, which
	// names nothing: every stdin scan is one target, "stdin".
	Stdin bool `json:"stdin,omitempty"`
	// Server, Context and Namespaces name the live cluster read: its API
	// server's URL, the kubeconfig context, and the namespaces asked for
	// (none: every namespace).
	Server     string   `json:"server,omitempty"`
	Context    string   `json:"context,omitempty"`
	Namespaces []string `json:"namespaces,omitempty"`
}

// IsZero reports whether the target is unknown.
func (t Target) IsZero() bool {
	return len(t.Files) == 0 && len(t.Kustomize) == 0 && !t.Stdin && t.Server == "" && t.Context == "" && len(t.Namespaces) == 0
}

// Key is the target's canonical form, equal for equal targets: what the
// store keeps and compares. It is "" for the unknown target.
func (t Target) Key() string {
	if t.IsZero() {
		return ""
	}
	t = t.Canonical()
	data, _ := json.Marshal(t) // strings and bools only: cannot fail
	return string(data)
}

// ParseTarget reads a Key back; "" is the unknown target.
func ParseTarget(key string) (Target, error) {
	var t Target
	if key == "" {
		return t, nil
	}
	err := json.Unmarshal([]byte(key), &t)
	return t, err
}

// Same reports whether two targets are known and equal.
func (t Target) Same(other Target) bool {
	return !t.IsZero() && t.Key() == other.Key()
}

// Canonical is t with its lists sorted and de-duplicated, so the order
// sources were named in does not make another target.
func (t Target) Canonical() Target {
	sorted := func(list []string) []string {
		if len(list) == 0 {
			return nil
		}
		out := slices.Clone(list)
		slices.Sort(out)
		return slices.Compact(out)
	}
	t.Files, t.Kustomize, t.Namespaces = sorted(t.Files), sorted(t.Kustomize), sorted(t.Namespaces)
	return t
}

// String names the target in one line, in full: "/src/shop/deploy",
// "kustomize /src/shop/overlays/prod", "https://10.0.0.1:6443 (context
// prod, namespaces shop)", parts joined by " + "; "unknown" when zero. The
// paths come from input: escape before printing to a terminal.
func (t Target) String() string { return t.describe(func(p string) string { return p }) }

// Short is String with each path made relative to dir when it lies below
// it, for tables.
func (t Target) Short(dir string) string {
	return t.describe(func(p string) string {
		if dir == "" {
			return p
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return p
		}
		return rel
	})
}

func (t Target) describe(path func(string) string) string {
	if t.IsZero() {
		return "unknown"
	}
	t = t.Canonical()
	var parts []string
	for _, f := range t.Files {
		parts = append(parts, path(f))
	}
	for _, k := range t.Kustomize {
		parts = append(parts, "kustomize "+path(k))
	}
	if t.Stdin {
		parts = append(parts, "stdin")
	}
	if t.Server != "" || t.Context != "" {
		live := t.Server
		var about []string
		if t.Context != "" {
			about = append(about, "context "+t.Context)
		}
		if len(t.Namespaces) > 0 {
			about = append(about, "namespaces "+strings.Join(t.Namespaces, ","))
		}
		if len(about) > 0 {
			live += " (" + strings.Join(about, ", ") + ")"
		}
		parts = append(parts, strings.TrimSpace(live))
	}
	return strings.Join(parts, " + ")
}

// SourceAPIKind is the kind of Source a live API server is (the cluster
// package's SourceAPI), named here so a Target can be read from sources.
const SourceAPIKind SourceKind = "api"

// TargetOfSources derives the target of a scan stored before targets were
// recorded, from its sources: possible only when every manifest source
// was named by an absolute path (a relative one depended on a working
// directory nobody recorded). Flow logs do not make a target. It returns
// the zero Target when it cannot tell. The context and namespaces of a
// live scan were not recorded then, so such a target never equals one
// recorded since.
func TargetOfSources(sources []Source) Target {
	var t Target
	for _, s := range sources {
		switch s.Kind {
		case SourceFile, SourceDir:
			if !filepath.IsAbs(s.Path) {
				return Target{}
			}
			t.Files = append(t.Files, filepath.Clean(s.Path))
		case SourceKustomize:
			if !filepath.IsAbs(s.Path) {
				return Target{}
			}
			t.Kustomize = append(t.Kustomize, filepath.Clean(s.Path))
		case SourceStdin:
			t.Stdin = true
		case SourceAPIKind:
			t.Server = s.Path
			t.Context = s.Context
		}
	}
	return t.Canonical()
}
