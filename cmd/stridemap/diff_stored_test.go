package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

// chain is an app of two workloads behind an Ingress: entry calls backend.
const chain = `apiVersion: apps/v1
kind: Deployment
metadata: {name: entry, namespace: app}
spec:
  selector: {matchLabels: {app: entry}}
  template:
    metadata: {labels: {app: entry}}
    spec:
      containers:
        - name: entry
          image: example.org/entry:1
          env: [{name: BACKEND_URL, value: "http://backend:8080"}]
          ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: entry, namespace: app}
spec:
  selector: {app: entry}
  ports: [{port: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend, namespace: app}
spec:
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec:
      containers:
        - name: backend
          image: example.org/backend:1
          ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: app}
spec:
  selector: {app: backend}
  ports: [{port: 8080}]
`

const chainIngress = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: entry, namespace: app}
spec:
  rules:
    - http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: entry, port: {number: 8080}}}}
`

// TestCompareStoredIsCompare: the drift diff computes from what two scans
// do not share is the drift of the two whole scans, for every ordered pair
// of real scans: of the demo, released, changed, rescanned as it was, with
// a triage decision in force; and of an app with and without its Ingress,
// whose backend is stored unchanged in both yet is reachable from the
// internet only in the first.
func TestCompareStoredIsCompare(t *testing.T) {
	c := newCLI(t)
	dir := copyDemo(t)
	c.mustRun("scan", "-f", dir)
	discovertest.ChangeDemo(t, dir)
	c.mustRun("scan", "-f", dir)
	c.mustRun("scan", "-f", dir) // the same release again
	c.mustRun("triage", "container-privileged@workload:shop/cart", "--status", "accepted", "--reason", "needs the host's devices")
	app := filepath.Join(t.TempDir(), "app.yaml")
	if err := os.WriteFile(app, []byte(chain+"---\n"+chainIngress), 0o644); err != nil {
		t.Fatal(err)
	}
	c.run("", "scan", "-f", app)
	if err := os.WriteFile(app, []byte(chain), 0o644); err != nil {
		t.Fatal(err)
	}
	c.run("", "scan", "-f", app)

	ctx := context.Background()
	s, err := store.OpenExisting(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reachOnly := 0 // shared elements whose reachability changed
	scans, err := s.Scans(ctx)
	if err != nil || len(scans) != 5 {
		t.Fatalf("%d scans (%v), want 5", len(scans), err)
	}
	for before := int64(1); before <= 5; before++ {
		for after := int64(1); after <= 5; after++ {
			if before == after {
				continue
			}
			b, a, err := threats.LoadPair(ctx, s, before, after)
			if err != nil {
				t.Fatal(err)
			}
			want := threats.Compare(b, a)
			got, err := threats.CompareStored(ctx, s, before, after)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("scans %d → %d: CompareStored\n%+v\nwant Compare's\n%+v", before, after, got, want)
			}
			for _, n := range got.NodesChanged {
				if n.ID == "workload:app/backend" && len(n.Changes) == 1 && n.Changes[0].Field == "reachable from the internet" {
					reachOnly++
				}
			}
		}
	}
	if reachOnly == 0 {
		t.Error("no pair of scans changed only an element's reachability: the test does not try it")
	}
	if _, err := threats.CompareStored(ctx, s, 1, 99); err == nil {
		t.Error("CompareStored with an unknown scan: no error")
	}
}
