package export_test

import (
	"context"
	"io"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/export/graphviz"
)

// boutiqueScan scans copies of Online Boutique (12 elements each, plus the
// internet), as make bench's scale input does.
func boutiqueScan(b *testing.B, copies int) scanned {
	b.Helper()
	in := discovertest.BoutiqueInput(b, copies)
	return scanDir(b, in.Dir)
}

// BenchmarkSVG500 lays out and draws a 500-element graph (42 copies of
// Online Boutique: 505 elements, 700 flows) with threat counts and legend,
// with Graphviz in-process. The budget is 2 s. Such a graph is over
// the diagram limit, so the CLI draws it only with --force.
func BenchmarkSVG500(b *testing.B) {
	s := boutiqueScan(b, 42)
	opts := export.DOTOptions{Title: "500 elements", Threats: export.CountOpenThreats(s.findings)}
	r := graphviz.Renderer{}
	ctx := context.Background()
	// The first render starts the one Graphviz instance; that cost belongs
	// to stridemap-render's start-up, not to each drawing.
	if err := export.WriteSVG(ctx, io.Discard, r, s.graph, opts); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := export.WriteSVG(ctx, io.Discard, r, s.graph, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(s.graph.Nodes)), "elements")
	b.ReportMetric(float64(len(s.graph.Edges)), "flows")
}

// BenchmarkHTMLReport500 builds and writes the HTML report of 500 copies of
// Online Boutique (6,001 elements, about 33,500 findings): every finding
// with its evidence, and, since the system is over the diagram limit, the
// namespace table in place of the diagram. The budget is 3 s.
func BenchmarkHTMLReport500(b *testing.B) {
	s := boutiqueScan(b, 500)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		r := report(b, s, export.Scope{})
		if err := export.WriteReportHTML(ctx, io.Discard, r, export.HTMLOptions{Renderer: graphviz.Renderer{}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(s.findings)), "findings")
}

// BenchmarkHTMLReportNamespace500 is the report of one namespace of the
// 500-copy input, with its diagram: what a reader of the large report is
// told to make next.
func BenchmarkHTMLReportNamespace500(b *testing.B) {
	s := boutiqueScan(b, 500)
	ctx := context.Background()
	r := graphviz.Renderer{}
	b.ResetTimer()
	for b.Loop() {
		rep := report(b, s, export.Scope{Namespace: "shop-042"})
		if err := export.WriteReportHTML(ctx, io.Discard, rep, export.HTMLOptions{Renderer: r}); err != nil {
			b.Fatal(err)
		}
	}
}
