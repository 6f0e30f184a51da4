package export

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/stridemap/stridemap/model"
)

// An overview draws a graph too large to draw element by element (a whole
// cluster): one box per namespace, or per application within a namespace,
// that counts what it runs, names the data stores it keeps and the
// elements the internet reaches, and sums its open threats; one arrow per
// pair of boxes that exchange flows, with how many flows and the colour of
// the worst encryption among them. Elements outside every namespace (the
// internet, external services) stay as they are, so the internet's arrows
// show where the system is entered.

// Ways an overview groups elements.
const (
	GroupByNamespace = "namespace"
	// GroupByApp makes one box per application within a namespace, named
	// by the first of the app.kubernetes.io/part-of,
	// app.kubernetes.io/name, app and k8s-app labels an element has.
	GroupByApp = "app"
)

// OverviewGroupFor is how an overview of g groups its elements: as asked
// when groupBy is set, else by namespace, or by application when every
// element of g that has a namespace has the same one (a large namespace,
// or a diagram narrowed to one), where one box per namespace would be a
// single box.
func OverviewGroupFor(g *model.Graph, groupBy string) string {
	if groupBy != "" {
		return groupBy
	}
	if len(Namespaces(g)) <= 1 {
		return GroupByApp
	}
	return GroupByNamespace
}

// Namespaces lists, sorted, the namespaces of g's elements.
func Namespaces(g *model.Graph) []string {
	seen := map[string]bool{}
	var out []string
	for i := range g.Nodes {
		if ns := g.Nodes[i].Namespace; ns != "" && !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return out
}

// appLabels are the labels GroupByApp reads, in order.
var appLabels = []string{"app.kubernetes.io/part-of", "app.kubernetes.io/name", "app", "k8s-app"}

// OverviewOptions says how an overview is drawn.
type OverviewOptions struct {
	Title string
	// Threats are the open findings per element, summed per box and arrow.
	Threats ThreatCounts
	// GroupBy is GroupByNamespace (the default) or GroupByApp; see
	// OverviewGroupFor.
	GroupBy  string
	NoLegend bool
}

// overviewSpringFrom is the number of boxes from which an overview is laid
// out by sfdp, Graphviz's multiscale force-directed engine, rather than
// dot: dot's ranks make hundreds of unconnected namespaces one row
// thousands of points wide, and its time grows much faster.
const overviewSpringFrom = 40

// overviewMaxOutside is how many elements outside every namespace an
// overview draws one by one; beyond it those other than the internet are
// one box too.
const overviewMaxOutside = 60

// overviewMaxNames is how many names a box lists of each kind (data
// stores, entry points) before it says how many more there are.
const overviewMaxNames = 3

// overviewBox is one box of an overview: a group of elements.
type overviewBox struct {
	id, title string
	types     map[model.NodeType]int
	stores    []string
	entries   []string
	inside    int // flows between its own elements
	plainIn   int // of which plaintext
	threats   SeverityCounts
}

// overviewLink is the flows from one box (or element) to another.
type overviewLink struct {
	from, to string
	flows    int
	worst    model.Encryption
	ports    []string // protocol:port, distinct
	declared bool     // some flow is declared
	onlyBoth bool     // every flow is declared and observed
	threats  SeverityCounts
}

// overview is a graph drawn by groups.
type overview struct {
	boxes   []*overviewBox
	outside []*model.Node // drawn as themselves
	links   []*overviewLink
	// elsewhere are the open threats of trust boundaries no box stands
	// for (the cluster's; with GroupByApp, the namespaces' too), shown
	// under the title.
	elsewhere SeverityCounts
}

// encryptionRank orders encryption verdicts from best to worst, for the colour of an
// arrow that stands for several flows.
var encryptionRank = map[model.Encryption]int{
	model.EncryptionMTLS:      0,
	model.EncryptionTLS:       1,
	model.EncryptionUnknown:   2,
	model.EncryptionPlaintext: 3,
}

func worseEncryption(a, b model.Encryption) model.Encryption {
	if encryptionRank[b] > encryptionRank[a] {
		return b
	}
	return a
}

// groupOf returns the box ID and title an element belongs to, or "" for an
// element drawn as itself.
func groupOf(n *model.Node, groupBy string) (id, title string) {
	if n.Namespace == "" {
		return "", ""
	}
	if groupBy == GroupByApp {
		for _, key := range appLabels {
			if app := n.Labels[key]; app != "" {
				return "group:app:" + n.Namespace + "/" + app, "app " + app + " · namespace " + n.Namespace
			}
		}
		return "group:app:" + n.Namespace + "/", "namespace " + n.Namespace + " · no app label"
	}
	return "group:namespace:" + n.Namespace, "namespace " + n.Namespace
}

func buildOverview(g *model.Graph, threats ThreatCounts, groupBy string) *overview {
	o := &overview{}
	boxes := map[string]*overviewBox{}
	// where is the box, or the element itself, each node is drawn as.
	where := make(map[string]string, len(g.Nodes))
	var outside []*model.Node
	for i := range g.Nodes {
		n := &g.Nodes[i]
		id, title := groupOf(n, groupBy)
		if id == "" {
			outside = append(outside, n)
			continue
		}
		o.add(boxes, id, title, n, threats)
		where[n.ID] = id
	}
	for _, n := range outside {
		if len(outside) > overviewMaxOutside && n.ID != model.InternetID {
			o.add(boxes, "group:outside", "outside the namespaces", n, threats)
			where[n.ID] = "group:outside"
			continue
		}
		o.outside = append(o.outside, n)
		where[n.ID] = n.ID
	}

	links := map[[2]string]*overviewLink{}
	nodes := make(map[string]*model.Node, len(g.Nodes))
	for i := range g.Nodes {
		nodes[g.Nodes[i].ID] = &g.Nodes[i]
	}
	for i := range g.Edges {
		e := &g.Edges[i]
		from, to := where[e.From], where[e.To]
		if from == "" || to == "" {
			continue
		}
		if e.From == model.InternetID {
			if b := boxes[to]; b != nil {
				b.entries = appendName(b.entries, nodes[e.To].Name)
			}
		}
		if from == to && boxes[from] != nil {
			b := boxes[from]
			b.inside++
			if e.Encryption == model.EncryptionPlaintext {
				b.plainIn++
			}
			b.threats = addCounts(b.threats, threats[e.ID])
			continue
		}
		l := links[[2]string{from, to}]
		if l == nil {
			l = &overviewLink{from: from, to: to, worst: e.Encryption, onlyBoth: true}
			links[[2]string{from, to}] = l
			o.links = append(o.links, l)
		}
		l.flows++
		l.worst = worseEncryption(l.worst, e.Encryption)
		if p := edgeLabel(e); !slices.Contains(l.ports, p) {
			l.ports = append(l.ports, p)
		}
		l.declared = l.declared || e.Declared
		l.onlyBoth = l.onlyBoth && e.Declared && e.Observed
		l.threats = addCounts(l.threats, threats[e.ID])
	}
	for i := range g.Boundaries {
		b := &g.Boundaries[i]
		c := threats[b.ID]
		if c.Total() == 0 {
			continue
		}
		if box := boxes["group:namespace:"+b.Name]; b.Type == model.BoundaryNamespace && box != nil {
			box.threats = addCounts(box.threats, c)
		} else {
			o.elsewhere = addCounts(o.elsewhere, c)
		}
	}
	// Names and ports are listed sorted, so the drawing does not depend on
	// the order of the graph.
	for _, b := range boxes {
		slices.Sort(b.stores)
		slices.Sort(b.entries)
		o.boxes = append(o.boxes, b)
	}
	for _, l := range o.links {
		slices.Sort(l.ports)
	}
	slices.SortFunc(o.outside, func(a, b *model.Node) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(o.boxes, func(a, b *overviewBox) int { return strings.Compare(a.id, b.id) })
	slices.SortFunc(o.links, func(a, b *overviewLink) int {
		if c := strings.Compare(a.from, b.from); c != 0 {
			return c
		}
		return strings.Compare(a.to, b.to)
	})
	return o
}

// add puts n into the box id, making the box if needed.
func (o *overview) add(boxes map[string]*overviewBox, id, title string, n *model.Node, threats ThreatCounts) {
	b := boxes[id]
	if b == nil {
		b = &overviewBox{id: id, title: title, types: map[model.NodeType]int{}}
		boxes[id] = b
	}
	b.types[n.Type]++
	if n.Type == model.DataStore {
		name := n.Name
		if n.DataStore != nil && n.DataStore.Engine != "" {
			name += " (" + n.DataStore.Engine + ")"
		}
		b.stores = appendName(b.stores, name)
	}
	b.threats = addCounts(b.threats, threats[n.ID])
}

// appendName adds name to a box's list unless it is there already.
func appendName(names []string, name string) []string {
	if slices.Contains(names, name) {
		return names
	}
	return append(names, name)
}

func addCounts(a, b SeverityCounts) SeverityCounts {
	return SeverityCounts{Critical: a.Critical + b.Critical, High: a.High + b.High, Medium: a.Medium + b.Medium, Low: a.Low + b.Low}
}

// WriteOverviewDOT writes the overview of g as a Graphviz digraph. The
// output depends only on its arguments.
func WriteOverviewDOT(w io.Writer, g *model.Graph, opts OverviewOptions) error {
	groupBy := opts.GroupBy
	if groupBy == "" {
		groupBy = GroupByNamespace
	}
	if groupBy != GroupByNamespace && groupBy != GroupByApp {
		return fmt.Errorf("group an overview by %q: use %s or %s", groupBy, GroupByNamespace, GroupByApp)
	}
	o := buildOverview(g, opts.Threats, groupBy)
	d := &dotWriter{w: w, threats: opts.Threats}
	title := opts.Title
	if o.elsewhere.Total() > 0 {
		title = strings.TrimPrefix(title+"\n⚠ trust boundaries: "+o.elsewhere.String(), "\n")
	}
	d.line(0, "digraph stridemap {")
	if len(o.boxes)+len(o.outside) >= overviewSpringFrom {
		// sfdp: no ranks; boxes kept apart by scaling the layout (Graphviz
		// here has no GTS for prism, and its Voronoi fallback takes 40
		// times as long); straight arrows drawn under the boxes.
		d.line(1, "graph [layout=sfdp, overlap=scale, splines=false, outputorder=edgesfirst, fontname=Helvetica, label=%s, labelloc=t];", quote(title))
	} else {
		d.line(1, "graph [layout=dot, rankdir=LR, fontname=Helvetica, label=%s, labelloc=t];", quote(title))
	}
	d.line(1, "node [fontname=Helvetica, fontsize=10];")
	d.line(1, "edge [fontname=Helvetica, fontsize=9];")
	for _, b := range o.boxes {
		d.box(b)
	}
	for _, n := range o.outside {
		d.node(1, n)
	}
	for _, l := range o.links {
		d.link(l)
	}
	if !opts.NoLegend {
		d.overviewLegend(groupBy)
	}
	d.line(0, "}")
	return d.err
}

// box draws one group as a folder whose label counts its contents.
func (d *dotWriter) box(b *overviewBox) {
	lines := []string{clip(b.title)}
	var counts []string
	for _, t := range []struct {
		typ  model.NodeType
		what string
	}{{model.Process, "process"}, {model.DataStore, "data store"}, {model.Gateway, "gateway"}, {model.ExternalEntity, "external entity"}} {
		if n := b.types[t.typ]; n > 0 {
			counts = append(counts, plural(n, t.what))
		}
	}
	lines = append(lines, strings.Join(counts, ", "))
	if len(b.stores) > 0 {
		lines = append(lines, "stores: "+nameList(b.stores))
	}
	if len(b.entries) > 0 {
		lines = append(lines, "from the internet: "+nameList(b.entries))
	}
	if b.inside > 0 {
		inside := plural(b.inside, "flow") + " inside"
		if b.plainIn > 0 {
			inside += " (" + itoa(b.plainIn) + " plaintext)"
		}
		lines = append(lines, inside)
	}
	extra := ""
	if b.threats.Total() > 0 {
		lines = append(lines, "⚠ "+b.threats.String())
		extra = fmt.Sprintf(", color=%s, penwidth=2", quote(severityColours[b.threats.Highest()]))
	}
	look := nodeLook{"folder", "filled", nodeLooks[model.Process].fill}
	if b.types[model.DataStore] > 0 && len(b.types) == 1 {
		look = nodeLooks[model.DataStore]
	}
	tooltip := b.title
	if len(b.stores) > overviewMaxNames {
		tooltip += "\nstores: " + strings.Join(b.stores, ", ")
	}
	if len(b.entries) > overviewMaxNames {
		tooltip += "\nfrom the internet: " + strings.Join(b.entries, ", ")
	}
	d.line(1, "%s [label=%s, %s, tooltip=%s%s];", quote(b.id), quote(strings.Join(lines, "\n")), look.attrs(), quote(tooltip), extra)
}

// link draws the flows between two boxes as one arrow.
func (d *dotWriter) link(l *overviewLink) {
	label := plural(l.flows, "flow")
	if len(l.ports) <= overviewMaxNames {
		label += ": " + strings.Join(l.ports, ", ")
	}
	if l.threats.Total() > 0 {
		label += "\n⚠ " + l.threats.String()
	}
	style := styleDeclared
	switch {
	case l.onlyBoth:
		style = styleBoth
	case !l.declared:
		style = styleObserved
	}
	colour := encryptionColour(l.worst)
	tooltip := fmt.Sprintf("%s; worst encryption: %s\n%s", plural(l.flows, "flow"), l.worst, strings.Join(l.ports, ", "))
	d.line(1, "%s -> %s [label=%s, color=%s, fontcolor=%s, style=%s, penwidth=%s, tooltip=%s];",
		quote(l.from), quote(l.to), quote(label), quote(colour), quote(colour), style, linkWidth(l.flows), quote(tooltip))
}

// linkWidth thickens an arrow with the number of flows it stands for,
// gently: 1 for one flow, 3 from about a hundred.
func linkWidth(flows int) string {
	switch {
	case flows >= 100:
		return "3"
	case flows >= 10:
		return "2"
	}
	return "1"
}

// nameList lists up to overviewMaxNames names and how many more.
func nameList(names []string) string {
	shown := names
	if len(shown) > overviewMaxNames {
		shown = shown[:overviewMaxNames]
	}
	clipped := make([]string, len(shown))
	for i, n := range shown {
		clipped[i] = clip(n)
	}
	s := strings.Join(clipped, ", ")
	if more := len(names) - len(shown); more > 0 {
		s += " (+" + strconv.Itoa(more) + " more)"
	}
	return s
}

// plural counts n things: "1 flow", "2 flows", "3 processes", "2 external entities".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	switch {
	case strings.HasSuffix(what, "ss"):
		what += "es"
	case strings.HasSuffix(what, "ty"):
		what = strings.TrimSuffix(what, "y") + "ies"
	default:
		what += "s"
	}
	return itoa(n) + " " + what
}

// overviewLegend is the overview's key: what a box and an arrow stand for.
func (d *dotWriter) overviewLegend(groupBy string) {
	group := "namespace: its elements counted"
	if groupBy == GroupByApp {
		group = "application in a namespace: its elements counted"
	}
	var b strings.Builder
	b.WriteString(`<<TABLE BORDER="1" COLOR="#9aa0a6" CELLBORDER="0" CELLSPACING="2" CELLPADDING="3" BGCOLOR="#ffffff">`)
	b.WriteString(`<TR><TD COLSPAN="2"><B>Legend (overview)</B></TD></TR>`)
	fmt.Fprintf(&b, `<TR><TD BGCOLOR="%s" BORDER="1" COLOR="#5f6368">folder</TD><TD ALIGN="LEFT">%s</TD></TR>`, nodeLooks[model.Process].fill, group)
	fmt.Fprintf(&b, `<TR><TD BGCOLOR="%s" BORDER="1" COLOR="#5f6368">cylinder</TD><TD ALIGN="LEFT">a group of data stores only</TD></TR>`, nodeLooks[model.DataStore].fill)
	fmt.Fprintf(&b, `<TR><TD BGCOLOR="%s" BORDER="1" COLOR="#5f6368">box</TD><TD ALIGN="LEFT">external entity</TD></TR>`, nodeLooks[model.ExternalEntity].fill)
	for _, f := range []struct{ colour, what string }{
		{encryptionColour(model.EncryptionPlaintext), "some flow plaintext"},
		{encryptionColour(model.EncryptionUnknown), "worst: encryption unknown"},
		{encryptionColour(model.EncryptionTLS), "worst: TLS"},
		{encryptionColour(model.EncryptionMTLS), "all mTLS"},
	} {
		fmt.Fprintf(&b, `<TR><TD><FONT COLOR="%s">━━━━▶</FONT></TD><TD ALIGN="LEFT">%s</TD></TR>`, f.colour, f.what)
	}
	b.WriteString(`<TR><TD>N flows</TD><TD ALIGN="LEFT">flows the arrow stands for;<BR ALIGN="LEFT"/>thicker from 10 and 100</TD></TR>`)
	fmt.Fprintf(&b, `<TR><TD BORDER="1" COLOR="%s">⚠ 1 high</TD><TD ALIGN="LEFT">open threats inside, by severity;<BR ALIGN="LEFT"/>border: the worst</TD></TR>`, severityColours["high"])
	b.WriteString(`</TABLE>>`)
	d.line(1, `"legend:key" [shape=plaintext, fontsize=9, margin=0, label=%s];`, b.String())
}

// RenderOverviewSVG returns the SVG document of g's overview.
func RenderOverviewSVG(ctx context.Context, r Renderer, g *model.Graph, opts OverviewOptions) ([]byte, error) {
	if r == nil {
		return nil, ErrNoRenderer
	}
	var dot bytes.Buffer
	if err := WriteOverviewDOT(&dot, g, opts); err != nil {
		return nil, err
	}
	return renderSVG(ctx, r, dot.Bytes())
}
