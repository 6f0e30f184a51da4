package discover

import (
	"fmt"
	"io"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stridemap/stridemap/internal/yamlerr"
)

// Overlay is what a team knows that manifests do not say, kept in a small
// YAML file next to them: which elements hold which classes of data, which
// workloads are data stores.
//
//	version: 1
//	elements:
//	  - match: workload:shop/orders-db   # a node ID, or a pattern: workload:shop/*
//	    data: [pii, payment]
//	  - match: workload:legacy/mainframe-proxy
//	    datastore: db2
type Overlay struct {
	File     string         `yaml:"-"`
	Version  int            `yaml:"version"`
	Elements []OverlayEntry `yaml:"elements"`
}

// OverlayEntry describes the elements whose IDs match Match.
type OverlayEntry struct {
	Match     string   `yaml:"match"`
	Data      []string `yaml:"data,omitempty"`
	DataStore string   `yaml:"datastore,omitempty"`
	Line      int      `yaml:"-"`
}

// Matches reports whether a node ID matches the entry's pattern, in the
// syntax of path.Match ("*" does not cross "/").
func (e OverlayEntry) Matches(id string) bool {
	ok, err := path.Match(e.Match, id)
	return err == nil && ok
}

// ReadOverlay reads and checks an overlay file; name is used in errors.
func ReadOverlay(r io.Reader, name string) (*Overlay, error) {
	var doc yaml.Node
	data, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, yamlerr.OneLine(err))
	}
	o := &Overlay{File: name}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty overlay; see stridemap scan --help for its format", name)
	}
	if err := doc.Content[0].Decode(o); err != nil {
		return nil, fmt.Errorf("%s: %w", name, yamlerr.OneLine(err))
	}
	if o.Version != 1 {
		return nil, fmt.Errorf("%s: version %d; this stridemap reads overlay version 1", name, o.Version)
	}
	// Lines of each entry, for evidence.
	for _, top := range pairs(doc.Content[0]) {
		if top[0].Value != "elements" || top[1].Kind != yaml.SequenceNode {
			continue
		}
		for i, item := range top[1].Content {
			if i < len(o.Elements) {
				o.Elements[i].Line = item.Line
			}
		}
	}
	for i, e := range o.Elements {
		if e.Match == "" {
			return nil, fmt.Errorf("%s:%d: element %d has no match", name, e.Line, i+1)
		}
		if _, err := path.Match(e.Match, ""); err != nil {
			return nil, fmt.Errorf("%s:%d: match %q: %w", name, e.Line, e.Match, err)
		}
		for j, d := range e.Data {
			o.Elements[i].Data[j] = strings.ToLower(strings.TrimSpace(d))
		}
	}
	return o, nil
}

func pairs(n *yaml.Node) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
	}
	return out
}
