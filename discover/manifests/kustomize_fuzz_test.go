package manifests

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/types"
)

// offline makes kustomize fail at once on remote resources: no git on
// PATH, and HTTP through a proxy that refuses connections. A fuzz target
// must not reach the network.
func offline(f *testing.F) {
	f.Setenv("PATH", f.TempDir())
	for _, v := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		f.Setenv(v, "http://127.0.0.1:1")
	}
	f.Setenv("NO_PROXY", "")
	f.Setenv("no_proxy", "")
}

// kustomizeSeeds are the kustomizations of testdata/precision, and ones
// with generators, a literal secret, remote and escaping resources.
func kustomizeSeeds(f *testing.F) {
	for _, dir := range []string{"37-kustomize-tree-with-f", "36-kustomize-kind-patch"} {
		if data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "precision", dir, "in", "kustomization.yaml")); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("resources: [deployment.yaml]\nsecretGenerator:\n- name: creds\n  literals: [password=canary-hunter2]\nconfigMapGenerator:\n- name: cfg\n  literals: [a=b]\nbuildMetadata: [originAnnotations]\n"))
	f.Add([]byte("resources:\n- ../../etc\n- /etc/passwd\n- https://example.invalid/x.yaml\n- github.com/example/repo//base?ref=v1\n"))
	f.Add([]byte("resources: [service.yaml]\nnamePrefix: p-\ncommonLabels: {a: b}\nimages: [{name: redis, newTag: \"7\"}]\nbuildMetadata: x\n"))
	f.Add([]byte("patches:\n- patch: |-\n    - op: add\n      path: /metadata/labels/x\n      value: y\n  target: {kind: Deployment}\nresources: [deployment.yaml]\n"))
}

// FuzzKustomize: any kustomization.yaml, beside the files of
// testdata/precision/37-kustomize-tree-with-f, renders or gives problems
// on one line; every object and problem points into the directory (no
// file outside it is read, nothing remote is fetched), and no Secret
// keeps a value, whatever generated it.
func FuzzKustomize(f *testing.F) {
	offline(f)
	kustomizeSeeds(f)
	dir := f.TempDir()
	src := filepath.Join("..", "..", "testdata", "precision", "37-kustomize-tree-with-f", "in")
	entries, err := os.ReadDir(src)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		inv, err := Collect(context.Background(), Request{Kustomize: []string{dir}})
		if err != nil {
			t.Fatal(err)
		}
		inside := func(file string) bool {
			return file == "kustomize:"+dir || file == dir || strings.HasPrefix(file, dir+string(filepath.Separator))
		}
		for _, o := range inv.Objects {
			if !inside(o.Location.File) {
				t.Fatalf("%s located outside the kustomization: %v", o.Ref(), o.Location)
			}
			checkNoSecretValues(t, o)
		}
		for _, p := range inv.Problems {
			if !inside(p.Location.File) || p.Message == "" || strings.ContainsAny(p.String(), "\n\r") {
				t.Fatalf("problem: %q", p.String())
			}
		}
	})
}

// FuzzKustomizationFile: reading a kustomization file for the fragments it
// names gives cleaned, sorted, distinct paths, none of them an inline
// patch; asking it for origin annotations either leaves it as it is or
// adds exactly that, keeping every other field, and asking again changes
// nothing.
func FuzzKustomizationFile(f *testing.F) {
	kustomizeSeeds(f)
	f.Add([]byte("buildMetadata: [managedByLabel]\npatchesStrategicMerge:\n- a.yaml\n- |-\n  kind: X\n- ./a.yaml\ntransformers: [{path: t.yaml}, 3]\n"))
	f.Add([]byte("- a\n"))
	file := filepath.Join(f.TempDir(), "kustomization.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths := kustomizationFragments(file)
		if !slices.IsSorted(paths) || len(slices.Compact(slices.Clone(paths))) != len(paths) {
			t.Fatalf("fragments not sorted and distinct: %q", paths)
		}
		for _, p := range paths {
			if p != filepath.Clean(p) || strings.ContainsAny(p, "\n{") {
				t.Fatalf("fragment %q", p)
			}
		}

		out := withOriginAnnotations(data)
		if bytes.Equal(out, data) {
			return
		}
		var before, after map[string]any
		if err := yaml.Unmarshal(data, &before); err != nil {
			t.Fatalf("changed what does not read: %v", err)
		}
		if err := yaml.Unmarshal(out, &after); err != nil {
			t.Fatalf("the kustomization as changed does not read: %v\n%s", err, out)
		}
		meta, _ := after["buildMetadata"].([]any)
		if !slices.Contains(meta, any(types.OriginAnnotations)) {
			t.Fatalf("buildMetadata %v", after["buildMetadata"])
		}
		delete(before, "buildMetadata")
		delete(after, "buildMetadata")
		a, _ := yaml.Marshal(before)
		b, _ := yaml.Marshal(after)
		if !bytes.Equal(a, b) {
			t.Fatalf("other fields changed:\n%s\n%s", a, b)
		}
		if again := withOriginAnnotations(out); !bytes.Equal(again, out) {
			t.Fatalf("asked twice:\n%s\n%s", out, again)
		}
	})
}
