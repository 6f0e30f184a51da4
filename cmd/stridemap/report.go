package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/catalog"

	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

type reportOptions struct {
	format    string
	output    string
	failOn    string
	baseDir   string
	baseline  string
	title     string
	noDiagram bool
	since     string
	scope     scopeFlags
}

var reportFormats = []string{"html", "md", "json", "sarif", "threatdragon"}

func (a *app) reportCommand() *cobra.Command {
	var opts reportOptions
	cmd := &cobra.Command{
		Use:   "report [SCAN]",
		Short: "Write the threat model of a scan as HTML, Markdown, JSON, SARIF or Threat Dragon",
		Long: `Write a report of a scan (the latest unless SCAN names one) for auditors, wikis,
pull requests, code scanning and other tools:

  --format html          one self-contained page (inline CSS and SVG, no scripts,
                         nothing loaded from the network): summary, STRIDE ×
                         severity matrix, the data-flow diagram, entry points and
                         attack paths, every finding with its evidence, mitigation,
                         references and triage status, and the review questions
                         with their answers
  --format md            the same as Markdown, for wikis and pull requests
  --format json          versioned JSON, schema in docs/report-json.md
  --format sarif         SARIF 2.1.0 for GitHub code scanning: each finding at the
                         manifest line that causes it (paths relative to
                         --base-dir), triaged findings suppressed; with
                         --baseline SCAN|FILE each result is marked new or
                         unchanged, and what the baseline had and the scan
                         fixed comes back as absent (SARIF baselineState)
  --format threatdragon  an OWASP Threat Dragon v2 model, laid out by Graphviz

The HTML report is a whole web page: on a terminal it is written only to a
file (-o FILE) or a pipe, never poured onto the screen; --format md reads well
there.

The HTML, Markdown and JSON reports have a section "Changes since scan N":
what changed since the previous scan of the same target (elements, flows,
trust boundaries, controls, findings and attack paths, as stridemap diff shows
them). --changes-since SCAN compares with another scan (a number, previous or
a date YYYY-MM-DD); --changes-since none leaves the section out. The first
scan of a target has no such section.

--namespace NS or --focus ELEMENT --depth N make a report of one part of the
system (its elements, flows and findings). The HTML report draws its diagram
element by element when the system has at most 300 elements; a larger system
gets an overview (one box per namespace, or per application with --group-by
app, flows between boxes counted; see stridemap graph --help) and a table of
namespaces by open risk; --overview draws an overview at any size, --force
every element.

For CI: with --fail-on SEVERITY the report is written and the command exits 1
when an open (untriaged) finding in the report is at or above SEVERITY.
Exit codes: 0 clean, 1 open findings at or above --fail-on, 2 usage error or
no scan.`,
		Example: `  stridemap report --format html -o threat-model.html
  stridemap report --format md --namespace shop > shop.md
  stridemap report --format sarif --base-dir . -o stridemap.sarif --fail-on high
  stridemap report 3 --format threatdragon -o model.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.format, err = choice("--format", opts.format, reportFormats...); err != nil {
				return err
			}
			if opts.format == "html" && opts.output == "" && a.isTerminal(a.stdout) {
				return &exitError{code: exitUsage, message: "the HTML report is a whole web page, not for a terminal: write it to a file with -o report.html (or pipe it), or read a Markdown report here with --format md"}
			}
			if opts.failOn != "" {
				if _, err := threats.ParseSeverity(opts.failOn); err != nil {
					return fmt.Errorf("--fail-on: %w", err)
				}
			}
			if err := opts.scope.check(); err != nil {
				return err
			}
			if opts.scope.overview && (opts.format != "html" || opts.noDiagram) {
				return errors.New("--overview draws the HTML report's diagram: use it with --format html and without --no-diagram")
			}
			if opts.since != "previous" && opts.since != "none" && !slices.Contains([]string{"html", "md", "json"}, opts.format) {
				return fmt.Errorf("--changes-since adds a section to the html, md and json reports, not to --format %s", opts.format)
			}
			if opts.baseline != "" && opts.format != "sarif" {
				return fmt.Errorf("--baseline marks SARIF results new, unchanged or absent: add --format sarif (stridemap diff compares scans in other formats)")
			}
			return a.runReport(cmd.Context(), args, opts)
		},
	}
	cmd.Flags().StringVar(&opts.format, "format", "html", "html, md, json, sarif or threatdragon")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "write to this file instead of stdout")
	cmd.Flags().StringVar(&opts.failOn, "fail-on", "", "exit 1 when an open finding in the report is at or above this severity: low, medium, high, critical")
	cmd.Flags().StringVar(&opts.baseDir, "base-dir", "", "SARIF: write manifest paths relative to this directory (the repository root)")
	cmd.Flags().StringVar(&opts.baseline, "baseline", "", "SARIF: mark results against a scan's number or a JSON report (report --format json)")
	cmd.Flags().StringVar(&opts.title, "title", "", "the report's title (default: \"Threat model — scan #N\")")
	cmd.Flags().StringVar(&opts.since, "changes-since", "previous", "the scan the \"Changes since\" section compares with: a number, previous, a date YYYY-MM-DD, or none")
	cmd.Flags().BoolVar(&opts.noDiagram, "no-diagram", false, "HTML: leave the diagram out (no Graphviz needed)")
	opts.scope.register(cmd, "report")
	return cmd
}

func (a *app) runReport(ctx context.Context, args []string, opts reportOptions) error {
	s, err := a.readStore(ctx) // first: without a store, nothing else matters
	if err != nil {
		return err
	}
	defer s.Close()
	// The renderer is looked for next, so a missing one fails before any
	// work, and only for the formats that draw.
	var renderer export.Renderer
	if opts.format == "threatdragon" || (opts.format == "html" && !opts.noDiagram) {
		r, err := a.renderer()
		if err != nil {
			if opts.format == "html" {
				return fmt.Errorf("%w; or pass --no-diagram", err)
			}
			return err
		}
		renderer = r
	}
	id, err := scanIDArg(ctx, s, args)
	if err != nil {
		return err
	}
	var baseline *threats.Baseline
	if opts.baseline != "" {
		if baseline, err = a.loadBaseline(ctx, opts.baseline); err != nil {
			return err
		}
	}
	info, err := s.Scan(ctx, id)
	if err != nil {
		return err
	}
	var old *store.ScanInfo
	if opts.since != "none" && slices.Contains([]string{"html", "md", "json"}, opts.format) {
		if old, err = a.changesSince(ctx, s, info, opts.since); err != nil {
			return err
		}
	}
	var before, after threats.Snapshot
	if old != nil { // both scans at once: what they share is read once
		before, after, err = threats.LoadPair(ctx, s, old.ID, id)
	} else {
		after, err = threats.LoadSnapshot(ctx, s, id)
	}
	if err != nil {
		return err
	}
	g, findings, notAssessed := after.Graph, after.Findings, after.NotAssessed
	var changes *export.Diff
	if old != nil {
		scope := opts.scope.scope()
		changes = export.BuildDiff(*old, info, threats.Compare(export.NarrowSnapshot(before, scope), export.NarrowSnapshot(after, scope)))
	}
	questions, err := catalog.Questions()
	if err != nil {
		return err
	}
	answers, err := s.Answers(ctx)
	if err != nil {
		return err
	}
	var objects []store.ObjectRef
	if opts.format == "sarif" {
		if objects, err = s.Objects(ctx, id); err != nil {
			return err
		}
	}
	title := opts.title
	if title == "" {
		title = fmt.Sprintf("Threat model — scan #%d", id)
		if sc := opts.scope.scope(); !sc.IsZero() {
			title += " — " + sc.String()
		}
	}
	rep, err := export.BuildReport(export.ReportInput{
		Title: title, ToolVersion: toolVersion(), GeneratedAt: time.Now(),
		Scan: info, Graph: g, Findings: findings, Questions: questions, Answers: answers,
		Scope: opts.scope.scope(), Objects: objects, NotAssessed: notAssessed, Changes: changes,
	})
	if err != nil {
		return err
	}
	if opts.format == "threatdragon" {
		if err := export.CheckDiagramSize(rep.Graph); err != nil && !opts.scope.force {
			var big *export.TooLargeError
			if errors.As(err, &big) {
				return tooLarge(big)
			}
			return err
		}
	}
	err = writeOutput(a.stdout, opts.output, func(w io.Writer) error {
		switch opts.format {
		case "html":
			return export.WriteReportHTML(ctx, w, rep, export.HTMLOptions{Renderer: renderer, Force: opts.scope.force, Overview: opts.scope.overview, GroupBy: opts.scope.groupBy})
		case "md":
			return export.WriteReportMarkdown(w, rep)
		case "sarif":
			return export.WriteReportSARIF(w, rep, export.SARIFOptions{BaseDir: opts.baseDir, Baseline: baseline})
		case "threatdragon":
			return export.WriteThreatDragon(ctx, w, rep, renderer)
		}
		return export.WriteReportJSON(w, rep)
	})
	if err != nil {
		return err
	}
	if opts.output != "" {
		fmt.Fprintf(a.stderr, "Report of scan #%d written to %s (%d findings, %d open).\n", id, opts.output, rep.Summary.Findings, rep.Summary.Open)
	}
	if opts.failOn != "" {
		min, _ := threats.ParseSeverity(opts.failOn)
		if n := rep.OpenAtOrAbove(min); n > 0 {
			return &exitError{code: exitFindings, message: fmt.Sprintf("%d open finding(s) at or above %s (--fail-on); triaged findings do not count", n, min)}
		}
	}
	return nil
}

// changesSince is the scan the report's "Changes since" section compares
// scan with, as --changes-since names it; nil when the default (previous)
// finds no earlier scan of the target.
func (a *app) changesSince(ctx context.Context, s *store.Store, scan store.ScanInfo, since string) (*store.ScanInfo, error) {
	scans, err := s.Scans(ctx)
	if err != nil {
		return nil, err
	}
	old, err := store.Pick(scans, since, &scan)
	switch {
	case errors.Is(err, store.ErrNothingToCompare) && since == "previous":
		return nil, nil
	case err != nil:
		return nil, &exitError{code: exitUsage, message: safetext.Text("--changes-since: " + err.Error())}
	case old.ID == scan.ID:
		return nil, &exitError{code: exitUsage, message: fmt.Sprintf("--changes-since names scan %d, the one reported: name an earlier scan (`stridemap scans` lists them)", scan.ID)}
	case !store.SameTarget(old, scan):
		return nil, &exitError{code: exitUsage, message: safetext.Text(fmt.Sprintf("--changes-since: scan %d is of another target (%s) than scan %d (%s); compare them with stridemap diff --any-target",
			old.ID, old.Target, scan.ID, scan.Target))}
	}
	return &old, nil
}
