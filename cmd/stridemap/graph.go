package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

// scopeFlags are the options that narrow a diagram or report to one part
// of a large system.
type scopeFlags struct {
	namespace string
	focus     string
	depth     int
	force     bool
	// overview draws one box per group (export.WriteOverviewDOT), which
	// graphs of more than export.MaxDiagramNodes get without asking.
	overview bool
	groupBy  string
}

func (f *scopeFlags) register(cmd *cobra.Command, what string) {
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "only this namespace (and the elements its flows reach) in the "+what)
	cmd.Flags().StringVar(&f.focus, "focus", "", "only this element and its neighbours (ID, NAMESPACE/NAME or name) in the "+what)
	cmd.Flags().IntVar(&f.depth, "depth", 1, "with --focus: how many flows away from the element to include")
	cmd.Flags().BoolVar(&f.force, "force", false, fmt.Sprintf("draw every element of a graph of more than %d (slow and hard to read; without it such a graph is drawn as an overview)", export.MaxDiagramNodes))
	cmd.Flags().BoolVar(&f.overview, "overview", false, fmt.Sprintf("draw one box per namespace (or application: --group-by), with the flows between them counted (the default above %d elements)", export.MaxDiagramNodes))
	cmd.Flags().StringVar(&f.groupBy, "group-by", "", "what a box of an overview holds: namespace, or app (one box per application label in each namespace); by default namespace, or app when the "+what+" holds one namespace")
}

func (f *scopeFlags) scope() export.Scope {
	s := export.Scope{Namespace: f.namespace, Focus: f.focus}
	if f.focus != "" {
		s.Depth = f.depth
	}
	return s
}

func (f *scopeFlags) check() error {
	if f.depth < 0 {
		return fmt.Errorf("--depth %d: use 0 or more", f.depth)
	}
	if f.overview && f.force {
		return errors.New("--overview draws boxes of elements and --force every element: give one of them")
	}
	if f.groupBy == "" {
		return nil // chosen with the graph: export.OverviewGroupFor
	}
	var err error
	f.groupBy, err = choice("--group-by", f.groupBy, export.GroupByNamespace, export.GroupByApp)
	return err
}

// drawOverview says whether a diagram of g is an overview: when asked, or
// when g is too large to draw element by element and --force was not
// given, which the note written to stderr says.
// It settles the overview's grouping (export.OverviewGroupFor) when the
// flags left it open.
func (f *scopeFlags) drawOverview(g *model.Graph, stderr io.Writer) bool {
	groupBy := export.OverviewGroupFor(g, f.groupBy)
	if f.overview {
		f.groupBy = groupBy
		return true
	}
	var big *export.TooLargeError
	if f.force || !errors.As(export.CheckDiagramSize(g), &big) {
		return false
	}
	f.groupBy = groupBy
	narrower := "--namespace NS or --focus ELEMENT"
	if len(export.Namespaces(g)) <= 1 {
		narrower = "--focus ELEMENT" // already one namespace
	}
	fmt.Fprintf(stderr, "%d elements are more than a diagram shows readably (%d): drawing an overview, one box per %s. %s draws a part element by element, --force all of it.\n", big.Nodes, big.Max, groupBy, narrower)
	return true
}

// tooLarge turns export's size error into the message that says what to do.
func tooLarge(err *export.TooLargeError) error {
	return fmt.Errorf("%w. Draw a part of it: --namespace NS for one namespace, or --focus ELEMENT --depth N for one element's neighbourhood (stridemap graph --format table lists elements); or pass --force to draw it all", err)
}

// graphOptions are the graph command's flags.
type graphOptions struct {
	format, output string
	scope          scopeFlags
	// diff names the earlier scan whose changes the diagram marks.
	diff      string
	anyTarget bool
}

func (a *app) graphCommand() *cobra.Command {
	var opts graphOptions
	cmd := &cobra.Command{
		Use:   "graph [SCAN]",
		Short: "Print the architecture graph of a scan as a table, JSON, DOT or SVG",
		Long: `Print the architecture graph of a scan (the latest unless SCAN names one):
nodes, data-flow edges with port, protocol, encryption and evidence, trust
boundaries, detected controls and dangling references.

  --format table  elements and flows, for reading in a terminal: the default
                  when stdout is a terminal
  --format json   versioned JSON, schema in docs/graph-json.md: the default
                  when stdout is not a terminal (a pipe, a file, -o FILE)
  --format dot    Graphviz DOT; render it with "dot -Tsvg"
  --format svg    the diagram, laid out by Graphviz (no dot binary needed)

Diagrams (dot, svg) follow data-flow-diagram conventions: processes are
rounded boxes, data stores cylinders, external entities grey boxes, gateways
hexagons; trust boundaries (internet, cluster, namespaces) are dashed boxes.
Flows are labelled protocol:port, coloured by encryption (red plaintext,
green TLS, blue mTLS, grey unknown) and drawn solid when declared, dashed
when only observed, bold when both. Elements with open threats show their
count by severity and a border in the colour of the worst. A legend is
included.

Changes since an earlier scan: --diff OLD (with --format svg or dot) draws
the scan with what changed since OLD, named as stridemap diff names scans
(a number, latest, previous or a date YYYY-MM-DD). Added elements and flows
are marked "+" (a thick green border; flows thick with a green label),
removed ones "-" and dashed in purple, drawn as OLD had them, and changed
ones "~" with each change ("field: before → after") in the tooltip. OLD must
be a scan of the same target unless --any-target is given; stridemap diff
lists the same changes, and those of controls and findings, as text.

Large systems: a graph of more than 300 elements is drawn as an overview:
one box per namespace, or per application label when all its elements are
in one namespace (--group-by namespace|app chooses), that counts its
processes, names its data stores and what the internet reaches, and sums
its open threats; one arrow per pair of boxes that exchange flows, with
their number, protocols and the colour of the worst encryption among them.
Elements outside every namespace (the internet, external services) stay as
they are. Large overviews are laid out by Graphviz's sfdp engine.
--overview asks for one at any size; --force draws every element instead.
--namespace NS draws one namespace, --focus ELEMENT --depth N one
element's neighbourhood, element by element (with --diff, removed elements
count too); --diff of more than 300 elements is refused unless --force is
given, since an overview cannot mark changes.

SVG is rendered by the stridemap-render program (built with stridemap:
"make build", or go install .../cmd/stridemap-render), looked for in
$STRIDEMAP_RENDER, next to stridemap, then on PATH.`,
		Example: `  stridemap graph                      # a table, on a terminal
  stridemap graph > graph.json         # JSON, into a file or a pipe
  stridemap graph --format svg -o graph.svg
  stridemap graph --format svg --namespace shop -o shop.svg
  stridemap graph --format svg --focus shop/checkout --depth 2 -o checkout.svg
  stridemap graph --format svg --overview --group-by app -o apps.svg       # one box per application
  stridemap graph 3 --format dot | dot -Tpng > scan3.png
  stridemap graph --format svg --diff previous -o changes.svg   # what changed since the last review`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.format == "" {
				opts.format = "json"
				if opts.output == "" && a.isTerminal(a.stdout) {
					opts.format = "table"
				}
			}
			var err error
			if opts.format, err = choice("--format", opts.format, "table", "json", "dot", "svg"); err != nil {
				return err
			}
			if err := opts.scope.check(); err != nil {
				return err
			}
			if opts.scope.overview && opts.format != "dot" && opts.format != "svg" {
				return fmt.Errorf("--overview draws a diagram, not --format %s: add --format svg or --format dot", opts.format)
			}
			if err := opts.checkDiff(); err != nil {
				return err
			}
			return a.runGraph(cmd.Context(), args, opts)
		},
	}
	cmd.Flags().StringVar(&opts.format, "format", "", "output format: table, json, dot or svg (default table on a terminal, else json)")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "write to this file instead of stdout")
	cmd.Flags().StringVar(&opts.diff, "diff", "", "mark what changed since this scan (number, latest, previous or YYYY-MM-DD); with --format svg or dot")
	cmd.Flags().BoolVar(&opts.anyTarget, "any-target", false, "with --diff: compare with a scan of another target")
	opts.scope.register(cmd, "output")
	return cmd
}

// checkDiff refuses --diff where it would mean nothing: changes are marked
// on diagrams only.
func (o *graphOptions) checkDiff() error {
	if o.diff == "" {
		if o.anyTarget {
			return errors.New("--any-target goes with --diff OLD: add --diff, or leave --any-target out")
		}
		return nil
	}
	if o.scope.overview {
		return errors.New("--diff marks changes on elements, which --overview does not draw: leave one out (--namespace NS narrows a large diagram with changes)")
	}
	if o.format != "dot" && o.format != "svg" {
		return fmt.Errorf("--diff marks changes on a diagram, not in --format %s: add --format svg or --format dot (stridemap diff lists the changes as a table or JSON)", o.format)
	}
	return nil
}

func (a *app) runGraph(ctx context.Context, args []string, opts graphOptions) error {
	s, err := a.readStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	id, err := scanIDArg(ctx, s, args)
	if err != nil {
		return err
	}
	var old store.ScanInfo
	if opts.diff != "" {
		if old, err = diffBase(ctx, s, id, opts.diff, opts.anyTarget); err != nil {
			return err
		}
	}
	info, err := s.Scan(ctx, id)
	if err != nil {
		return err
	}
	g, err := s.Graph(ctx, id)
	if err != nil {
		return err
	}
	var drift *export.DiagramDrift
	if opts.diff != "" {
		// Only the graphs are compared: the diagram marks elements, flows
		// and boundaries; stridemap diff lists controls and findings.
		before, err := s.Graph(ctx, old.ID)
		if err != nil {
			return err
		}
		g, drift = export.DriftDiagram(g, threats.Compare(threats.Snapshot{Graph: before}, threats.Snapshot{Graph: g}), fmt.Sprintf("scan #%d", old.ID))
	}
	scope := opts.scope.scope()
	if g, err = export.Narrow(g, scope); err != nil {
		return err
	}
	var dot export.DOTOptions
	var overview *export.OverviewOptions
	if opts.format == "dot" || opts.format == "svg" {
		// Changes are marked on elements, which an overview does not draw.
		if drift != nil {
			if err := export.CheckDiagramSize(g); err != nil && !opts.scope.force {
				var big *export.TooLargeError
				if errors.As(err, &big) {
					return tooLarge(big)
				}
				return err
			}
		}
		findings, err := threats.Load(ctx, s, id)
		if err != nil {
			return err
		}
		counts := export.CountOpenThreats(findings)
		if drift == nil && opts.scope.drawOverview(g, a.stderr) {
			overview = &export.OverviewOptions{Title: diagramTitle(id, scope, "overview by "+opts.scope.groupBy), Threats: counts, GroupBy: opts.scope.groupBy}
		}
		var shows []string
		if drift != nil {
			shows = append(shows, fmt.Sprintf("changes since scan #%d", old.ID))
		}
		dot = export.DOTOptions{Title: diagramTitle(id, scope, shows...), Threats: counts, Drift: drift}
	}
	var renderer export.Renderer
	if opts.format == "svg" {
		if renderer, err = a.renderer(); err != nil {
			return err
		}
	}
	return writeOutput(a.stdout, opts.output, func(w io.Writer) error {
		switch {
		case opts.format == "dot" && overview != nil:
			return export.WriteOverviewDOT(w, g, *overview)
		case opts.format == "svg" && overview != nil:
			svg, err := export.RenderOverviewSVG(ctx, renderer, g, *overview)
			if err != nil {
				return err
			}
			_, err = w.Write(svg)
			return err
		}
		switch opts.format {
		case "dot":
			return export.WriteDOTOptions(w, g, dot)
		case "svg":
			return export.WriteSVG(ctx, w, renderer, g, dot)
		case "table":
			return export.WriteTable(w, g)
		}
		return export.WriteGraphJSON(w, g, &export.ScanRef{ID: id, StartedAt: info.StartedAt, FinishedAt: info.FinishedAt, Partial: info.Partial})
	})
}

// diffBase resolves graph --diff OLD against the scan drawn, as stridemap
// diff resolves OLD against NEW, with the same refusals.
func diffBase(ctx context.Context, s *store.Store, drawn int64, name string, anyTarget bool) (store.ScanInfo, error) {
	scans, err := s.Scans(ctx)
	if err != nil {
		return store.ScanInfo{}, err
	}
	old, new, err := pickPair(scans, []string{name, strconv.FormatInt(drawn, 10)})
	if err != nil {
		return store.ScanInfo{}, &exitError{code: exitUsage, message: safetext.Text(err.Error())}
	}
	if err := comparable(old, new, anyTarget); err != nil {
		return store.ScanInfo{}, err
	}
	return old, nil
}

// diagramTitle is the caption of a diagram: the scan, then what else it
// shows and its scope.
func diagramTitle(id int64, scope export.Scope, shows ...string) string {
	parts := append([]string{fmt.Sprintf("stridemap scan #%d", id)}, shows...)
	if !scope.IsZero() {
		parts = append(parts, scope.String())
	}
	return strings.Join(parts, " — ")
}

// rendererEnv names the stridemap-render program to use.
const rendererEnv = "STRIDEMAP_RENDER"

// renderer finds the stridemap-render program, which draws with Graphviz
// in its own process (see export.Renderer for why): $STRIDEMAP_RENDER,
// then next to this executable, then on PATH.
func (a *app) renderer() (export.Renderer, error) {
	if p := os.Getenv(rendererEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w: $%s is %s: %v", export.ErrNoRenderer, rendererEnv, p, err)
		}
		return export.CommandRenderer{Path: p}, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "stridemap-render")
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return export.CommandRenderer{Path: p}, nil
		}
	}
	if p, err := exec.LookPath("stridemap-render"); err == nil {
		return export.CommandRenderer{Path: p}, nil
	}
	return nil, fmt.Errorf("%w next to stridemap or on PATH: build it with \"make build\" or go install github.com/stridemap/stridemap/cmd/stridemap-render, or set $%s; --format dot works without it", export.ErrNoRenderer, rendererEnv)
}

// scanIDArg reads an optional SCAN argument, defaulting to the latest scan.
func scanIDArg(ctx context.Context, s *store.Store, args []string) (int64, error) {
	if len(args) == 0 {
		id, err := s.LatestScanID(ctx)
		if errors.Is(err, store.ErrNoScans) {
			// The store's error says what to run; the path in it is escaped.
			return 0, &exitError{code: exitUsage, message: safetext.Text(err.Error())}
		}
		return id, err
	}
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("scan %q: a scan is named by its number (see stridemap scans)", args[0])
	}
	return id, nil
}

// writeOutput writes to path, or to stdout when path is empty. A file is
// written whole or not at all: into a temporary file renamed over it (over
// a symlink's target, not the link). What is not a regular file, such as
// /dev/null, /dev/stdout or a named pipe, is written in place: renaming
// over it would replace the device with a file.
func writeOutput(stdout io.Writer, path string, write func(io.Writer) error) error {
	if path == "" {
		return write(stdout)
	}
	if info, err := os.Stat(path); err == nil && !info.Mode().IsRegular() {
		if info.IsDir() {
			return fmt.Errorf("write %s: it is a directory; name a file", path)
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := write(f); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".stridemap-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
