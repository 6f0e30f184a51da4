package manifests

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/stridemap/stridemap/discover"
)

// originAnnotation is where kustomize records the file a resource came from
// when the kustomization asks for buildMetadata: [originAnnotations].
const originAnnotation = "config.kubernetes.io/origin"

// kustomize renders one kustomization directory in-process and adds it as a
// source. Objects point at the files they were written in, found through
// kustomize's origin annotations, so evidence names real lines rather than
// kustomize output that exists nowhere on disk.
func (c *collector) kustomize(dir string) {
	s := &source{Source: discover.Source{Kind: discover.SourceKustomize, Path: dir}}
	c.sources = append(c.sources, s)
	if c.req.Progress != nil {
		c.req.Progress(dir)
	}
	fsys := &originFS{FileSystem: filesys.MakeFsOnDisk(), files: map[string][]byte{}}
	root, file, err := fsys.CleanedAbs(dir)
	if err != nil || file != "" {
		c.problem(s, discover.SeverityError, CodeKustomize, dir, "cannot build: not a directory; -k takes the directory that holds kustomization.yaml")
		return
	}
	fsys.root = string(root)
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	s.Files = len(fsys.order)
	s.SHA256 = fsys.digest()
	if err != nil {
		c.problem(s, discover.SeverityError, CodeKustomize, dir, "kustomize build failed: %s; fix the kustomization, then check it with kustomize build", firstLine(err.Error()))
		return
	}

	d := decoder{maps: c.maps}
	display := "kustomize:" + dir
	originals := map[string][]*discover.Object{}
	for _, r := range m.Resources() {
		origin, _ := r.GetOrigin() // a malformed origin only costs the file:line
		if ann := r.GetAnnotations(); len(ann) > 0 {
			if _, ok := ann[originAnnotation]; ok {
				delete(ann, originAnnotation)
				if err := r.SetAnnotations(ann); err != nil {
					c.problem(s, discover.SeverityWarning, CodeKustomize, display, "cannot remove kustomize's origin annotation from %s %s", r.GetKind(), r.GetName())
				}
			}
		}
		y, err := r.AsYAML()
		if err != nil {
			c.problem(s, discover.SeverityError, CodeKustomize, display, "cannot render %s %s: %s", r.GetKind(), r.GetName(), firstLine(err.Error()))
			continue
		}
		objs, probs := d.decode(display, y, c.req.DefaultNamespace)
		for _, o := range objs {
			loc, lines, ok := c.locate(dir, fsys, origin, o, originals)
			// The rendered document's lines exist nowhere on disk: an
			// object not found in its source keeps no lines at all.
			o.Location, o.Lines = loc, discover.LineIndex{}
			if ok {
				o.Lines = lines
			}
		}
		for i := range probs {
			// Lines within kustomize's output mean nothing to the user.
			probs[i].Location, _, _ = c.locate(dir, fsys, origin, &discover.Object{Kind: r.GetKind(), Name: r.GetName()}, originals)
		}
		s.objs = append(s.objs, objs...)
		s.later = append(s.later, probs...)
	}
}

// locate finds where a rendered object was written: the file its origin
// names, and the line its document starts on there, with that document's
// field lines. ok is false when only the file, or nothing, is known.
func (c *collector) locate(dir string, fsys *originFS, origin *resource.Origin, o *discover.Object, originals map[string][]*discover.Object) (discover.Location, discover.LineIndex, bool) {
	fallback := discover.Location{File: "kustomize:" + dir}
	if origin == nil || origin.Repo != "" {
		return fallback, discover.LineIndex{}, false
	}
	rel := origin.Path
	if rel == "" {
		rel = origin.ConfiguredIn // generated: point at the generator's kustomization
	}
	if rel == "" {
		return fallback, discover.LineIndex{}, false
	}
	display := filepath.Join(dir, rel)
	if origin.Path == "" {
		return discover.Location{File: display}, discover.LineIndex{}, false
	}
	objs, ok := originals[display]
	if !ok {
		data, found := fsys.files[filepath.Join(fsys.root, rel)]
		if found {
			objs, _ = Decode(display, data, c.req.DefaultNamespace)
		}
		originals[display] = objs
	}
	if match := findOriginal(objs, o); match != nil {
		return match.Location, match.Lines, true
	}
	return discover.Location{File: display}, discover.LineIndex{}, false
}

// findOriginal picks the object of a source file that a rendered object
// came from: same kind and name, else the only object of that kind (a name
// prefix or suffix was added), else the only object of the same API group
// and name (a patch changed the kind: a Deployment made a StatefulSet),
// else the file's only object.
func findOriginal(objs []*discover.Object, o *discover.Object) *discover.Object {
	var sameKind, kindChanged []*discover.Object
	for _, c := range objs {
		if c.Kind != o.Kind {
			if c.Name == o.Name && c.Group() == o.Group() {
				kindChanged = append(kindChanged, c)
			}
			continue
		}
		if c.Name == o.Name {
			return c
		}
		sameKind = append(sameKind, c)
	}
	switch {
	case len(sameKind) == 1:
		return sameKind[0]
	case len(sameKind) == 0 && len(kindChanged) == 1:
		return kindChanged[0]
	case len(objs) == 1 && len(sameKind) == 0:
		return objs[0]
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	const max = 400
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// originFS is the on-disk filesystem as kustomize sees it, except that the
// root kustomization asks for origin annotations. The change exists only in
// memory. It also keeps what was read, for the source digest and to find
// each object's line in its file without reading it twice.
type originFS struct {
	filesys.FileSystem
	root  string
	files map[string][]byte
	order []string
}

// ReadFile reads a file, adding buildMetadata: [originAnnotations] when it
// is the root kustomization.
func (f *originFS) ReadFile(path string) ([]byte, error) {
	data, err := f.FileSystem.ReadFile(path)
	if err != nil {
		return data, err
	}
	clean := filepath.Clean(path)
	if _, ok := f.files[clean]; !ok {
		f.order = append(f.order, clean)
	}
	f.files[clean] = data
	if filepath.Dir(clean) == f.root && slices.Contains(konfig.RecognizedKustomizationFileNames(), filepath.Base(clean)) {
		return withOriginAnnotations(data), nil
	}
	return data, nil
}

// digest hashes the relative path and SHA-256 of every file read, in the
// order kustomize read them.
func (f *originFS) digest() string {
	var b []byte
	for _, p := range f.order {
		rel, err := filepath.Rel(f.root, p)
		if err != nil {
			rel = p
		}
		sum := sha256.Sum256(f.files[p])
		b = append(b, filepath.ToSlash(rel)...)
		b = append(b, 0)
		b = hex.AppendEncode(b, sum[:])
		b = append(b, '\n')
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// withOriginAnnotations returns a kustomization with originAnnotations added
// to its buildMetadata. Input it cannot edit is returned as it is, for
// kustomize to report on.
func withOriginAnnotations(data []byte) []byte {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return data
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return data
	}
	item := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: types.OriginAnnotations}
	found := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "buildMetadata" {
			continue
		}
		found = true
		v := m.Content[i+1]
		if v.Kind != yaml.SequenceNode {
			m.Content[i+1] = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{item}}
			break
		}
		for _, e := range v.Content {
			if e.Value == types.OriginAnnotations {
				return data
			}
		}
		v.Content = append(v.Content, item)
		v.Style = 0
	}
	if !found {
		m.Content = append(m.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "buildMetadata"},
			&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{item}})
	}
	explicitNulls(&doc)
	out, err := yaml.Marshal(&doc)
	if err != nil || !sameButBuildMetadata(data, out) {
		return data // the encoder cannot write this one back faithfully
	}
	return out
}

// sameButBuildMetadata reports whether two kustomizations read as the same
// fields, buildMetadata aside. The YAML encoder does not write back every
// document it reads (block scalars with indentation indicators, say).
func sameButBuildMetadata(a, b []byte) bool {
	var x, y map[string]any
	if yaml.Unmarshal(a, &x) != nil || yaml.Unmarshal(b, &y) != nil {
		return false
	}
	delete(x, "buildMetadata")
	delete(y, "buildMetadata")
	return reflect.DeepEqual(x, y)
}

// explicitNulls writes out the nulls left implicit ("{a, b: c}"), which the
// YAML encoder would otherwise turn into empty strings.
func explicitNulls(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" {
		n.Value = "null"
	}
	for _, c := range n.Content {
		explicitNulls(c)
	}
}
