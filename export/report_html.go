package export

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"strings"
	"time"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"fmtTime":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") },
	"fmtDate":     func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"notAssessed": notAssessedCount,
	"breakdown":   elementBreakdown,
	"counts":      func(c SeverityCounts) string { return dashIfEmpty(c.String()) },
	"port":        portLabel,
	"join":        strings.Join,
	"status":      func(f *threats.Finding) threats.Status { return StatusOf(f) },
	"evidence":    EvidenceLines,
	"refs":        func(r catalog.References) string { return strings.Join(ReferenceList(r), ", ") },
	"sign":        signClass,
	"code":        codeText,
	"suggest":     func() string { return SuggestCommand },
}).Parse(reportHTML))

// Limits on the summary lists of a report's HTML page; every finding is
// always listed, and the JSON report holds the full lists.
const (
	htmlMaxNamespaces  = 50
	htmlMaxEntryPoints = 100
	htmlMaxAttackPaths = 50
	reportMaxChanges   = 200 // per section of "Changes since scan N"
)

// HTMLOptions says how the HTML report draws its diagram.
type HTMLOptions struct {
	// Renderer lays out the diagram; nil leaves the diagram out.
	Renderer Renderer
	// Force draws every element even when the graph has more than
	// MaxDiagramNodes elements, which are otherwise drawn as an overview.
	Force bool
	// Overview draws the overview (WriteOverviewDOT) whatever the size,
	// grouped by GroupBy.
	Overview bool
	GroupBy  string
}

// htmlPage is what the template reads.
type htmlPage struct {
	Report         *Report
	Groups         []*RuleGroup
	SeveritiesDesc []threats.Severity
	SVG            template.HTML
	DiagramNote    string

	Namespaces      []NamespaceSummary
	MoreNamespaces  int
	EntryPoints     []EntryPoint
	MoreEntryPoints int
	AttackPaths     []AttackPath
	MoreAttackPaths int
	Changes         []DiffSection
	Policies        []policyYAML
	MorePolicies    int
}

// WriteReportHTML writes the report as one self-contained HTML page: inline
// CSS, the diagram as inline SVG, no scripts and nothing loaded from the
// network (a Content-Security-Policy says so to the browser).
//
// The diagram is drawn element by element when the report's graph has at
// most MaxDiagramNodes elements (or opts.Force); a larger system gets its
// overview, one box per namespace, with a note saying how to draw one
// namespace and a table of namespaces by open risk, so the report stays
// quick to make and to open.
//
// Text from manifests is escaped by html/template, and what it leaves
// (controls, bidi and other invisible characters) is made visible; the SVG comes from
// Graphviz, which escapes the text it draws, and is checked to hold no
// script or event handler before it is inlined.
func WriteReportHTML(ctx context.Context, w io.Writer, r *Report, opts HTMLOptions) error {
	page := &htmlPage{Report: r, Groups: r.RuleGroups()}
	for i := len(threats.Severities) - 1; i >= 0; i-- {
		page.SeveritiesDesc = append(page.SeveritiesDesc, threats.Severities[i])
	}
	page.Namespaces, page.MoreNamespaces = capList(r.Namespaces, htmlMaxNamespaces)
	page.EntryPoints, page.MoreEntryPoints = capList(r.EntryPoints, htmlMaxEntryPoints)
	page.AttackPaths, page.MoreAttackPaths = capList(r.AttackPaths, htmlMaxAttackPaths)
	if r.Changes != nil {
		page.Changes = r.Changes.Sections(reportMaxChanges)
	}
	var err error
	if page.Policies, page.MorePolicies, err = appendixYAML(r.Policies); err != nil {
		return err
	}

	g := r.Graph
	if g == nil {
		g = &model.Graph{}
	}
	var big *TooLargeError
	if err := CheckDiagramSize(g); err != nil && !errors.As(err, &big) {
		return err
	}
	var draw func() ([]byte, error)
	switch {
	case opts.Renderer == nil:
		page.DiagramNote = "The diagram was left out (no Graphviz renderer). The namespaces by open risk:"
	case opts.Overview || (big != nil && !opts.Force):
		groupBy := OverviewGroupFor(g, opts.GroupBy)
		draw = func() ([]byte, error) {
			svg, err := RenderOverviewSVG(ctx, opts.Renderer, g, OverviewOptions{Title: r.Title + " — overview by " + groupBy, Threats: CountOpenThreats(r.Findings), GroupBy: groupBy})
			if err != nil {
				return nil, fmt.Errorf("draw the report's overview: %w", err)
			}
			return svg, nil
		}
		narrower := "one namespace (stridemap report --namespace NS) or of one element's neighbourhood (--focus ELEMENT --depth N)"
		if len(Namespaces(g)) <= 1 {
			narrower = "one element's neighbourhood (stridemap report --focus ELEMENT --depth N)"
		}
		page.DiagramNote = fmt.Sprintf("The system has %d elements; the overview above draws one box per %s with the flows between boxes counted. "+
			"Make a report of %s to get its elements drawn. "+
			"The namespaces by open risk:", len(g.Nodes), groupBy, narrower)
	default:
		draw = func() ([]byte, error) {
			svg, err := RenderSVG(ctx, opts.Renderer, g, DOTOptions{Title: r.Title, Threats: CountOpenThreats(r.Findings)})
			if err != nil {
				return nil, fmt.Errorf("draw the report's diagram: %w", err)
			}
			return svg, nil
		}
	}
	return writePage(w, page, draw)
}

// writePage writes the page with the diagram draw returns (none when draw
// is nil). The diagram is drawn by another process (stridemap-render)
// while the part of the page after it, the findings above all, is
// written aside to a temporary file: at 500 copies of Online Boutique
// each took about 0.3 s, one after the other. In memory, that part (18
// MB) raised the report's peak by a quarter; where no temporary file can
// be made, the page is written in order.
func writePage(w io.Writer, page *htmlPage, draw func() ([]byte, error)) error {
	var tail *os.File
	if draw != nil {
		tailDone := make(chan error, 1)
		if f, err := os.CreateTemp("", "stridemap-report-*.html.part"); err == nil {
			tail = f
			defer os.Remove(f.Name())
			defer f.Close()
			// Only the diagram's part reads page.SVG, set below.
			go func() { tailDone <- writeTemplate(f, "tail", page) }()
		}
		svg, err := draw()
		if err == nil {
			var inline []byte
			if inline, err = safeInlineSVG(svg); err == nil {
				page.SVG = template.HTML(inline) // checked by safeInlineSVG
			}
		}
		if tail != nil {
			err = cmp.Or(err, <-tailDone)
		}
		if err != nil {
			return err
		}
	}
	b := bufio.NewWriterSize(w, 256<<10)
	// html/template escapes markup, not control or bidi characters: the
	// page goes through safetext so that none reaches a reader.
	sw := safetext.NewWriter(b)
	parts := []string{"head", "diagram", "tail"}
	if tail != nil {
		parts = parts[:2]
	}
	for _, part := range parts {
		if err := reportTemplate.ExecuteTemplate(sw, part, page); err != nil {
			return err
		}
	}
	if tail != nil {
		if _, err := tail.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.Copy(sw, tail); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return b.Flush()
}

// writeTemplate writes one part of the page to f, buffered.
func writeTemplate(f *os.File, part string, page *htmlPage) error {
	b := bufio.NewWriterSize(f, 256<<10)
	if err := reportTemplate.ExecuteTemplate(b, part, page); err != nil {
		return err
	}
	return b.Flush()
}

func capList[T any](list []T, max int) ([]T, int) {
	if len(list) <= max {
		return list, 0
	}
	return list[:max], len(list) - max
}

// safeInlineSVG returns Graphviz's SVG without its XML prolog, ready to sit
// inside an HTML page. Graphviz writes every label, tooltip and ID as
// escaped XML text, so names from manifests cannot become markup; as a
// second line of defence the SVG is parsed and refused if it is not
// well-formed or holds anything active: a script, foreign object, event
// handler attribute or link (stridemap sets no URLs).
func safeInlineSVG(svg []byte) ([]byte, error) {
	inline := inlineSVG(svg)
	if inline == nil {
		return nil, errors.New("draw the report's diagram: the renderer returned no <svg> element")
	}
	if err := checkSVG(inline); err != nil {
		return nil, fmt.Errorf("draw the report's diagram: %w; refusing to inline it", err)
	}
	return inline, nil
}

// checkSVG parses svg and reports the first active element or attribute.
func checkSVG(svg []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("the SVG is not well-formed XML: %w", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch strings.ToLower(el.Name.Local) {
		case "script", "foreignobject", "iframe", "object", "embed":
			return fmt.Errorf("the SVG contains a <%s> element", el.Name.Local)
		}
		for _, a := range el.Attr {
			name := strings.ToLower(a.Name.Local)
			if strings.HasPrefix(name, "on") || name == "href" {
				return fmt.Errorf("the SVG's <%s> has a %s attribute", el.Name.Local, a.Name.Local)
			}
		}
	}
}

// signClass names a change's sign for the page's colours.
func signClass(sign string) string {
	switch sign {
	case "+":
		return "added"
	case "-":
		return "removed"
	case "~":
		return "changed"
	}
	return "unknown"
}
