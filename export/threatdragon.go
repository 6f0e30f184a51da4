package export

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

// OWASP Threat Dragon's v2 model file: a summary, and one STRIDE diagram
// whose cells are the elements (actor, process, store), the flows and the
// trust boundaries, each element with its threats. The field names follow
// Threat Dragon's published v2 JSON schema; stridemap writes the fields it
// has facts for.
const threatDragonVersion = "2.3.0"

type tdModel struct {
	Version string    `json:"version"`
	Summary tdSummary `json:"summary"`
	Detail  tdDetail  `json:"detail"`
}

type tdSummary struct {
	Title       string `json:"title"`
	Owner       string `json:"owner"`
	Description string `json:"description"`
	ID          int    `json:"id"`
}

type tdDetail struct {
	Contributors []tdContributor `json:"contributors"`
	Diagrams     []tdDiagram     `json:"diagrams"`
	DiagramTop   int             `json:"diagramTop"`
	Reviewer     string          `json:"reviewer"`
	ThreatTop    int             `json:"threatTop"`
}

type tdContributor struct {
	Name string `json:"name"`
}

type tdDiagram struct {
	ID          int      `json:"id"`
	Title       string   `json:"title"`
	DiagramType string   `json:"diagramType"`
	Placeholder string   `json:"placeholder"`
	Thumbnail   string   `json:"thumbnail"`
	Version     string   `json:"version"`
	Description string   `json:"description"`
	Cells       []tdCell `json:"cells"`
}

type tdPoint struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

type tdSize struct {
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// tdCell is an element, flow or boundary: elements and boundaries have a
// position and size, flows a source and target.
type tdCell struct {
	ID        string         `json:"id"`
	Shape     string         `json:"shape"`
	ZIndex    int            `json:"zIndex"`
	Visible   *bool          `json:"visible,omitempty"`
	Position  *tdPoint       `json:"position,omitempty"`
	Size      *tdSize        `json:"size,omitempty"`
	Attrs     map[string]any `json:"attrs"`
	Connector string         `json:"connector,omitempty"`
	Labels    []tdLabel      `json:"labels,omitempty"`
	Source    *tdEnd         `json:"source,omitempty"`
	Target    *tdEnd         `json:"target,omitempty"`
	Vertices  []tdPoint      `json:"vertices,omitempty"`
	Data      map[string]any `json:"data"`
}

type tdEnd struct {
	Cell string `json:"cell"`
}

type tdLabel struct {
	Position float64        `json:"position"`
	Attrs    map[string]any `json:"attrs"`
}

type tdThreat struct {
	ID          string `json:"id"`
	ThreatID    string `json:"threatId"`
	Title       string `json:"title"`
	Status      string `json:"status"`
	Severity    string `json:"severity"`
	Type        string `json:"type"`
	Description string `json:"description"`
	Mitigation  string `json:"mitigation"`
	ModelType   string `json:"modelType"`
	Number      int    `json:"number"`
	Score       string `json:"score"`
}

// tdStride is Threat Dragon's name for each STRIDE category.
var tdStride = map[catalog.Stride]string{
	catalog.Spoofing:              "Spoofing",
	catalog.Tampering:             "Tampering",
	catalog.Repudiation:           "Repudiation",
	catalog.InformationDisclosure: "Information disclosure",
	catalog.DenialOfService:       "Denial of service",
	catalog.ElevationOfPrivilege:  "Elevation of privilege",
}

// tdSeverity maps severities; Threat Dragon knows Low, Medium, High and
// Critical.
var tdSeverity = map[threats.Severity]string{
	threats.Low: "Low", threats.Medium: "Medium", threats.High: "High", threats.Critical: "Critical",
}

// tdStatus maps triage to Threat Dragon's Open, Mitigated and NA. An
// accepted risk is no longer open work, and Threat Dragon has no status
// for it: it becomes NA, with the decision in the description.
func tdStatus(f *threats.Finding) string {
	switch StatusOf(f) {
	case threats.Mitigated:
		return "Mitigated"
	case threats.Accepted, threats.FalsePositive:
		return "NA"
	}
	return "Open"
}

// Layout is where Graphviz put each node and cluster, in points, with the
// origin at the top left (y grows downwards, as in Threat Dragon).
type Layout struct {
	Width, Height float64
	Nodes         map[string]Box // by node ID
	Clusters      map[string]Box // by boundary ID
}

// Box is a rectangle: top-left corner and size, in points.
type Box struct {
	X, Y, Width, Height float64
}

// LayoutGraph lays g out with Graphviz (the same DOT as the diagram, without
// the legend) and returns the positions of its nodes and boundaries.
func LayoutGraph(ctx context.Context, r Renderer, g *model.Graph) (*Layout, error) {
	if r == nil {
		return nil, ErrNoRenderer
	}
	var dot, out bytes.Buffer
	if err := WriteDOTOptions(&dot, g, DOTOptions{NoLegend: true}); err != nil {
		return nil, err
	}
	if err := r.Render(ctx, dot.Bytes(), FormatLayoutJSON, &out); err != nil {
		return nil, err
	}
	return parseLayout(out.Bytes())
}

// gvJSON is the part of Graphviz's json0 output that positions read.
type gvJSON struct {
	BB      string `json:"bb"`
	Objects []struct {
		Name   string `json:"name"`
		BB     string `json:"bb"`     // clusters
		Pos    string `json:"pos"`    // nodes: centre "x,y"
		Width  string `json:"width"`  // nodes: inches
		Height string `json:"height"` // nodes: inches
	} `json:"objects"`
}

func parseLayout(data []byte) (*Layout, error) {
	var j gvJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("read Graphviz layout: %w", err)
	}
	bb, err := floats(j.BB, 4)
	if err != nil {
		return nil, fmt.Errorf("read Graphviz layout: bounding box %q: %w", j.BB, err)
	}
	l := &Layout{Width: bb[2], Height: bb[3], Nodes: map[string]Box{}, Clusters: map[string]Box{}}
	flip := func(y float64) float64 { return bb[3] - y }
	for _, o := range j.Objects {
		switch {
		case o.BB != "":
			c, err := floats(o.BB, 4)
			if err != nil {
				return nil, fmt.Errorf("read Graphviz layout: cluster %q: %w", o.Name, err)
			}
			id, ok := strings.CutPrefix(o.Name, "cluster_")
			if !ok {
				continue
			}
			l.Clusters[id] = Box{X: c[0], Y: flip(c[3]), Width: c[2] - c[0], Height: c[3] - c[1]}
		case o.Pos != "":
			p, err := floats(o.Pos, 2)
			if err != nil {
				return nil, fmt.Errorf("read Graphviz layout: node %q: %w", o.Name, err)
			}
			size, err := floats(cmp.Or(o.Width, "0")+","+cmp.Or(o.Height, "0"), 2)
			if err != nil {
				return nil, fmt.Errorf("read Graphviz layout: node %q: size: %w", o.Name, err)
			}
			w, h := size[0]*72, size[1]*72
			l.Nodes[o.Name] = Box{X: p[0] - w/2, Y: flip(p[1]) - h/2, Width: w, Height: h}
		}
	}
	return l, nil
}

func floats(s string, n int) ([]float64, error) {
	parts := strings.Split(s, ",")
	if len(parts) != n {
		return nil, fmt.Errorf("want %d numbers", n)
	}
	out := make([]float64, n)
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, err
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%q is not a finite number", p)
		}
		out[i] = v
	}
	return out, nil
}

// WriteThreatDragon writes the report as an OWASP Threat Dragon v2 model:
// one STRIDE diagram with the report's elements placed where Graphviz laid
// them out, flows between them, namespaces and the internet as trust
// boundary boxes, and each finding as a threat on its element or flow
// (status from triage). Findings on boundaries and on the cluster as a
// whole have no cell to sit on in Threat Dragon; the summary counts them.
// IDs are derived from stridemap's stable IDs, so the same scan always
// gives the same file.
func WriteThreatDragon(ctx context.Context, w io.Writer, r *Report, renderer Renderer) error {
	g := r.Graph
	if g == nil {
		g = &model.Graph{}
	}
	layout, err := LayoutGraph(ctx, renderer, g)
	if err != nil {
		return fmt.Errorf("lay out the Threat Dragon diagram: %w", err)
	}
	return writeThreatDragon(w, r, g, layout)
}

func writeThreatDragon(w io.Writer, r *Report, g *model.Graph, layout *Layout) error {
	byElement := map[string][]*threats.Finding{}
	for i := range r.Findings {
		f := &r.Findings[i]
		byElement[f.Element] = append(byElement[f.Element], f)
	}
	number := 0
	threatsOf := func(id string) ([]tdThreat, bool) {
		out := []tdThreat{}
		open := false
		for _, f := range byElement[id] {
			number++
			open = open || f.IsOpen()
			out = append(out, tdThreatOf(f, number))
		}
		delete(byElement, id)
		return out, open
	}

	var cells []tdCell
	z := 0
	// Boundaries first and lowest, so elements sit on top of them.
	for _, b := range g.Boundaries {
		box, ok := layout.Clusters[b.ID]
		if !ok {
			continue
		}
		z++
		cells = append(cells, tdCell{
			ID: tdUUID("boundary", b.ID), Shape: "trust-boundary-box", ZIndex: -z, Visible: ptr(true),
			Position: &tdPoint{round(box.X), round(box.Y)}, Size: &tdSize{round(box.Width), round(box.Height)},
			Attrs: map[string]any{"label": map[string]any{"text": boundaryLabel(&b)}},
			Data: map[string]any{
				"type": "tm.BoundaryBox", "name": boundaryLabel(&b), "description": b.ID,
				"isTrustBoundary": true, "hasOpenThreats": false,
			},
		})
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		box, ok := layout.Nodes[n.ID]
		if !ok {
			continue
		}
		z++
		list, open := threatsOf(n.ID)
		stroke := "#333333"
		if open {
			stroke = "#ff0000"
		}
		data := map[string]any{
			"name": n.Name, "description": nodeDescription(n), "outOfScope": false, "reasonOutOfScope": "",
			"hasOpenThreats": open, "threats": list,
		}
		attrs := map[string]any{"text": map[string]any{"text": n.Name}}
		shape := "process"
		classes := dataClasses(n)
		switch n.Type {
		case model.DataStore:
			shape = "store"
			data["type"] = "tm.Store"
			data["isALog"] = false
			data["isEncrypted"] = false
			data["isSigned"] = false
			data["storesCredentials"] = classes["credentials"] || classes["secret"]
			data["storesInventory"] = false
			attrs["topLine"] = map[string]any{"stroke": stroke, "strokeWidth": 1.5, "strokeDasharray": nil}
			attrs["bottomLine"] = map[string]any{"stroke": stroke, "strokeWidth": 1.5, "strokeDasharray": nil}
		case model.ExternalEntity:
			shape = "actor"
			data["type"] = "tm.Actor"
			data["providesAuthentication"] = false
			attrs["body"] = map[string]any{"stroke": stroke, "strokeWidth": 1.5, "strokeDasharray": nil}
		default: // processes and gateways
			data["type"] = "tm.Process"
			data["handlesCardPayment"] = classes["payment"]
			data["handlesGoodsOrServices"] = false
			data["isWebApplication"] = n.Type == model.Gateway
			data["privilegeLevel"] = ""
			attrs["body"] = map[string]any{"stroke": stroke, "strokeWidth": 1.5, "strokeDasharray": nil}
		}
		cells = append(cells, tdCell{
			ID: tdUUID("node", n.ID), Shape: shape, ZIndex: z, Visible: ptr(true),
			Position: &tdPoint{round(box.X), round(box.Y)},
			Size:     &tdSize{math.Max(round(box.Width), 60), math.Max(round(box.Height), 40)},
			Attrs:    attrs, Data: data,
		})
	}
	for i := range g.Edges {
		e := &g.Edges[i]
		if _, ok := layout.Nodes[e.From]; !ok {
			continue
		}
		if _, ok := layout.Nodes[e.To]; !ok {
			continue
		}
		z++
		list, open := threatsOf(e.ID)
		label := edgeLabel(e)
		dash := any(nil)
		if edgeStyle(e) == styleObserved {
			dash = "5 5"
		}
		from, to := g.Node(e.From), g.Node(e.To)
		cells = append(cells, tdCell{
			ID: tdUUID("edge", e.ID), Shape: "flow", ZIndex: z, Connector: "smooth",
			Attrs: map[string]any{"line": map[string]any{
				"stroke": encryptionColour(e.Encryption), "strokeWidth": 1.5, "strokeDasharray": dash,
				"targetMarker": map[string]any{"name": "block"}, "sourceMarker": map[string]any{"name": ""},
			}},
			Labels: []tdLabel{{Position: 0.5, Attrs: map[string]any{"label": map[string]any{"text": label}}}},
			Source: &tdEnd{Cell: tdUUID("node", e.From)}, Target: &tdEnd{Cell: tdUUID("node", e.To)},
			Vertices: []tdPoint{},
			Data: map[string]any{
				"type": "tm.Flow", "name": label, "description": e.ID + " — encryption " + string(e.Encryption) + sourceNote(e.EncryptionSource),
				"outOfScope": false, "reasonOutOfScope": "", "hasOpenThreats": open, "isBidirectional": false,
				"isEncrypted":     e.Encryption == model.EncryptionTLS || e.Encryption == model.EncryptionMTLS,
				"isPublicNetwork": (from != nil && from.Type == model.ExternalEntity) || (to != nil && to.Type == model.ExternalEntity),
				"protocol":        e.Protocol, "threats": list,
			},
		})
	}
	left := 0
	for _, fs := range byElement {
		left += len(fs)
	}
	description := fmt.Sprintf("Generated by stridemap %s from scan #%d: %d elements, %d flows, %d findings.",
		r.Tool.Version, r.Scan.ID, len(g.Nodes), len(g.Edges), number)
	if left > 0 {
		description += fmt.Sprintf(" %d findings on trust boundaries or the cluster as a whole are not shown here (Threat Dragon boundaries carry no threats); the stridemap report lists them.", left)
	}
	if cells == nil {
		cells = []tdCell{}
	}
	m := tdModel{
		Version: threatDragonVersion,
		Summary: tdSummary{Title: r.Title, Owner: "", Description: description, ID: 0},
		Detail: tdDetail{
			Contributors: []tdContributor{},
			Diagrams: []tdDiagram{{
				ID: 0, Title: r.Title, DiagramType: "STRIDE", Placeholder: "New STRIDE diagram description",
				Thumbnail: "./public/content/images/thumbnail.stride.jpg", Version: threatDragonVersion,
				Description: description, Cells: cells,
			}},
			DiagramTop: 1,
			Reviewer:   "",
			ThreatTop:  number,
		},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(m)
}

func tdThreatOf(f *threats.Finding, number int) tdThreat {
	var desc strings.Builder
	desc.WriteString(strings.TrimSpace(f.Description()))
	desc.WriteString("\n\nstridemap finding " + f.ID + " (missing control: " + f.MissingControl + ").")
	for _, ev := range f.Evidence {
		desc.WriteString("\nEvidence: " + EvidenceText(ev))
	}
	if len(f.Raised) > 0 {
		desc.WriteString("\nSeverity raised: " + strings.Join(f.Raised, "; "))
	}
	if t := f.Triage; t != nil {
		desc.WriteString(fmt.Sprintf("\nTriage: %s by %s on %s: %s", t.Status, t.By, t.At.UTC().Format("2006-01-02"), t.Reason))
	}
	if refs := ReferenceList(f.References()); len(refs) > 0 {
		desc.WriteString("\nReferences: " + strings.Join(refs, ", "))
	}
	id := tdUUID("finding", f.ID)
	return tdThreat{
		ID: id, ThreatID: id, Title: f.Title(), Status: tdStatus(f), Severity: tdSeverity[f.Severity],
		Type: tdStride[f.Stride], Description: desc.String(), Mitigation: strings.TrimSpace(f.Mitigation()),
		ModelType: "STRIDE", Number: number, Score: string(f.Severity),
	}
}

func nodeDescription(n *model.Node) string {
	parts := []string{n.ID}
	if n.Kind != "" {
		parts = append(parts, n.Kind)
	}
	if n.DataStore != nil {
		parts = append(parts, n.DataStore.Engine)
	}
	if len(n.Data) > 0 {
		var cls []string
		for _, d := range n.Data {
			cls = append(cls, d.Class)
		}
		parts = append(parts, "data: "+strings.Join(cls, ", "))
	}
	return strings.Join(parts, " · ")
}

func dataClasses(n *model.Node) map[string]bool {
	out := map[string]bool{}
	for _, d := range n.Data {
		out[d.Class] = true
	}
	return out
}

func sourceNote(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// tdUUID derives a UUID-shaped ID from a stable stridemap ID (version 5
// layout over SHA-1), so the file is the same for the same scan.
func tdUUID(kind, id string) string {
	sum := sha1.Sum([]byte("stridemap/" + kind + "/" + id))
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

func round(v float64) float64 { return math.Round(v*10) / 10 }

func ptr[T any](v T) *T { return &v }
