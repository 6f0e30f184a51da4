package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

// ErrNothingRead means no Kubernetes object could be read from the sources:
// nothing was stored.
var ErrNothingRead = errors.New("no Kubernetes objects could be read; nothing was stored")

// Env is where the pipeline stores and reports.
type Env struct {
	// Store is the SQLite file scans are stored in; it is created when
	// missing.
	Store string
	// ToolVersion is recorded with every scan.
	ToolVersion string
	// Report hears of progress, problems and warnings as they happen; nil
	// hears nothing.
	Report Reporter
	// Log receives debug timings; nil logs nothing.
	Log *slog.Logger
}

// Reporter is told what happens while the pipeline runs, so that a command
// can show it at once rather than at the end.
type Reporter interface {
	// Reading is called as each manifest file is read (progress).
	Reading(path string)
	// Step is called as each later stage of the work starts, saying what
	// it works on ("building the graph of 18000 objects"): a large scan
	// spends most of its time after the reading.
	Step(what string)
	// Problem is an input, or part of one, that could not be used; the rest
	// is still scanned. It is also stored with the scan.
	Problem(p discover.Problem)
	// Warning is something weaker than asked for that the scan goes on
	// without: an overlay entry that matched nothing, a rule that failed.
	Warning(msg string)
}

// Result is what a scan stored, for the caller to show.
type Result struct {
	// Scan is the stored scan: its ID, times, sources and counts.
	Scan store.ScanInfo
	// StorePath is the file it was stored in.
	StorePath string
	// Graph is the stored graph.
	Graph *model.Graph
	// Findings are the findings stored, with the store's triage applied;
	// nil when the catalog was not evaluated.
	Findings []threats.Finding
	// NotAssessed are the rules the graph's coverage gaps left open: never
	// findings, never counted with them.
	NotAssessed []store.NotAssessed
	// Evaluated reports whether the threat catalog was evaluated.
	Evaluated bool
	// Manifests are the sources the graph was built from (not the flow
	// logs or inventories).
	Manifests []discover.Source
	// Problems are the inputs that could not be used, in whole or in part.
	Problems []discover.Problem
	// Flows says what observed flows were merged; nil when none were.
	Flows *FlowsMerged
	// Cluster says what a live cluster added; nil when none was read.
	Cluster *Live
	// Base is the scan a Merge started from; 0 for a Scan.
	Base int64
	// Unchanged says a re-scan found what its previous scan holds: Scan is
	// that scan, confirmed, and nothing new was stored.
	Unchanged bool
}

// Partial reports whether some input could not be used.
func (r *Result) Partial() bool {
	return (&discover.Inventory{Problems: r.Problems}).Partial()
}

// Catalog is a loaded threat catalog and how a scan records it.
type Catalog struct {
	Rules *catalog.Catalog
	// Description names the catalog in the scan: "builtin (100 rules)".
	Description string
}

// LoadCatalog loads the built-in rules and the user rule directories over
// them.
func LoadCatalog(dirs ...string) (Catalog, error) {
	c, err := catalog.Load(dirs...)
	if err != nil {
		return Catalog{}, err
	}
	desc := fmt.Sprintf("builtin + %s (%d rules)", strings.Join(dirs, " + "), len(c.Rules))
	if len(dirs) == 0 {
		desc = fmt.Sprintf("builtin (%d rules)", len(c.Rules))
	}
	return Catalog{Rules: c, Description: desc}, nil
}

// run holds what one pipeline run reports to.
type run struct {
	report      Reporter
	log         *slog.Logger
	toolVersion string
}

func newRun(env Env) run {
	r := run{report: env.Report, log: env.Log, toolVersion: env.ToolVersion}
	if r.report == nil {
		r.report = quiet{}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// upgrading has the store at path say, as a warning, when an older
// stridemap wrote it and it is upgraded: the scan may wait for that.
func (r run) upgrading(path string) store.Option {
	return store.OnUpgrade(func(from, to int) { r.report.Warning(UpgradeNotice(path, from, to)) })
}

// UpgradeNotice says that the store at path ("" for the default) is
// upgraded from schema from to to, which commands print before they wait
// for it.
func UpgradeNotice(path string, from, to int) string {
	if path == "" {
		path = store.DefaultPath
	}
	return fmt.Sprintf("upgrading the store %s from schema %d to %d, once: an older stridemap wrote it, and a long history takes a while", path, from, to)
}

func (r run) problems(ps []discover.Problem) {
	for _, p := range ps {
		r.report.Problem(p)
	}
}

// quiet is the Reporter of an Env without one.
type quiet struct{}

func (quiet) Reading(string)           {}
func (quiet) Step(string)              {}
func (quiet) Problem(discover.Problem) {}
func (quiet) Warning(string)           {}

// stored is what evaluateAndSave stores besides the graph.
type stored struct {
	started  time.Time
	sources  []discover.Source
	target   discover.Target
	objects  []store.ObjectRef
	problems []discover.Problem
	rescan   *Rescan
}

// evaluateAndSave evaluates the catalog over the graph (unless cat is nil),
// stores the scan and applies the store's triage to the findings. It is
// the last step of both Scan and Merge.
func (r run) evaluateAndSave(ctx context.Context, s *store.Store, g *model.Graph, cat *Catalog, in stored) (*Result, error) {
	step := time.Now()
	var findings []threats.Finding
	var notAssessed []store.NotAssessed
	description := "none (--skip-threats)"
	if cat != nil {
		r.report.Step(fmt.Sprintf("evaluating %d rules on %d elements", len(cat.Rules.Rules), len(g.Nodes)+len(g.Edges)+len(g.Boundaries)))
		a, err := threats.Assess(g, cat.Rules)
		findings, notAssessed = a.Findings, a.NotAssessed
		if err != nil {
			// A rule that fails on some element (a user rule over its cost
			// limit) is reported; the other findings still count.
			r.report.Warning(err.Error())
		}
		description = cat.Description
		r.log.Debug("evaluated catalog", "rules", len(cat.Rules.Rules), "findings", len(findings), "not assessed", len(notAssessed), "took", time.Since(step))
		// What the evaluation held besides the findings (each element's
		// context, the per-element lists of findings before they were
		// joined) is garbage now, but the collector's goal was set while
		// it was live, and storing the scan would grow the heap up to it.
		// One collection here costs a mark of the graph and findings: at
		// 500 copies of Online Boutique it lowered the median peak of a
		// full scan from 192 to 182 MiB in 20 alternating runs, CPU time
		// the same within the host's noise (medians 2.95 and 2.99 s).
		runtime.GC()
	}
	records, encodeFinding, ruleTexts, err := threats.ForStore(findings)
	if err != nil {
		return nil, err
	}
	// Only a re-scan hashes its content (see contentHash).
	var hash string
	if in.rescan != nil {
		if hash, err = contentHash(g, verdictsOf(findings), notAssessed, in.problems); err != nil {
			return nil, err
		}
		if res, err := r.confirmUnchanged(ctx, s, in.target, hash); res != nil || err != nil {
			if res != nil {
				res.Graph, res.Findings, res.NotAssessed, res.Evaluated, res.Problems = g, findings, notAssessed, cat != nil, in.problems
			}
			return res, err
		}
	}
	step = time.Now()
	r.report.Step("storing the scan")
	id, err := s.SaveScan(ctx, store.ScanRecord{
		StartedAt:   in.started,
		FinishedAt:  time.Now(),
		ToolVersion: r.toolVersion,
		Sources:     in.sources,
		Target:      in.target,
		Objects:     in.objects,
		Problems:    in.problems,
		Graph:       g,
		Findings:    records,
		// Encoded as they are saved: a large scan's findings are not all
		// held as JSON at once.
		EncodeFinding: encodeFinding,
		Rules:         ruleTexts,
		NotAssessed:   notAssessed,
		Catalog:       description,
		ContentHash:   hash,
	})
	if err != nil {
		return nil, err
	}
	r.log.Debug("stored", "scan", id, "took", time.Since(step))
	// The scan is stored: a stop that comes now still gets its result,
	// which the two quick reads below complete, rather than an error that
	// says nothing was stored.
	ctx = context.WithoutCancel(ctx)
	info, err := s.Scan(ctx, id)
	if err != nil {
		return nil, err
	}
	decisions, err := s.Triage(ctx)
	if err != nil {
		return nil, err
	}
	threats.ApplyTriage(findings, decisions)
	return &Result{Scan: info, StorePath: s.Path(), Graph: g, Findings: findings, NotAssessed: notAssessed, Evaluated: cat != nil, Problems: in.problems}, nil
}

// confirmUnchanged confirms the latest scan of target when the new
// content hashes as it does, and says so with a Result; nil when something
// changed or the target has no scan yet. The latest of the target, not of
// the store: a store may hold scans of other apps and clusters.
func (r run) confirmUnchanged(ctx context.Context, s *store.Store, target discover.Target, hash string) (*Result, error) {
	scans, err := s.Scans(ctx)
	if err != nil {
		return nil, err
	}
	latest, ok := store.LatestOf(scans, target)
	if !ok {
		return nil, nil
	}
	previous := latest.ID
	c, ok, err := s.Content(ctx, previous)
	if err != nil {
		return nil, err
	}
	if !ok {
		// Stored by a plain scan: its hash is computed once, here, and
		// kept with it when it matches.
		if c.Hash, err = storedContentHash(ctx, s, previous); err != nil {
			return nil, err
		}
	}
	if c.Hash != hash {
		return nil, nil
	}
	if err := s.Confirm(ctx, previous, hash, time.Now()); err != nil {
		return nil, err
	}
	info, err := s.Scan(ctx, previous)
	if err != nil {
		return nil, err
	}
	r.log.Debug("unchanged", "scan", previous)
	return &Result{Scan: info, StorePath: s.Path(), Unchanged: true}, nil
}
