package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/export"
)

// kustomizeBase is a small app: a web front end calling an API.
const kustomizeBase = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: ghcr.io/example/web:1.0
        env:
        - {name: API_URL, value: "http://api:8080"}
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: ghcr.io/example/api:2.0
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: ledger, namespace: shop}
spec:
  selector: {app: ledger}
  ports: [{port: 9090}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ledger, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: ledger}}
  template:
    metadata: {labels: {app: ledger}}
    spec:
      containers:
      - name: ledger
        image: ghcr.io/example/ledger:3.0
        ports: [{containerPort: 9090}]
`

// kustomizeOverlay is the production overlay: a newer web image, an
// API that now calls the ledger, and a NetworkPolicy admitting only the
// web front end to the API.
const kustomizeOverlay = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../base, policy.yaml]
images:
- {name: ghcr.io/example/web, newTag: "1.1"}
patches:
- target: {kind: Deployment, name: api}
  patch: |-
    - op: add
      path: /spec/template/spec/containers/0/env
      value: [{name: LEDGER_URL, value: "http://ledger:9090"}]
`

const kustomizePolicy = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
`

// TestDiffKustomizeBaseAndOverlay: a kustomize base and its overlay, two
// targets in one store, differ by exactly what the overlay changes and the
// findings and controls that follow; without --any-target the diff is
// refused.
func TestDiffKustomizeBaseAndOverlay(t *testing.T) {
	root := t.TempDir()
	base, overlay := filepath.Join(root, "base"), filepath.Join(root, "overlay")
	writeFile(t, filepath.Join(base, "app.yaml"), kustomizeBase)
	writeFile(t, filepath.Join(base, "kustomization.yaml"), "resources: [app.yaml]\n")
	writeFile(t, filepath.Join(overlay, "kustomization.yaml"), kustomizeOverlay)
	writeFile(t, filepath.Join(overlay, "policy.yaml"), kustomizePolicy)
	c := newCLI(t)
	c.mustRun("scan", "-k", base)
	c.mustRun("scan", "-k", overlay)

	r := c.run("", "diff", "1", "2")
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); r.code != exitUsage || len(lines) != 1 || !strings.Contains(r.stderr, "different targets") || !strings.Contains(r.stderr, "--any-target") {
		t.Errorf("diff of two targets without --any-target: exit %d, want %d and one line naming --any-target\n%s", r.code, exitUsage, r.stderr)
	}

	d := diffJSON(t, c, "1", "2", "--any-target")
	if d.SameTarget || d.Old.Target != "kustomize "+base || d.New.Target != "kustomize "+overlay {
		t.Errorf("header: same target %v, %q → %q", d.SameTarget, d.Old.Target, d.New.Target)
	}
	elementID := func(e export.DiffElement) string { return e.ID }
	flowID := func(e export.DiffFlow) string { return e.ID }
	check(t, "elements added", idsOf(d.Elements.Added, elementID), []string{})
	check(t, "elements removed", idsOf(d.Elements.Removed, elementID), []string{})
	check(t, "elements changed", changed(d.Elements.Changed), []string{"workload:shop/web container web image: ghcr.io/example/web:1.0 → ghcr.io/example/web:1.1"})
	// The env var the patch adds names the ledger's Service: a new callee.
	check(t, "flows added", idsOf(d.Flows.Added, flowID), []string{"workload:shop/api->workload:shop/ledger:9090"})
	check(t, "flows removed", idsOf(d.Flows.Removed, flowID), []string{})
	check(t, "flows changed", changed(d.Flows.Changed), []string{"workload:shop/web->workload:shop/api:8080 policy: unrestricted → allowed"})
	check(t, "controls gained", idsOf(d.Controls.Gained, func(c export.DiffControl) string { return c.ID }), []string{
		"network-policy-ingress-restricted@workload:shop/api",
		"network-policy@workload:shop/api",
	})
	check(t, "controls lost", idsOf(d.Controls.Lost, func(c export.DiffControl) string { return c.ID }), []string{})
	findingID := func(f export.DiffFinding) string { return f.ID + " " + string(f.Severity) }
	// The ledger, now called, is worth a disruption budget; the new flow
	// is plaintext and, as the ledger's name suggests financial data,
	// carries it without a trace of who sent it.
	check(t, "findings new", idsOf(d.Findings.New, findingID), []string{
		"no-disruption-budget@workload:shop/ledger medium",
		"plaintext-flow-between-workloads@workload:shop/api->workload:shop/ledger:9090 medium",
		"unattributable-sensitive-flow@workload:shop/api->workload:shop/ledger:9090 high",
	})
	check(t, "findings fixed", idsOf(d.Findings.Fixed, findingID), []string{})
	check(t, "findings changed", idsOf(d.Findings.Changed, findingID), []string{})
}
