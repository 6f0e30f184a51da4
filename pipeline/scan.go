package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
)

// Request describes a scan: its sources and options.
type Request struct {
	// Manifests says which files, directories, kustomizations or stdin to
	// read. Its Progress is set to the Reporter's Reading.
	Manifests manifests.Request
	// Catalogs are user rule directories loaded over the built-in rules.
	Catalogs []string
	// SkipThreats stores the graph without evaluating the catalog.
	SkipThreats bool
	// Overlay is a file of what manifests do not say (data classes, data
	// stores); "" for none.
	Overlay string
	// FlowLogs are flow logs, or directories of them, merged as observed
	// edges.
	FlowLogs []string
	// Inventory are dumps of Pods and Services that name the flows' ends;
	// Live, when set, reads them from the cluster's API instead.
	Inventory []string
	Live      *cluster.Request
	// Cluster, when set, is a live cluster whose objects are scanned, read
	// only (LiveKinds), alone or beside the manifests.
	Cluster *cluster.Request
	// Rescan, when set, hashes the scan's content and stores nothing new
	// when it is the previous scan's (stridemap watch).
	Rescan *Rescan
}

// Scan reads the sources, builds the graph, merges the flow logs, applies
// the overlay, evaluates the catalog and stores the result as a new scan.
// Input that cannot be used, in whole or in part, is reported and stored
// as problems while the rest is scanned; an error means nothing was
// stored. It returns ErrNothingRead when no object could be read. A
// re-scan (req.Rescan) that fails is recorded in the store as such,
// unless it failed because ctx was cancelled.
func Scan(ctx context.Context, env Env, req Request) (*Result, error) {
	res, err := scan(ctx, env, req)
	if err == nil || req.Rescan == nil || ctx.Err() != nil {
		return res, err
	}
	if recErr := recordFailure(ctx, env, req, err); recErr != nil {
		return nil, fmt.Errorf("%w (%v)", err, recErr)
	}
	return nil, err
}

// recordFailure stores that a re-scan of req failed with err, with the
// target the scan would have recorded: the paths it names, or for a live
// cluster, whose server is known only once reached, the target of the
// watch's last scan.
func recordFailure(ctx context.Context, env Env, req Request, failed error) error {
	target := targetOf(req, nil)
	if req.Cluster != nil {
		target = req.Rescan.Target
	}
	message := failed.Error()
	var nothing nothingRead
	if errors.As(failed, &nothing) {
		// The reason is in the problems, which the terminal showed and
		// no scan will store: the first error says it.
		for _, p := range nothing.problems {
			if p.Severity == discover.SeverityError {
				message += ": " + p.String()
				break
			}
		}
	}
	s, err := store.Open(ctx, env.Store)
	if err != nil {
		return fmt.Errorf("the failure could not be recorded: %w", err)
	}
	defer s.Close()
	return s.RecordFailure(ctx, store.Failure{At: time.Now(), Target: target, Message: message})
}

// nothingRead is ErrNothingRead with the problems that explain it.
type nothingRead struct{ problems []discover.Problem }

func (nothingRead) Error() string        { return ErrNothingRead.Error() }
func (nothingRead) Is(target error) bool { return target == ErrNothingRead }

func scan(ctx context.Context, env Env, req Request) (*Result, error) {
	r := newRun(env)
	started := time.Now()
	overlay, err := readOverlay(req.Overlay)
	if err != nil {
		return nil, err
	}
	// A store the scan could not save into is said before the work.
	if err := store.CheckWritable(env.Store); err != nil {
		return nil, err
	}
	opening := openExisting(ctx, env.Store, r.upgrading(env.Store))
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	catalogDone := loadCatalogWhileReading(req, stop)

	inv, live, err := r.collect(ctx, req)
	// A catalog that does not load stops the reading, and is the error.
	cat, catErr := catalogDone()
	if catErr != nil {
		opening.discard()
		return nil, catErr
	}
	if err != nil {
		opening.discard()
		return nil, err
	}
	r.log.Debug("collected", "objects", len(inv.Objects), "problems", len(inv.Problems), "took", time.Since(started))
	if p, changed := inv.ChangedWhileRead(); changed && req.Rescan != nil {
		// Half a source would be stored as drift, and undone by the next
		// tick: a re-scan waits for the files to be still.
		opening.discard()
		return nil, fmt.Errorf("the sources changed while they were read, so nothing was stored: %s", p)
	}
	if req.Rescan != nil {
		if err := unanswered(live); err != nil {
			opening.discard()
			return nil, err
		}
	}
	r.problems(inv.Problems)
	if len(inv.Objects) == 0 {
		opening.discard()
		return nil, nothingRead{problems: inv.Problems}
	}

	step := time.Now()
	r.report.Step(fmt.Sprintf("building the graph of %d objects", len(inv.Objects)))
	graph := model.Build(inv, controls.Detectors()...)
	r.log.Debug("built graph", "nodes", len(graph.Nodes), "edges", len(graph.Edges), "controls", len(graph.Controls), "took", time.Since(step))
	for _, hint := range model.NamespaceHints(graph) {
		r.report.Warning(hint)
	}
	sources, problems := inv.Sources, inv.Problems
	var merged *FlowsMerged
	if len(req.FlowLogs) > 0 {
		// Before the overlay, so it can classify elements only flows show.
		step = time.Now()
		r.report.Step("merging the flow logs")
		obs := FlowLogs(req.FlowLogs)
		// A cluster that could not be scanned cannot name pods either: its
		// problem is already reported.
		unreachable := req.Cluster != nil && live == nil
		if len(req.Inventory) > 0 || (req.Live != nil && !unreachable) {
			named, err := ReadInventory(ctx, req.Inventory, req.Live)
			if err != nil {
				obs.Problems = append(obs.Problems, inventoryProblem(req.Inventory, err))
			}
			obs.Named(named)
		}
		r.problems(obs.Problems)
		merged = mergeObservations(graph, declaredOf(inv.Objects), obs)
		sources, problems = slices.Concat(sources, obs.Sources), slices.Concat(problems, obs.Problems)
		r.log.Debug("merged flows", "flows", merged.Report.Flows, "resolved", merged.Report.Resolved, "edges", len(merged.Touched), "took", time.Since(step))
	}
	if overlay != nil {
		for _, w := range model.ApplyOverlay(graph, overlay) {
			r.report.Warning(w)
		}
	}
	objects := objectRefs(inv.Objects)
	inv.Objects = nil
	// The decoded objects, about half the heap, are garbage now, but the
	// collector's next goal was set while they were live: without a
	// collection here, evaluation and the store would grow the heap to
	// twice objects and graph together before reusing their memory. One
	// collection costs a mark of the graph; it lowered the peak by 20 MB at
	// 500 copies of Online Boutique and by 240 MB at 313,000 objects.
	runtime.GC()

	s, err := opening.wait(ctx)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer s.Close()
	res, err := r.evaluateAndSave(ctx, s, graph, cat, stored{started: started, sources: sources, target: targetOf(req, inv.Sources), objects: objects, problems: problems, rescan: req.Rescan})
	if err != nil {
		return nil, err
	}
	res.Manifests, res.Flows, res.Cluster = inv.Sources, merged, live
	return res, nil
}

// loadCatalogWhileReading compiles the threat catalog on another goroutine
// while the scan reads its sources (about 70 ms for the built-in rules),
// unless the scan skips threats. A catalog that fails stops the reading
// through stop. The function returned waits for the catalog: nil when
// threats are skipped.
func loadCatalogWhileReading(req Request, stop context.CancelCauseFunc) func() (*Catalog, error) {
	if req.SkipThreats {
		return func() (*Catalog, error) { return nil, nil }
	}
	done := make(chan struct{})
	var cat Catalog
	var err error
	go func() {
		defer close(done)
		if cat, err = LoadCatalog(req.Catalogs...); err != nil {
			stop(err)
		}
	}()
	return func() (*Catalog, error) {
		<-done
		if err != nil {
			return nil, err
		}
		return &cat, nil
	}
}

// storeOpening is a store being opened while the scan reads: opening an
// existing store checks its integrity, which on a large store takes a
// while, and can take it on the other core. A store that does not exist
// yet is created only once there is a scan to save into it.
type storeOpening struct {
	path   string
	opts   []store.Option
	result chan openResult // nil: open in wait
}

type openResult struct {
	s   *store.Store
	err error
}

func openExisting(ctx context.Context, path string, opts ...store.Option) storeOpening {
	o := storeOpening{path: path, opts: opts}
	if path == "" {
		path = store.DefaultPath
	}
	if info, err := os.Stat(path); err != nil || info.Size() == 0 {
		return o
	}
	o.result = make(chan openResult, 1)
	go func() {
		s, err := store.Open(ctx, o.path, o.opts...)
		o.result <- openResult{s, err}
	}()
	return o
}

// wait returns the opened store, or opens it now.
func (o storeOpening) wait(ctx context.Context) (*store.Store, error) {
	if o.result == nil {
		return store.Open(ctx, o.path, o.opts...)
	}
	r := <-o.result
	return r.s, r.err
}

// discard closes the store, when the scan stores nothing. It waits for
// the opening, so that nothing touches the store once the scan returned:
// a caller may remove it then, as a test's cleanup does.
func (o storeOpening) discard() {
	if o.result == nil {
		return
	}
	if r := <-o.result; r.s != nil {
		r.s.Close()
	}
}

// collect reads the manifests, the live cluster, or both. With both, an
// object defined in the repository is read from there (what was meant)
// and the cluster adds what only it holds (what runs besides); the
// objects found on one side only are listed.
func (r *run) collect(ctx context.Context, req Request) (*discover.Inventory, *Live, error) {
	files := len(req.Manifests.Paths) > 0 || len(req.Manifests.Kustomize) > 0
	inv := &discover.Inventory{}
	if files || req.Cluster == nil {
		req.Manifests.Progress = r.report.Reading
		var err error
		if inv, err = manifests.Collect(ctx, req.Manifests); err != nil {
			return nil, nil, err
		}
	}
	if req.Cluster == nil {
		return inv, nil, nil
	}
	running, err := readCluster(ctx, *req.Cluster, r.report)
	if err != nil && files && ctx.Err() == nil && req.Rescan == nil {
		// The repository is still worth its scan: stored as partial, the
		// cluster's side missing, and said so. A re-scan fails instead:
		// stored, the repository alone would read as the cluster's
		// objects removed.
		inv.Problems = append(inv.Problems, discover.Problem{
			Severity: discover.SeverityError, Code: "cluster", Location: discover.Location{File: "--live"},
			Message: fmt.Sprintf("%v; only the repository was scanned", err),
		})
		return inv, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	live := &Live{Server: running.Sources[0].Path, Gaps: running.Gaps}
	for _, g := range running.Gaps {
		running.Problems = append(running.Problems, discover.Problem{
			Severity: discover.SeverityError, Code: "coverage-gap", Location: discover.Location{File: live.Server},
			Message: "not read: " + g.String() + "; what depends on it is not assessed",
		})
	}
	if !files {
		return running, live, nil
	}
	inCluster := map[string]*discover.Object{}
	for _, o := range running.Objects {
		inCluster[o.Key()] = o
	}
	declared := map[string]bool{}
	for _, o := range inv.Objects {
		declared[o.Key()] = true
		o.Origin = discover.OriginBoth
		runs := inCluster[o.Key()]
		if runs == nil {
			o.Origin = discover.OriginRepository
			live.OnlyInRepository = append(live.OnlyInRepository, o.Ref())
			continue
		}
		o.Running = runs.Running // what was meant, and what its pods run
	}
	for _, o := range running.Objects {
		if declared[o.Key()] {
			continue
		}
		o.Origin = discover.OriginCluster
		if !cluster.MadeByKubernetes(o) {
			live.OnlyInCluster = append(live.OnlyInCluster, o.Ref())
		}
		inv.Objects = append(inv.Objects, o)
	}
	inv.Sources = append(inv.Sources, running.Sources...)
	inv.Problems = append(inv.Problems, running.Problems...)
	inv.Gaps = running.Gaps
	return inv, live, nil
}

// unanswered says which lists of a live scan failed for a reason the next
// scan may not meet: a timeout, a server error, a server that stopped
// answering. A re-scan that stored such a scan would show what was not
// read as removed, and the next tick would add it back; it fails instead,
// and the next tick tries again. What the credentials may not read is the
// same on every tick: those gaps are stored.
func unanswered(live *Live) error {
	if live == nil {
		return nil
	}
	var failed []discover.Gap
	for _, g := range live.Gaps {
		if !g.Forbidden() {
			failed = append(failed, g)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	more := ""
	if len(failed) > 1 {
		more = fmt.Sprintf(" (and %d more)", len(failed)-1)
	}
	return fmt.Errorf("the cluster did not answer every list, and what was not read would show as removed: %s%s (a slow server may need a longer --request-timeout)", failed[0], more)
}

// Live is what a scan of a live cluster adds to the result.
type Live struct {
	Server string // the API server's URL
	// Gaps are the kinds (and namespaces) that could not be read.
	Gaps []discover.Gap
	// OnlyInCluster and OnlyInRepository are the objects ("Kind ns/name")
	// on one side only, when both were read: the beginning of drift
	// between what was meant and what runs. What Kubernetes creates in
	// every cluster is not listed.
	OnlyInCluster, OnlyInRepository []string
}

// targetOf is what a scan of req looked at: the manifest paths and
// kustomizations resolved (absolute, symbolic links followed), and the
// live cluster's server and context as it was read (sources) with the
// namespaces asked for.
func targetOf(req Request, sources []discover.Source) discover.Target {
	var t discover.Target
	for _, p := range req.Manifests.Paths {
		if p == "-" {
			t.Stdin = true
			continue
		}
		t.Files = append(t.Files, resolvedPath(p))
	}
	for _, k := range req.Manifests.Kustomize {
		t.Kustomize = append(t.Kustomize, resolvedPath(k))
	}
	for _, s := range sources {
		if s.Kind == discover.SourceAPIKind && req.Cluster != nil {
			t.Server, t.Context, t.Namespaces = s.Path, s.Context, req.Cluster.Namespaces
		}
	}
	return t.Canonical()
}

// resolvedPath is path made absolute with its symbolic links followed, so
// two spellings of one directory are one target; as absolute as it can be
// made when it cannot be resolved (it was read, so this is rare).
func resolvedPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}

// readOverlay reads the overlay file; nil when there is none.
func readOverlay(path string) (*discover.Overlay, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--overlay: %w", err)
	}
	defer f.Close()
	overlay, err := discover.ReadOverlay(f, path)
	if err != nil {
		return nil, fmt.Errorf("--overlay: %w", err)
	}
	return overlay, nil
}

func objectRefs(objects []*discover.Object) []store.ObjectRef {
	refs := make([]store.ObjectRef, len(objects))
	for i, o := range objects {
		refs[i] = store.ObjectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Location: o.Location}
	}
	return refs
}
