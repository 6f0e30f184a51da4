package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/flowlog"
	"github.com/stridemap/stridemap/discover/flows"
	"github.com/stridemap/stridemap/discover/flows/resolve"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
)

// How flows were seen, recorded on each observed edge.
const (
	SeenInFlowLog = "flow-log" // read from a stridemap-observer or Hubble log
	SeenByEBPF    = "ebpf"     // observed by stridemap-observer just now
)

// Observations are flows seen on the wire, and what names their ends.
type Observations struct {
	Log *flows.Log
	// Seen says how the flows were seen: SeenInFlowLog or SeenByEBPF.
	Seen string
	// Inventory holds the Pods and Services whose addresses name the
	// flows' ends; nil when there is none (the flows' own pod names, as
	// Hubble's, are then matched to the scanned workloads by name).
	Inventory []*discover.Object
	// Sources are what was read: the logs (or the observer's run), then
	// the inventory. They are stored with the scan.
	Sources []discover.Source
	// Problems are the logs, lines and inventories that could not be
	// used; they are stored with the scan.
	Problems []discover.Problem
}

// FlowLogs reads flow logs, and the logs in directories, as observations;
// see flowlog.ReadPaths for what is read and what becomes a problem.
func FlowLogs(paths []string) Observations {
	log, sources, problems := flowlog.ReadPaths(paths)
	return Observations{Log: log, Seen: SeenInFlowLog, Sources: sources, Problems: problems}
}

// Inventory is what names the ends of observed flows: Pods and Services
// with their addresses.
type Inventory struct {
	Objects  []*discover.Object
	Sources  []discover.Source
	Problems []discover.Problem
}

// ReadInventory reads the Pods and Services that name the ends of flows:
// from dumps (kubectl get pods,services -A -o json), or, when live is set,
// from the cluster's API. An error means none could be read.
func ReadInventory(ctx context.Context, dumps []string, live *cluster.Request) (Inventory, error) {
	switch {
	case len(dumps) > 0:
		inv, err := manifests.Collect(ctx, manifests.Request{Paths: dumps})
		if err != nil {
			return Inventory{}, fmt.Errorf("--inventory: %w", err)
		}
		return Inventory{Objects: inv.Objects, Sources: inv.Sources, Problems: inv.Problems}, nil
	case live != nil:
		inv, err := cluster.Collect(ctx, *live)
		if err != nil {
			return Inventory{}, err
		}
		return Inventory{Objects: inv.Objects, Sources: inv.Sources, Problems: inv.Problems}, nil
	}
	return Inventory{}, nil
}

// Named adds the inventory to the observations.
func (o *Observations) Named(inv Inventory) {
	o.Inventory = append(o.Inventory, inv.Objects...)
	o.Sources = append(o.Sources, inv.Sources...)
	o.Problems = append(o.Problems, inv.Problems...)
}

// FlowsMerged is what merging observations into a graph did.
type FlowsMerged struct {
	// Nodes are the observers' summaries, one per node however many
	// exports it wrote: what each saw and lost.
	Nodes []flows.Summary
	// Logs counts the flow log files read; 0 for an observer's run.
	Logs int
	// Named reports whether an inventory named the flows' ends.
	Named bool
	// Inventory is where the inventory came from, when there was one.
	Inventory []discover.Source
	// Report counts the flows by how their ends were named.
	Report resolve.Report
	// Touched are the IDs of the edges the flows were merged into.
	Touched []string
	// Undeclared counts the graph's observed edges no manifest declares.
	Undeclared int
}

// mergeObservations names the ends of the observed flows and merges them
// into the graph as observed edges. declared are the objects the graph was
// built from: pods a flow log names (Hubble) are matched to them by name
// when the inventory does not hold them.
func mergeObservations(g *model.Graph, declared []resolve.Declared, obs Observations) *FlowsMerged {
	log := obs.Log
	if log == nil {
		log = &flows.Log{}
	}
	m := &FlowsMerged{Nodes: log.NodeSummaries(), Named: obs.Inventory != nil}
	for _, src := range obs.Sources {
		if src.Kind == flowlog.SourceFlows {
			m.Logs += src.Files
		} else {
			m.Inventory = append(m.Inventory, src)
		}
	}
	known := slices.Concat(obs.Inventory, resolve.PodsNamedByLog(log, declared, obs.Inventory))
	resolved, rep := resolve.New(known).Resolve(log.Flows)
	m.Report = rep
	m.Touched = model.MergeObserved(g, observedFlows(resolved, obs.Seen))
	for i := range g.Edges {
		if e := &g.Edges[i]; e.Observed && !e.Declared {
			m.Undeclared++
		}
	}
	return m
}

// observedFlows turns resolved flows into the model's observed flows.
func observedFlows(resolved []resolve.Flow, seen string) []model.ObservedFlow {
	const maxEvidence = 3 // samples per flow: enough to go and check
	out := make([]model.ObservedFlow, 0, len(resolved))
	endpoint := func(e resolve.Endpoint) model.ObservedEndpoint {
		me := model.ObservedEndpoint{Namespace: e.Namespace, External: e.External}
		for _, o := range e.Owners {
			me.Owners = append(me.Owners, model.OwnerRef{Kind: o.Kind, Name: o.Name})
		}
		return me
	}
	for _, f := range resolved {
		of := model.ObservedFlow{
			From: endpoint(f.From), To: endpoint(f.To), Port: int32(f.Port), Via: f.Via,
			Observation: model.Observation{
				Connections: f.Connections, Failed: f.Failed, BytesSent: f.BytesSent, BytesReceived: f.BytesReceived,
				FirstSeen: f.FirstSeen.UTC(), LastSeen: f.LastSeen.UTC(), Sources: []string{seen},
			},
		}
		if p := f.Protocol(); p != flows.ProtoTLS {
			of.Protocol = p // TLS says how, not what: the edge keeps its protocol
		}
		switch f.Encrypted() {
		case flows.EncryptionTLS:
			of.Encryption = model.EncryptionTLS
		case flows.EncryptionPlaintext:
			of.Encryption = model.EncryptionPlaintext
		}
		if f.Unclassified {
			of.Unclassified = true
			of.Evidence = append(of.Evidence, model.Evidence{Detail: "observed: protocol and encryption unknown: the observer did not peek at payloads on its node (see the scan's sources)"})
		}
		for i, ev := range f.Evidence {
			if i == maxEvidence {
				break
			}
			of.Evidence = append(of.Evidence, model.Evidence{Detail: "observed: " + ev})
		}
		out = append(out, of)
	}
	return out
}

// declaredOf lists the objects by kind, namespace and name.
func declaredOf(objects []*discover.Object) []resolve.Declared {
	out := make([]resolve.Declared, len(objects))
	for i, o := range objects {
		out[i] = resolve.Declared{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
	}
	return out
}

// inventoryProblem is an inventory that could not be read, for a scan
// that goes on without it.
func inventoryProblem(dumps []string, err error) discover.Problem {
	if len(dumps) == 0 {
		return flowlog.Problem("--live", 0, fmt.Sprintf("%v; flows were named without the cluster's pods", err))
	}
	return flowlog.Problem(strings.Join(dumps, ","), 0, fmt.Sprintf("%v; flows were named without it", err))
}
