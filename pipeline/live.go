package pipeline

import (
	"context"
	"fmt"
	"strings"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
)

// LiveKinds are the kinds a live scan reads: those the decoder types and
// those the builder and the detectors look up, no more, so a scan asks
// for (and its role grants) only what the graph uses.
func LiveKinds() []cluster.Kind {
	var kinds []cluster.Kind
	seen := map[cluster.Kind]bool{}
	for _, list := range [][]string{manifests.TypedKinds(), model.UnstructuredKinds(), controls.UnstructuredKinds()} {
		for _, groupKind := range list {
			group, kind, _ := strings.Cut(groupKind, "/")
			k := cluster.Kind{Group: group, Kind: kind}
			if !seen[k] {
				seen[k] = true
				kinds = append(kinds, k)
			}
		}
	}
	return kinds
}

// readCluster reads the live cluster's objects, reporting each kind read.
func readCluster(ctx context.Context, req cluster.Request, report Reporter) (*discover.Inventory, error) {
	return cluster.Scan(ctx, cluster.ScanRequest{
		Request: req,
		Kinds:   LiveKinds(),
		Progress: func(kind cluster.Kind, objects int) {
			report.Reading(fmt.Sprintf("%s (%d objects so far)", kind, objects))
		},
	})
}
