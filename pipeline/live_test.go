package pipeline_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/cluster/clustertest"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/pipeline"
)

// TestLiveScanMatchesFiles applies each corpus app to a real API server
// and scans it live: the graph and the findings are those of a scan of
// the same files. Evidence differs (an API path instead of file:line),
// nothing else.
func TestLiveScanMatchesFiles(t *testing.T) {
	corpus := discovertest.CorpusDir(t)
	apps, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range apps {
		if !app.IsDir() {
			continue
		}
		t.Run(app.Name(), func(t *testing.T) {
			dir := filepath.Join(corpus, app.Name())
			ctx := context.Background()
			tmp := t.TempDir()
			fromFiles, err := pipeline.Scan(ctx, pipeline.Env{Store: filepath.Join(tmp, "files.db"), ToolVersion: "test", Report: &recorder{}},
				pipeline.Request{Manifests: manifests.Request{Paths: []string{dir}, DefaultNamespace: "default"}})
			if err != nil {
				t.Fatal(err)
			}
			inv, err := manifests.Collect(ctx, manifests.Request{Paths: []string{dir}, DefaultNamespace: "default"})
			if err != nil {
				t.Fatal(err)
			}
			namespaces := map[string]bool{}
			for _, o := range inv.Objects {
				if o.Namespace != "" {
					namespaces[o.Namespace] = true
				}
			}

			srv := clustertest.Start(t)
			_, skipped := srv.Apply(t, "default", manifestsOf(t, dir))
			for _, s := range skipped {
				t.Logf("not applied: %s", s)
			}
			rec := &recorder{}
			live, err := pipeline.Scan(ctx, pipeline.Env{Store: filepath.Join(tmp, "live.db"), ToolVersion: "test", Report: rec},
				pipeline.Request{Cluster: &cluster.Request{Kubeconfig: srv.Kubeconfig, Namespaces: slices.Sorted(maps.Keys(namespaces))}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.problems) != 0 {
				t.Errorf("problems of the live scan:\n%s", strings.Join(rec.problemText(), "\n"))
			}
			for _, part := range []struct {
				what        string
				files, live []string
			}{
				{"nodes", nodesOf(fromFiles), nodesOf(live)},
				{"edges", edgesOf(fromFiles), edgesOf(live)},
				{"controls", controlsOf(fromFiles), controlsOf(live)},
				{"findings", findingsOf(fromFiles), findingsOf(live)},
			} {
				// A Secret's values are read from files, never from a
				// cluster: what a repository holding them risks is the
				// one thing only a file scan can find.
				files := slices.DeleteFunc(slices.Clone(part.files), secretInRepository)
				if missing, extra := difference(files, part.live); len(missing)+len(extra) > 0 {
					t.Errorf("%s: only in the file scan:\n  %s\nonly in the live scan:\n  %s", part.what, strings.Join(missing, "\n  "), strings.Join(extra, "\n  "))
				}
			}
		})
	}
}

// secretInRepository is the control and the finding of a Secret whose
// values the manifests hold.
func secretInRepository(id string) bool {
	return strings.HasPrefix(id, "secret-in-manifests@") || strings.HasPrefix(id, "secret-value-in-manifests@")
}

// manifestsOf is every manifest file under dir, as one stream.
func manifestsOf(t *testing.T, dir string) []byte {
	var all []byte
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		if strings.HasPrefix(filepath.Base(path), "kustomization.") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		all = append(append(all, "\n---\n"...), data...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func nodesOf(r *pipeline.Result) (out []string) {
	for _, n := range r.Graph.Nodes {
		var classes []string
		for _, d := range n.Data {
			classes = append(classes, string(d.Class))
		}
		out = append(out, fmt.Sprintf("%s %s data=%v", n.ID, n.Type, classes))
	}
	return out
}

func edgesOf(r *pipeline.Result) (out []string) {
	for _, e := range r.Graph.Edges {
		out = append(out, fmt.Sprintf("%s %s %s policy=%s", e.ID, e.Protocol, e.Encryption, e.Policy))
	}
	return out
}

func controlsOf(r *pipeline.Result) (out []string) {
	for _, c := range r.Graph.Controls {
		out = append(out, c.ID)
	}
	return out
}

func findingsOf(r *pipeline.Result) (out []string) {
	for _, f := range r.Findings {
		out = append(out, fmt.Sprintf("%s %s", f.ID, f.Severity))
	}
	return out
}

// difference is what only a holds and what only b holds, sorted.
func difference(a, b []string) (onlyA, onlyB []string) {
	for _, x := range a {
		if !slices.Contains(b, x) {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			onlyB = append(onlyB, x)
		}
	}
	slices.Sort(onlyA)
	slices.Sort(onlyB)
	return onlyA, onlyB
}

// TestFilesAndCluster: with both, the repository's objects are scanned,
// the cluster adds what only it holds, and each side's own objects are
// listed.
func TestFilesAndCluster(t *testing.T) {
	const repository = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
`
	const running = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: debug}
spec:
  selector: {matchLabels: {app: debug}}
  template:
    metadata: {labels: {app: debug}}
    spec: {containers: [{name: shell, image: busybox:1.37}]}
`
	// A user's rule can tell what runs without being declared.
	const undeclared = `- id: running-undeclared
  title: Runs but is declared in no repository
  stride: tampering
  appliesTo: [process]
  condition: 'node.origin == "cluster"'
  missingControl: declared-in-repository
  likelihood: medium
  impact: medium
  description: d
  mitigation: m
`
	dir := t.TempDir()
	files := writeFile(t, filepath.Join(dir, "app.yaml"), repository)
	rules := filepath.Join(dir, "rules")
	writeFile(t, filepath.Join(rules, "origin.yaml"), undeclared)
	srv := clustertest.Start(t)
	srv.Apply(t, "shop", []byte(running))
	res, err := pipeline.Scan(context.Background(), pipeline.Env{Store: filepath.Join(dir, "s.db"), ToolVersion: "test", Report: &recorder{}},
		pipeline.Request{
			Manifests: manifests.Request{Paths: []string{files}, DefaultNamespace: "shop"},
			Cluster:   &cluster.Request{Kubeconfig: srv.Kubeconfig, Namespaces: []string{"shop"}},
			Catalogs:  []string{rules},
		})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Cluster; c == nil || c.Server != srv.URL || !slices.Equal(c.OnlyInCluster, []string{"Namespace shop", "Deployment shop/debug"}) || !slices.Equal(c.OnlyInRepository, []string{"Service shop/web"}) {
		t.Errorf("cluster: %+v", res.Cluster)
	}
	if n := res.Graph.Node("workload:shop/web"); n == nil || !strings.HasPrefix(n.Evidence[0].File, files) {
		t.Errorf("web is not read from the repository: %+v", n)
	}
	debug := res.Graph.Node("workload:shop/debug")
	if debug == nil {
		t.Fatalf("what only runs in the cluster is not in the graph")
	}
	if web := res.Graph.Node("workload:shop/web"); web.Origin != discover.OriginBoth || debug.Origin != discover.OriginCluster {
		t.Errorf("origins: web %q, debug %q", web.Origin, debug.Origin)
	}
	// Evidence from the cluster is the object's URL at the version read.
	ev := debug.Evidence[0]
	if want := srv.URL + "/apis/apps/v1/namespaces/shop/deployments/debug"; ev.File != want || ev.Version == "" || ev.Location() != want+" at resourceVersion "+ev.Version {
		t.Errorf("evidence of debug: %+v, at %q", ev, ev.Location())
	}
	var flagged []string
	for _, f := range res.Findings {
		if f.RuleID == "running-undeclared" {
			flagged = append(flagged, f.Element)
		}
	}
	if !slices.Equal(flagged, []string{"workload:shop/debug"}) {
		t.Errorf("rule on node.origin flagged %v, want only workload:shop/debug", flagged)
	}
}

// TestLiveScanRunning: a live scan of a Deployment in the middle of a
// rollout, with pods an injector gave an istio-proxy, shows the workload
// once, and on it, in the stored graph, each digest its pods run and the
// injected sidecar; the mesh counts as present, and a running digest does
// not pin the template's tag. With files too, the repository's Deployment
// carries what the cluster's pods run.
func TestLiveScanRunning(t *testing.T) {
	srv := clustertest.Start(t)
	srv.CreateNamespace(t, "shop")
	ids := srv.InjectedRollout(t, "shop", "web", "nginx:1.26", "nginx:1.27")
	dir := t.TempDir()
	files := writeFile(t, filepath.Join(dir, "app.yaml"), modeltest.Deployment("shop", "web"))
	for _, req := range []pipeline.Request{
		{Cluster: &cluster.Request{Kubeconfig: srv.Kubeconfig, Namespaces: []string{"shop"}}},
		{Cluster: &cluster.Request{Kubeconfig: srv.Kubeconfig, Namespaces: []string{"shop"}}, Manifests: manifests.Request{Paths: []string{files}}},
	} {
		db := filepath.Join(dir, fmt.Sprintf("s%d.db", len(req.Manifests.Paths)))
		res, err := pipeline.Scan(context.Background(), pipeline.Env{Store: db, ToolVersion: "test", Report: &recorder{}}, req)
		if err != nil {
			t.Fatal(err)
		}
		var workloads []string
		for _, n := range res.Graph.Nodes {
			if n.Workload != nil {
				workloads = append(workloads, n.ID)
			}
		}
		if !slices.Equal(workloads, []string{"workload:shop/web"}) {
			t.Errorf("workloads: %v", workloads)
		}
		if slices.Contains(controlsOf(res), "image-pinned-by-digest@workload:shop/web") {
			t.Errorf("a running digest pins the template's tag")
		}
		s, err := store.OpenExisting(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := s.Graph(context.Background(), res.Scan.ID)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		w := stored.Node("workload:shop/web").Workload
		want := []model.RunningContainer{
			{Name: "istio-proxy", Injected: true, Image: clustertest.IstioProxyImage, Digest: model.RunningDigest(ids[clustertest.IstioProxyImage])},
			{Name: "web", Image: "nginx:1.26", Digest: model.RunningDigest(ids["nginx:1.26"])},
			{Name: "web", Image: "nginx:1.27", Digest: model.RunningDigest(ids["nginx:1.27"])},
		}
		if !slices.Equal(w.Running, want) || w.MeshSidecar != "istio" || w.Containers[0].Image.Digest != "" {
			t.Errorf("files %v: running %+v, sidecar %q, image %+v", req.Manifests.Paths, w.Running, w.MeshSidecar, w.Containers[0].Image)
		}
		for _, r := range w.Running {
			if !strings.HasPrefix(r.Digest, "sha256:") {
				t.Errorf("digest %q", r.Digest)
			}
		}
	}
}
