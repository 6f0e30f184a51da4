package pipeline

import (
	"context"
	"fmt"
	"os"
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
}

// Scan reads the sources, builds the graph, merges the flow logs, applies
// the overlay, evaluates the catalog and stores the result as a new scan.
// Input that cannot be used, in whole or in part, is reported and stored
// as problems while the rest is scanned; an error means nothing was
// stored. It returns ErrNothingRead when no object could be read.
func Scan(ctx context.Context, env Env, req Request) (*Result, error) {
	r := newRun(env)
	started := time.Now()
	var cat *Catalog
	if !req.SkipThreats {
		c, err := LoadCatalog(req.Catalogs...)
		if err != nil {
			return nil, err
		}
		cat = &c
	}
	overlay, err := readOverlay(req.Overlay)
	if err != nil {
		return nil, err
	}

	req.Manifests.Progress = r.report.Reading
	inv, err := manifests.Collect(ctx, req.Manifests)
	if err != nil {
		return nil, err
	}
	r.log.Debug("collected", "objects", len(inv.Objects), "problems", len(inv.Problems), "took", time.Since(started))
	r.problems(inv.Problems)
	if len(inv.Objects) == 0 {
		return nil, ErrNothingRead
	}

	step := time.Now()
	graph := model.Build(inv, controls.Detectors()...)
	r.log.Debug("built graph", "nodes", len(graph.Nodes), "edges", len(graph.Edges), "controls", len(graph.Controls), "took", time.Since(step))
	sources, problems := inv.Sources, inv.Problems
	var merged *FlowsMerged
	if len(req.FlowLogs) > 0 {
		// Before the overlay, so it can classify elements only flows show.
		step = time.Now()
		obs := FlowLogs(req.FlowLogs)
		if len(req.Inventory) > 0 || req.Live != nil {
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
	inv.Objects = nil // the decoded objects are no longer needed: let the store's work reuse their memory

	s, err := store.Open(ctx, env.Store)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer s.Close()
	res, err := r.evaluateAndSave(ctx, s, graph, cat, stored{started: started, sources: sources, objects: objects, problems: problems})
	if err != nil {
		return nil, err
	}
	res.Manifests, res.Flows = inv.Sources, merged
	return res, nil
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
