package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stridemap/stridemap/discover/flows/resolve"
	"github.com/stridemap/stridemap/model/store"
)

// ErrNothingObserved means observations held no flow log that could be
// used: nothing was stored.
var ErrNothingObserved = errors.New("no flow log could be used; nothing was stored")

// Merge merges observations into a stored scan and stores the result as a
// new scan, the catalog evaluated again. It is made before observing, so
// that a missing scan or a bad catalog is said at once, not after minutes
// of observing.
type Merge struct {
	run   run
	store *store.Store
	cat   Catalog
	base  store.ScanInfo
}

// NewMerge opens the store and finds the scan to merge into: base, or the
// latest when base is 0. A store without scans gives an error wrapping
// store.ErrNoScans; a missing store, one that is also store.ErrNoStore.
// Close the Merge when done.
func NewMerge(ctx context.Context, env Env, base int64, catalogs []string) (*Merge, error) {
	cat, err := LoadCatalog(catalogs...)
	if err != nil {
		return nil, err
	}
	// Observations merge into a stored scan: where there is no store,
	// none is made.
	s, err := store.OpenExisting(ctx, env.Store)
	if errors.Is(err, store.ErrNoStore) {
		return nil, err // it names the path looked for
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if base == 0 {
		if base, err = s.LatestScanID(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	info, err := s.Scan(ctx, base)
	if err != nil {
		s.Close()
		return nil, err
	}
	return &Merge{run: newRun(env), store: s, cat: cat, base: info}, nil
}

// Base is the scan the observations are merged into.
func (m *Merge) Base() store.ScanInfo { return m.base }

// Close closes the store.
func (m *Merge) Close() error { return m.store.Close() }

// Run merges the observations into the base scan's graph, the same way
// Scan merges flow logs, evaluates the catalog again and stores a new scan
// with the base's sources, objects and problems and the observations'.
// It returns ErrNothingObserved when every flow log was left out.
func (m *Merge) Run(ctx context.Context, obs Observations) (*Result, error) {
	started := time.Now()
	m.run.problems(obs.Problems)
	if obs.Log == nil || (len(obs.Log.Flows) == 0 && len(obs.Log.Summaries) == 0 && len(obs.Problems) > 0) {
		return nil, ErrNothingObserved
	}
	id := m.base.ID
	graph, err := m.store.Graph(ctx, id)
	if err != nil {
		return nil, err
	}
	objects, err := m.store.Objects(ctx, id)
	if err != nil {
		return nil, err
	}
	problems, err := m.store.Problems(ctx, id)
	if err != nil {
		return nil, err
	}
	declared := make([]resolve.Declared, len(objects))
	for i, o := range objects {
		declared[i] = resolve.Declared{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
	}
	merged := mergeObservations(graph, declared, obs)
	m.run.log.Debug("merged flows", "flows", merged.Report.Flows, "resolved", merged.Report.Resolved, "edges", len(merged.Touched), "took", time.Since(started))
	res, err := m.run.evaluateAndSave(ctx, m.store, graph, &m.cat, stored{
		started:  started,
		sources:  slices.Concat(m.base.Sources, obs.Sources),
		target:   m.base.Target,
		objects:  objects,
		problems: slices.Concat(problems, obs.Problems),
	})
	if err != nil {
		return nil, err
	}
	res.Flows, res.Base = merged, id
	return res, nil
}
