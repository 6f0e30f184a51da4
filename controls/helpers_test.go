package controls_test

import (
	"testing"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
)

// build decodes YAML documents as one file and builds the graph with every
// detector, as a scan does.
func build(t *testing.T, docs ...string) *model.Graph {
	t.Helper()
	return model.Build(modeltest.Decode(t, docs...), controls.Detectors()...)
}

func scanCorpus(t *testing.T, req manifests.Request) *model.Graph {
	t.Helper()
	return model.Build(modeltest.Collect(t, req), controls.Detectors()...)
}
