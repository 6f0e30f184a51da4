package modeltest

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
)

// Manifests written inline: tests of the graph and of the controls
// detected on it build from a few documents each, joined by Decode.

// Decode reads YAML documents as one file, "test.yaml", failing the test
// on a document that does not decode.
func Decode(t testing.TB, docs ...string) *discover.Inventory {
	t.Helper()
	return &discover.Inventory{Objects: discovertest.Objects(t, strings.Join(docs, "\n---\n"))}
}

// Collect reads real manifests (the corpus), reporting every problem met
// as a test error.
func Collect(t testing.TB, req manifests.Request) *discover.Inventory {
	t.Helper()
	inv, err := manifests.Collect(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range inv.Problems {
		t.Errorf("problem reading corpus: %s", p)
	}
	return inv
}

// Deployment returns a Deployment whose pod carries label app=NAME, with
// the container spec lines given (indented under the container).
func Deployment(ns, name string, container ...string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
  namespace: ` + ns + `
spec:
  selector:
    matchLabels: {app: ` + name + `}
  template:
    metadata:
      labels: {app: ` + name + `}
    spec:
      containers:
      - name: main
        image: example/` + name + `:1.0
` + Indent(strings.Join(container, "\n"), "        ")
}

// Service returns a Service selecting app=NAME, with the ports given, by
// default port 80 to targetPort 8080 named http.
func Service(ns, name string, ports ...string) string {
	if len(ports) == 0 {
		ports = []string{"{port: 80, targetPort: 8080, name: http}"}
	}
	return `apiVersion: v1
kind: Service
metadata:
  name: ` + name + `
  namespace: ` + ns + `
spec:
  selector: {app: ` + name + `}
  ports: [` + strings.Join(ports, ", ") + `]`
}

// Indent puts prefix before every line of s.
func Indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

// Env renders an env list from name, value pairs.
func Env(pairs ...string) string {
	out := "env:"
	for i := 0; i+1 < len(pairs); i += 2 {
		out += "\n- name: " + pairs[i] + "\n  value: \"" + pairs[i+1] + "\""
	}
	return out
}

// EdgeIDs lists the graph's edge IDs, sorted.
func EdgeIDs(g *model.Graph) []string {
	var ids []string
	for _, e := range g.Edges {
		ids = append(ids, e.ID)
	}
	sort.Strings(ids)
	return ids
}

// Edge returns the edge with id, failing the test when there is none.
func Edge(t testing.TB, g *model.Graph, id string) model.Edge {
	t.Helper()
	for _, e := range g.Edges {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("no edge %s; edges: %v", id, EdgeIDs(g))
	return model.Edge{}
}

// DanglingTargets lists the graph's dangling references as
// "FROM => TARGET", sorted.
func DanglingTargets(g *model.Graph) []string {
	var out []string
	for _, d := range g.Dangling {
		out = append(out, d.From+" => "+d.Target)
	}
	sort.Strings(out)
	return out
}
