package model_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
)

// TestCorpusProtocols reports, per corpus app, how many declared edges have
// a known protocol (one some clue decided, not the "tcp" left without one)
// and lists every edge with its protocol, source and encryption, so a
// change to the protocol resolver shows its effect on real manifests
// (go test -v -run TestCorpusProtocols ./model). It fails where a protocol
// and its source disagree: a source that decided nothing, or a protocol no
// source decided.
func TestCorpusProtocols(t *testing.T) {
	corpus := discovertest.CorpusDir(t)
	for _, app := range discovertest.CorpusApps(t) {
		t.Run(app, func(t *testing.T) {
			// Problems reading the kustomize trees are not this test's
			// subject: TestCorpusFlows holds the apps it reads cleanly.
			inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{filepath.Join(corpus, app)}})
			if err != nil {
				t.Fatal(err)
			}
			g := model.Build(inv)
			declared, known := 0, 0
			for _, e := range g.Edges {
				if !e.Declared {
					continue
				}
				declared++
				t.Logf("edge %s %s %s %s", e.ID, e.Protocol, e.ProtocolSource, e.Encryption)
				if e.ProtocolSource != "" && e.Protocol != "tcp" {
					known++
				}
				if (e.ProtocolSource == "") != (e.Protocol == "tcp") {
					t.Errorf("edge %s: protocol %q decided by %q: a known protocol needs its source, and tcp is what is left without one", e.ID, e.Protocol, e.ProtocolSource)
				}
			}
			t.Logf("%s: %d of %d declared edges have a known protocol", app, known, declared)
		})
	}
}
