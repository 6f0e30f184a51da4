package export

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
)

// DOT styling follows data-flow-diagram conventions: processes are
// rounded boxes, data stores cylinders, external entities plain boxes and
// gateways hexagons; trust boundaries are dashed clusters. Edge colours
// say what is known about encryption, edge styles how the flow is known.
var (
	nodeLooks = map[model.NodeType]nodeLook{
		model.Process:        {"box", "rounded,filled", "#e8f0fe"},
		model.DataStore:      {"cylinder", "filled", "#fef7e0"},
		model.ExternalEntity: {"box", "filled", "#f1f3f4"},
		model.Gateway:        {"hexagon", "filled", "#e6f4ea"},
	}
	encryptionColours = map[model.Encryption]string{
		model.EncryptionPlaintext: "#d93025",
		model.EncryptionTLS:       "#1e8e3e",
		model.EncryptionMTLS:      "#0b5394",
		model.EncryptionUnknown:   "#5f6368",
	}
	boundaryColours = map[model.BoundaryType]string{
		model.BoundaryInternet:  "#d93025",
		model.BoundaryCluster:   "#5f6368",
		model.BoundaryNamespace: "#9aa0a6",
	}
)

// nodeLook is how a type of element is drawn.
type nodeLook struct{ shape, style, fill string }

// attrs are the DOT attributes of the look, with more styles (such as
// "dashed") added to its own.
func (l nodeLook) attrs(moreStyles ...string) string {
	if l.shape == "" {
		return ""
	}
	style := strings.Join(append([]string{l.style}, moreStyles...), ",")
	if strings.Contains(style, ",") {
		style = quote(style)
	}
	return fmt.Sprintf("shape=%s, style=%s, fillcolor=%s", l.shape, style, quote(l.fill))
}

// evidenceStyles are the DOT edge styles for how a flow is known.
const (
	styleDeclared = "solid"
	styleObserved = "dashed"
	styleBoth     = "bold"
)

// DOTOptions says what a diagram shows besides the graph itself.
type DOTOptions struct {
	// Title is the diagram's caption.
	Title string
	// Threats are the open findings per element, shown on nodes, edges and
	// boundaries; nil shows none.
	Threats ThreatCounts
	// NoLegend leaves out the legend (it is on by default).
	NoLegend bool
	// Drift marks what was added, removed and changed since an earlier
	// scan (see DriftDiagram); nil draws the graph as it is.
	Drift *DiagramDrift
}

// WriteDOT writes g as a Graphviz digraph with a legend and no threat
// counts. The output depends only on its arguments, so the same scan
// always gives the same bytes.
func WriteDOT(w io.Writer, g *model.Graph, title string) error {
	return WriteDOTOptions(w, g, DOTOptions{Title: title})
}

// WriteDOTOptions writes g as a Graphviz digraph. The output depends only on
// its arguments, so the same scan always gives the same bytes.
func WriteDOTOptions(w io.Writer, g *model.Graph, opts DOTOptions) error {
	d := &dotWriter{w: w, threats: opts.Threats, drift: opts.Drift}
	d.line(0, "digraph stridemap {")
	d.line(1, "graph [rankdir=LR, fontname=Helvetica, label=%s, labelloc=t, compound=true, newrank=true];", quote(opts.Title))
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
		label := boundaryLabel(b)
		if c := d.threats[b.ID]; c.Total() > 0 {
			label += "\n⚠ " + c.String()
		}
		colour := boundaryColours[b.Type]
		if colour == "" {
			colour = boundaryColours[model.BoundaryNamespace]
		}
		tooltip, extra := b.ID, ""
		if m, ok := d.drift.mark(b.ID); ok {
			look := driftLooks[m.Kind]
			label = look.sign + " " + label
			colour = look.colour
			tooltip += "\n" + d.drift.note(m)
			extra = " penwidth=" + look.penwidth + ";"
		}
		d.line(depth+1, "label=%s; style=dashed; color=%s; fontcolor=%s; tooltip=%s;%s", quote(label), quote(colour), quote(colour), quote(tooltip), extra)
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
	if !opts.NoLegend {
		d.legend()
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
	w       io.Writer
	threats ThreatCounts
	drift   *DiagramDrift
	err     error
}

func (d *dotWriter) line(depth int, format string, args ...any) {
	if d.err != nil {
		return
	}
	_, d.err = fmt.Fprintf(d.w, "%s%s\n", strings.Repeat("  ", depth), fmt.Sprintf(format, args...))
}

// nodeLabel is what a node box says: its name, its kind (and engine), and
// its open threats.
func nodeLabel(n *model.Node) string {
	label := clip(n.Name)
	if n.Kind != "" && n.Type != model.ExternalEntity {
		label += "\n" + clip(n.Kind)
	}
	if n.DataStore != nil {
		label += " (" + clip(n.DataStore.Engine) + ")"
	}
	return label
}

func (d *dotWriter) node(depth int, n *model.Node) {
	label := nodeLabel(n)
	look := nodeLooks[n.Type]
	shape, tooltip, extra := look.attrs(), n.ID, ""
	if c := d.threats[n.ID]; c.Total() > 0 {
		label += "\n⚠ " + c.String()
		extra = fmt.Sprintf(", color=%s, penwidth=2", quote(severityColours[c.Highest()]))
	}
	// A drift mark takes the border: the threat count stays in the label.
	if m, ok := d.drift.mark(n.ID); ok {
		mark := driftLooks[m.Kind]
		label = mark.sign + " " + label
		tooltip += "\n" + d.drift.note(m)
		extra = fmt.Sprintf(", color=%s, fontcolor=%s, penwidth=%s", quote(mark.colour), quote(mark.colour), mark.penwidth)
		if m.Kind == DriftRemoved {
			shape = look.attrs("dashed")
		}
	}
	d.line(depth, "%s [label=%s, %s, tooltip=%s%s];", quote(n.ID), quote(label), shape, quote(tooltip), extra)
}

// edgeLabel is protocol:port, the label a flow carries.
func edgeLabel(e *model.Edge) string {
	label := e.Protocol
	if e.Port != 0 {
		label += ":" + strconv.Itoa(int(e.Port))
	}
	return label
}

// edgeStyle is the line style for how a flow is known.
func edgeStyle(e *model.Edge) string {
	switch {
	case e.Observed && e.Declared:
		return styleBoth
	case e.Observed:
		return styleObserved
	}
	return styleDeclared
}

func encryptionColour(e model.Encryption) string {
	if c, ok := encryptionColours[e]; ok {
		return c
	}
	return encryptionColours[model.EncryptionUnknown]
}

func (d *dotWriter) edge(e *model.Edge) {
	label := edgeLabel(e)
	if c := d.threats[e.ID]; c.Total() > 0 {
		label += "\n⚠ " + c.String()
	}
	colour := encryptionColour(e.Encryption)
	fontColour, style, tooltip, extra := colour, edgeStyle(e), string(e.Encryption)+" "+e.EncryptionSource, ""
	// An added or changed flow keeps its encryption colour, so a new
	// plaintext flow still shows red; its label carries the mark. A
	// removed flow is dashed in the removed colour.
	if m, ok := d.drift.mark(e.ID); ok {
		mark := driftLooks[m.Kind]
		label = mark.sign + " " + label
		fontColour = mark.colour
		tooltip += "\n" + d.drift.note(m)
		extra = ", penwidth=" + mark.penwidth
		if m.Kind == DriftRemoved {
			colour, style = mark.colour, styleObserved
		}
	}
	d.line(1, "%s -> %s [label=%s, color=%s, fontcolor=%s, style=%s, tooltip=%s%s];",
		quote(e.From), quote(e.To), quote(label), quote(colour), quote(fontColour), style, quote(tooltip), extra)
}

// legend draws a key to the diagram as one table: the element types with
// their fill colours and shapes, a line per encryption verdict and per kind
// of evidence, and how threats are shown. Its ID starts with "legend:",
// which no model ID does, and it holds only fixed text (and, with drift
// marks, the earlier scan's name, escaped).
func (d *dotWriter) legend() {
	var b strings.Builder
	b.WriteString(`<<TABLE BORDER="1" COLOR="#9aa0a6" CELLBORDER="0" CELLSPACING="2" CELLPADDING="3" BGCOLOR="#ffffff">`)
	b.WriteString(`<TR><TD COLSPAN="2"><B>Legend</B></TD></TR>`)
	for _, s := range []struct{ fill, shape, what string }{
		{"#e8f0fe", "rounded box", "process (workload)"},
		{"#fef7e0", "cylinder", "data store"},
		{"#f1f3f4", "box", "external entity"},
		{"#e6f4ea", "hexagon", "gateway"},
	} {
		fmt.Fprintf(&b, `<TR><TD BGCOLOR="%s" BORDER="1" COLOR="#5f6368">%s</TD><TD ALIGN="LEFT">%s</TD></TR>`, s.fill, s.shape, s.what)
	}
	for _, f := range []struct {
		line, colour, what string
	}{
		{"━━━━▶", encryptionColour(model.EncryptionPlaintext), "plaintext"},
		{"━━━━▶", encryptionColour(model.EncryptionTLS), "TLS"},
		{"━━━━▶", encryptionColour(model.EncryptionMTLS), "mTLS"},
		{"━━━━▶", encryptionColour(model.EncryptionUnknown), "encryption unknown"},
		{"────▶", "#202124", "declared (solid)"},
		{"╌╌╌╌▶", "#202124", "observed only (dashed)"},
		{"━━━━▶", "#202124", "declared and observed (bold)"},
	} {
		fmt.Fprintf(&b, `<TR><TD><FONT COLOR="%s">%s</FONT></TD><TD ALIGN="LEFT">%s</TD></TR>`, f.colour, f.line, f.what)
	}
	fmt.Fprintf(&b, `<TR><TD BORDER="1" COLOR="%s">⚠ 1 high</TD><TD ALIGN="LEFT">open threats by severity;<BR ALIGN="LEFT"/>border: the worst</TD></TR>`, severityColours["high"])
	b.WriteString(`<TR><TD BORDER="1" STYLE="dashed" COLOR="#9aa0a6">namespace</TD><TD ALIGN="LEFT">trust boundary</TD></TR>`)
	if d.drift != nil {
		d.drift.legendRows(&b)
	}
	b.WriteString(`</TABLE>>`)
	d.line(1, `"legend:key" [shape=plaintext, fontsize=9, margin=0, label=%s];`, b.String())
}

// quote makes s a DOT double-quoted string, the one way every name, label
// and tooltip reaches the diagram. Text from the input is escaped
// (safetext.Lines) so no control, bidi or other invisible character reaches
// the drawing; then DOT's own syntax: the quote, the backslash (escape
// sequences such as \l and \N) and the newline, which becomes DOT's \n,
// a centred line break.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range safetext.Lines(s) {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// clip cuts a name for a label to safetext.CellLimit runes, before quote
// escapes it: a box as wide as a 70,000-character name helps nobody, and
// the tooltip still holds the element's whole ID.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= safetext.CellLimit {
		return s
	}
	return string([]rune(s)[:safetext.CellLimit-1]) + "…"
}

func itoa(n int) string { return strconv.Itoa(n) }
