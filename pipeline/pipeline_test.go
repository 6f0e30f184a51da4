package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/flowlog"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/pipeline"
)

// recorder is a Reporter that keeps what it is told.
type recorder struct {
	read     []string
	steps    []string
	problems []discover.Problem
	warnings []string
}

func (r *recorder) Reading(path string)        { r.read = append(r.read, path) }
func (r *recorder) Step(what string)           { r.steps = append(r.steps, what) }
func (r *recorder) Problem(p discover.Problem) { r.problems = append(r.problems, p) }
func (r *recorder) Warning(msg string)         { r.warnings = append(r.warnings, msg) }
func (r *recorder) problemText() (out []string) {
	for _, p := range r.problems {
		out = append(out, p.String())
	}
	return out
}

// hubbleSYN is one "hubble observe -o json" line: a connection's first
// packet from one pod to another, seen leaving the client.
func hubbleSYN(from, to string, port int, srcIP, dstIP string) string {
	return fmt.Sprintf(`{"flow":{"time":"2025-03-01T12:00:00Z","verdict":"FORWARDED","IP":{"source":%q,"destination":%q},"l4":{"TCP":{"source_port":41000,"destination_port":%d,"flags":{"SYN":true}}},"source":{"namespace":"default","pod_name":%q},"destination":{"namespace":"default","pod_name":%q},"node_name":"node-a","traffic_direction":"EGRESS","is_reply":false},"node_name":"node-a"}`,
		srcIP, dstIP, port, from, to)
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func edgeByID(g *model.Graph, id string) *model.Edge {
	for i := range g.Edges {
		if g.Edges[i].ID == id {
			return &g.Edges[i]
		}
	}
	return nil
}

// TestScanAndMergeOnBoutique runs the pipeline without the CLI: Online
// Boutique from the corpus with a Hubble flow log (one declared call, one
// call no manifest declares, one bad line), then a second log merged into
// the stored scan. What comes back is what the store holds.
func TestScanAndMergeOnBoutique(t *testing.T) {
	ctx := context.Background()
	manifestsFile := filepath.Join(discovertest.CorpusDir(t), "online-boutique", "kubernetes-manifests.yaml")
	dir := t.TempDir()
	log := writeFile(t, filepath.Join(dir, "hubble.jsonl"), strings.Join([]string{
		hubbleSYN("frontend-5d8f9c7b6-x2x4p", "cartservice-6c9d8b7f5-q8w2z", 7070, "10.244.1.5", "10.244.1.6"),
		"not a flow",
		hubbleSYN("paymentservice-7b6f9c8d5-k2x4p", "redis-cart-5c7d9b8f6-z9y8x", 6379, "10.244.1.7", "10.244.1.8"),
	}, "\n")+"\n")
	rec := &recorder{}
	env := pipeline.Env{Store: filepath.Join(dir, "stridemap.db"), ToolVersion: "test", Report: rec}

	res, err := pipeline.Scan(ctx, env, pipeline.Request{
		Manifests: manifests.Request{Paths: []string{manifestsFile}, DefaultNamespace: "default"},
		FlowLogs:  []string{log},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.read, []string{manifestsFile}) {
		t.Errorf("progress: read %v", rec.read)
	}
	cat, err := pipeline.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	elements := len(res.Graph.Nodes) + len(res.Graph.Edges) + len(res.Graph.Boundaries)
	if want := []string{
		fmt.Sprintf("building the graph of %d objects", res.Scan.Counts.Objects),
		"merging the flow logs",
		fmt.Sprintf("evaluating %d rules on %d elements", len(cat.Rules.Rules), elements),
		"storing the scan",
	}; !slices.Equal(rec.steps, want) {
		t.Errorf("progress: steps\n got %q\nwant %q", rec.steps, want)
	}
	if want := []string{log + ":2: not JSON: invalid character 'o' in literal null (expecting 'u'); the line was left out (fix or delete it)"}; !slices.Equal(rec.problemText(), want) {
		t.Errorf("problems reported:\n got %q\nwant %q", rec.problemText(), want)
	}
	if !res.Partial() || res.Base != 0 || !res.Evaluated || len(res.Findings) == 0 {
		t.Errorf("partial %v, base %d, evaluated %v, %d findings", res.Partial(), res.Base, res.Evaluated, len(res.Findings))
	}
	const (
		declared   = "workload:default/frontend->workload:default/cartservice:7070"
		undeclared = "workload:default/paymentservice->workload:default/redis-cart:6379"
	)
	if f := res.Flows; f == nil || f.Logs != 1 || f.Named || f.Report.Flows != 2 || f.Report.Resolved != 2 || len(f.Touched) != 2 || f.Undeclared != 1 {
		t.Fatalf("flows merged: %+v", f)
	}

	s, err := store.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g, err := s.Graph(ctx, res.Scan.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != len(res.Graph.Nodes) || len(g.Edges) != len(res.Graph.Edges) || len(g.Controls) != len(res.Graph.Controls) {
		t.Errorf("stored graph %d/%d/%d, returned %d/%d/%d nodes/edges/controls",
			len(g.Nodes), len(g.Edges), len(g.Controls), len(res.Graph.Nodes), len(res.Graph.Edges), len(res.Graph.Controls))
	}
	if e := edgeByID(g, declared); e == nil || !e.Declared || !e.Observed || e.Observation.Connections != 1 || !slices.Equal(e.Observation.Sources, []string{pipeline.SeenInFlowLog}) {
		t.Errorf("declared and observed: %+v", e)
	}
	if e := edgeByID(g, undeclared); e == nil || e.Declared || !e.Observed {
		t.Errorf("observed only: %+v", e)
	}
	findings, err := s.Findings(ctx, res.Scan.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != len(res.Findings) {
		t.Errorf("%d findings stored, %d returned", len(findings), len(res.Findings))
	}
	problems, err := s.Problems(ctx, res.Scan.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || problems[0].Code != flowlog.ProblemCode || problems[0].Location.Line != 2 {
		t.Errorf("stored problems: %v", problems)
	}
	if src := res.Scan.Sources; len(src) != 2 || src[0].Path != manifestsFile || src[1].Kind != flowlog.SourceFlows || src[1].Files != 1 || src[1].Objects != 2 {
		t.Errorf("stored sources: %+v", src)
	}
	sameContentHash(t, res)

	// Flows observed later are merged into the stored scan the same way.
	later := writeFile(t, filepath.Join(dir, "later", "hubble.jsonl"),
		hubbleSYN("frontend-5d8f9c7b6-x2x4p", "cartservice-6c9d8b7f5-q8w2z", 7070, "10.244.1.5", "10.244.1.6")+"\n")
	m, err := pipeline.NewMerge(ctx, env, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Base().ID != res.Scan.ID {
		t.Errorf("merging into scan %d, want the latest, %d", m.Base().ID, res.Scan.ID)
	}
	merged, err := m.Run(ctx, pipeline.FlowLogs([]string{later}))
	if err != nil {
		t.Fatal(err)
	}
	if merged.Base != res.Scan.ID || merged.Scan.ID != res.Scan.ID+1 {
		t.Errorf("merged scan #%d from #%d", merged.Scan.ID, merged.Base)
	}
	g2, err := s.Graph(ctx, merged.Scan.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e := edgeByID(g2, declared); e == nil || e.Observation.Connections != 2 {
		t.Errorf("the later flow adds to the edge: %+v", e)
	}
	if e := edgeByID(g2, undeclared); e == nil || !e.Observed {
		t.Errorf("what the base observed is kept: %+v", e)
	}
	if src := merged.Scan.Sources; len(src) != 3 || src[2].Path != later {
		t.Errorf("merged scan's sources: %+v", src)
	}
	if p, _ := s.Problems(ctx, merged.Scan.ID); len(p) != 1 {
		t.Errorf("the base's problems are kept: %v", p)
	}
}

// sameContentHash checks that the content hash of a scan computed from
// the store, as a watch started after a plain scan computes it, equals
// the one computed from the scan in memory.
func sameContentHash(t *testing.T, res *pipeline.Result) {
	t.Helper()
	inMemory, stored, err := pipeline.ContentHashes(context.Background(), res)
	if err != nil {
		t.Fatal(err)
	}
	if inMemory != stored {
		t.Errorf("scan %d: content hash %s from the store, %s in memory", res.Scan.ID, stored, inMemory)
	}
}

// TestNothingStored: no objects, or no usable flow log, stores nothing.
func TestNothingStored(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := pipeline.Env{Store: filepath.Join(dir, "stridemap.db")}
	empty := writeFile(t, filepath.Join(dir, "empty.yaml"), "# nothing\n")
	if _, err := pipeline.Scan(ctx, env, pipeline.Request{Manifests: manifests.Request{Paths: []string{empty}}}); !errors.Is(err, pipeline.ErrNothingRead) {
		t.Errorf("no objects: %v", err)
	}
	if _, err := os.Stat(env.Store); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no store should be created for nothing: %v", err)
	}
	if _, err := pipeline.NewMerge(ctx, env, 0, nil); !errors.Is(err, store.ErrNoScans) {
		t.Errorf("merge into an empty store: %v", err)
	}
	if _, err := os.Stat(env.Store); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no store should be created to merge into: %v", err)
	}

	shop := writeFile(t, filepath.Join(dir, "shop.yaml"), "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n")
	if _, err := pipeline.Scan(ctx, env, pipeline.Request{Manifests: manifests.Request{Paths: []string{shop}, DefaultNamespace: "shop"}, SkipThreats: true}); err != nil {
		t.Fatal(err)
	}
	m, err := pipeline.NewMerge(ctx, env, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bad := writeFile(t, filepath.Join(dir, "bad.jsonl"), "garbage\n")
	if _, err := m.Run(ctx, pipeline.FlowLogs([]string{bad})); !errors.Is(err, pipeline.ErrNothingObserved) {
		t.Errorf("no usable flow log: %v", err)
	}
	s, err := store.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if scans, err := s.Scans(ctx); err != nil || len(scans) != 1 {
		t.Errorf("only the first scan is stored: %d scans, %v", len(scans), err)
	}
}

// removing is a Reporter that removes a file as the scan starts reading
// it: the file was listed, then gone, as in a checkout in progress.
type removing struct {
	recorder
	t    *testing.T
	file string
}

func (r *removing) Reading(path string) {
	if path == r.file {
		if err := os.Remove(path); err != nil {
			r.t.Error(err)
		}
	}
}

// TestRescanOfChangingSources: a re-scan (stridemap watch) that sees a
// file vanish between listing and reading stores nothing, since half the
// source would read as drift, and records the failure; a one-shot scan
// stores what it read, partial, as it does any unreadable file.
func TestRescanOfChangingSources(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	service := "apiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec: {ports: [{port: 80}]}\n"
	writeFile(t, filepath.Join(src, "a.yaml"), fmt.Sprintf(service, "a"))
	writeFile(t, filepath.Join(src, "b.yaml"), fmt.Sprintf(service, "b"))
	env := pipeline.Env{Store: filepath.Join(dir, "stridemap.db")}
	req := pipeline.Request{Manifests: manifests.Request{Paths: []string{src}, DefaultNamespace: "shop"}, SkipThreats: true}
	first, err := pipeline.Scan(ctx, env, req)
	if err != nil {
		t.Fatal(err)
	}

	gone := filepath.Join(src, "a.yaml")
	env.Report = &removing{t: t, file: gone}
	rescan := req
	rescan.Rescan = &pipeline.Rescan{Target: first.Scan.Target}
	_, err = pipeline.Scan(ctx, env, rescan)
	if err == nil || !strings.Contains(err.Error(), gone) || !strings.Contains(err.Error(), "changed while") {
		t.Fatalf("re-scan of a file that vanished: %v; want an error naming it", err)
	}
	s, err := store.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	scans, err := s.Scans(ctx)
	if err != nil || len(scans) != 1 {
		t.Errorf("%d scans stored (%v), want the first only", len(scans), err)
	}
	failures, err := s.Failures(ctx, 10)
	if err != nil || len(failures) != 1 || !strings.Contains(failures[0].Message, gone) {
		t.Errorf("recorded failures %+v (%v), want the one naming %s", failures, err, gone)
	}
	s.Close()

	writeFile(t, gone, fmt.Sprintf(service, "a"))
	env.Report = &removing{t: t, file: gone}
	res, err := pipeline.Scan(ctx, env, req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Partial() || res.Scan.Counts.Objects != 1 {
		t.Errorf("one-shot scan of a file that vanished: partial %v, %d objects; want partial, 1", res.Partial(), res.Scan.Counts.Objects)
	}
}
