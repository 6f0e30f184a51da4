package export

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/stridemap/stridemap/model"
)

// DOT styling follows data-flow-diagram conventions: processes are
// rounded boxes, data stores cylinders, external entities plain boxes and
// gateways hexagons; trust boundaries are dashed clusters. Edge colours
// say what is known about encryption.
var (
	nodeShapes = map[model.NodeType]string{
		model.Process:        `shape=box, style="rounded,filled", fillcolor="#e8f0fe"`,
		model.DataStore:      `shape=cylinder, style=filled, fillcolor="#fef7e0"`,
		model.ExternalEntity: `shape=box, style=filled, fillcolor="#f1f3f4"`,
		model.Gateway:        `shape=hexagon, style=filled, fillcolor="#e6f4ea"`,
	}
	encryptionColours = map[model.Encryption]string{
		model.EncryptionPlaintext: "#d93025",
		model.EncryptionTLS:       "#1e8e3e",
		model.EncryptionMTLS:      "#188038",
		model.EncryptionUnknown:   "#5f6368",
	}
)

// WriteDOT writes g as a Graphviz digraph. The output depends only on g, so
// the same scan always gives the same bytes.
func WriteDOT(w io.Writer, g *model.Graph, title string) error {
	d := &dotWriter{w: w}
	d.line(0, "digraph stridemap {")
	d.line(1, "graph [rankdir=LR, fontname=Helvetica, label=%s, labelloc=t, compound=true];", quote(title))
	d.line(1, "node [fontname=Helvetica, fontsize=10];")
	d.line(1, "edge [fontname=Helvetica, fontsize=9];")

	nodes := map[string]*model.Node{}
	for i := range g.Nodes {
		nodes[g.Nodes[i].ID] = &g.Nodes[i]
	}
	placed := map[string]bool{}
	children := map[string][]*model.Boundary{}
	var roots []*model.Boundary
	for i := range g.Boundaries {
		b := &g.Boundaries[i]
		if b.Parent == "" {
			roots = append(roots, b)
		} else {
			children[b.Parent] = append(children[b.Parent], b)
		}
	}
	inChild := map[string]bool{}
	for _, kids := range children {
		for _, k := range kids {
			for _, m := range k.Members {
				inChild[m] = true
			}
		}
	}
	var writeBoundary func(b *model.Boundary, depth int)
	writeBoundary = func(b *model.Boundary, depth int) {
		d.line(depth, "subgraph %s {", quote("cluster_"+b.ID))
		d.line(depth+1, "label=%s; style=dashed; color=%s;", quote(boundaryLabel(b)), quote("#9aa0a6"))
		for _, k := range children[b.ID] {
			writeBoundary(k, depth+1)
		}
		for _, id := range b.Members {
			if n := nodes[id]; n != nil && !placed[id] && !(inChild[id] && b.Parent == "") {
				d.node(depth+1, n)
				placed[id] = true
			}
		}
		d.line(depth, "}")
	}
	for _, b := range roots {
		writeBoundary(b, 1)
	}
	for i := range g.Nodes {
		if !placed[g.Nodes[i].ID] {
			d.node(1, &g.Nodes[i])
		}
	}
	edges := append([]model.Edge(nil), g.Edges...)
	sort.SliceStable(edges, func(i, j int) bool { return edges[i].ID < edges[j].ID })
	for _, e := range edges {
		d.edge(&e)
	}
	d.line(0, "}")
	return d.err
}

func boundaryLabel(b *model.Boundary) string {
	switch b.Type {
	case model.BoundaryNamespace:
		return "namespace " + b.Name
	default:
		return b.Name
	}
}

type dotWriter struct {
	w   io.Writer
	err error
}

func (d *dotWriter) line(depth int, format string, args ...any) {
	if d.err != nil {
		return
	}
	_, d.err = fmt.Fprintf(d.w, "%s%s\n", strings.Repeat("  ", depth), fmt.Sprintf(format, args...))
}

func (d *dotWriter) node(depth int, n *model.Node) {
	label := n.Name
	if n.Kind != "" && n.Type != model.ExternalEntity {
		label += "\n" + n.Kind
	}
	if n.DataStore != nil {
		label += " (" + n.DataStore.Engine + ")"
	}
	d.line(depth, "%s [label=%s, %s];", quote(n.ID), quote(label), nodeShapes[n.Type])
}

func (d *dotWriter) edge(e *model.Edge) {
	label := e.Protocol
	if e.Port != 0 {
		label += ":" + strconv.Itoa(int(e.Port))
	}
	style := "solid"
	switch {
	case e.Observed && !e.Declared:
		style = "dashed"
	case e.Observed && e.Declared:
		style = "bold"
	}
	d.line(1, "%s -> %s [label=%s, color=%s, fontcolor=%s, style=%s, tooltip=%s];",
		quote(e.From), quote(e.To), quote(label), quote(encryptionColours[e.Encryption]), quote(encryptionColours[e.Encryption]), style,
		quote(string(e.Encryption)+" "+e.EncryptionSource))
}

// quote makes s a DOT double-quoted string. DOT gives meaning to few
// characters inside quotes: the quote itself, the backslash (escape
// sequences such as \l) and raw newlines; everything else is literal.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }
