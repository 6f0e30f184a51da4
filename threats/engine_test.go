package threats_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

func graphOf(t *testing.T, files map[string]string) *model.Graph {
	t.Helper()
	return model.Build(discovertest.Inventory(t, files), controls.Detectors()...)
}

const shop = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: edge, namespace: shop}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: example/web:1
        env: [{name: ORDERS_ADDR, value: "orders:80"}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders, namespace: shop}
spec:
  selector: {matchLabels: {app: orders}}
  template:
    metadata: {labels: {app: orders}}
    spec:
      containers:
      - name: orders
        image: example/orders:1
        env: [{name: DB_URL, value: "postgres://db:5432/orders"}]
---
apiVersion: v1
kind: Service
metadata: {name: orders, namespace: shop}
spec: {selector: {app: orders}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: shop
  annotations: {stridemap.io/data: "pii, payment"}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres:16}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {selector: {app: db}, ports: [{port: 5432}]}
`

func findingsByID(t *testing.T, files map[string]string, dirs ...string) map[string]threats.Finding {
	t.Helper()
	c, err := catalog.Load(dirs...)
	if err != nil {
		t.Fatal(err)
	}
	findings, err := threats.Evaluate(graphOf(t, files), c)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]threats.Finding{}
	for i, f := range findings {
		if i > 0 && findings[i-1].ID >= f.ID {
			t.Errorf("findings not in ID order: %s before %s", findings[i-1].ID, f.ID)
		}
		out[f.ID] = f
	}
	return out
}

// TestSeverityContext checks the raises: the entry point behind the gateway
// gets likelihood +1, the data store's PII raises impact for it and its
// direct client, and the service in between is left at the rule's base.
func TestSeverityContext(t *testing.T) {
	got := findingsByID(t, map[string]string{"shop.yaml": shop})
	tests := []struct {
		id                 string
		likelihood, impact int
		severity           threats.Severity
		raised             []string
	}{
		{"no-resource-limits@workload:shop/web", 3, 2, threats.High, []string{"directly reachable from the internet"}},
		{"no-resource-limits@workload:shop/orders", 2, 3, threats.High, []string{"touches payment, pii data"}},
		{"no-resource-limits@workload:shop/db", 2, 3, threats.High, []string{"touches payment, pii data"}},
	}
	for _, tc := range tests {
		f, ok := got[tc.id]
		if !ok {
			t.Errorf("missing finding %s", tc.id)
			continue
		}
		if f.Likelihood != tc.likelihood || f.Impact != tc.impact || f.Severity != tc.severity || !slices.Equal(f.Raised, tc.raised) {
			t.Errorf("%s: L%d I%d %s raised %q; want L%d I%d %s raised %q", tc.id, f.Likelihood, f.Impact, f.Severity, f.Raised,
				tc.likelihood, tc.impact, tc.severity, tc.raised)
		}
	}
}

func TestFindingShape(t *testing.T) {
	got := findingsByID(t, map[string]string{"shop.yaml": shop})
	f, ok := got["writable-root-filesystem@workload:shop/orders"]
	if !ok {
		t.Fatalf("missing finding; have %d findings", len(got))
	}
	if f.RuleID != "writable-root-filesystem" || f.Stride != catalog.Tampering || f.Element != "workload:shop/orders" ||
		f.ElementType != catalog.TargetProcess || f.Namespace != "shop" || f.MissingControl != "read-only-root-filesystem" ||
		f.Mitigation() == "" || len(f.References().CWE) == 0 {
		t.Errorf("finding = %+v", f)
	}
	if len(f.Evidence) < 2 || !strings.HasSuffix(f.Evidence[0].File, "shop.yaml") || f.Evidence[0].Line == 0 ||
		f.Evidence[1].Detail != "container orders does not set readOnlyRootFilesystem" {
		t.Errorf("evidence = %+v", f.Evidence)
	}
}

// TestFindingIDsAreStable: the same input gives the same IDs, and IDs do
// not depend on a rule's title (renaming a title must not break triage).
func TestFindingIDsAreStable(t *testing.T) {
	first := findingsByID(t, map[string]string{"shop.yaml": shop})
	dir := t.TempDir()
	writeFile(t, dir+"/retitle.yaml", "- id: writable-root-filesystem\n  title: Something else entirely\n")
	second := findingsByID(t, map[string]string{"shop.yaml": shop}, dir)
	if len(first) != len(second) {
		t.Fatalf("%d findings, then %d", len(first), len(second))
	}
	for id := range first {
		if _, ok := second[id]; !ok {
			t.Errorf("finding %s disappeared when a title changed", id)
		}
	}
	if second["writable-root-filesystem@workload:shop/orders"].Title() != "Something else entirely" {
		t.Error("the override did not apply")
	}
}

func TestUserRuleOverBudgetIsReportedNotFatal(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/slow.yaml", `
- id: expensive
  title: Expensive
  stride: D
  appliesTo: [process]
  condition: '[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, a+b+c+d+e > 0)))))'
  missingControl: none
  likelihood: low
  impact: low
  description: d
  mitigation: m
`)
	c, err := catalog.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	findings, err := threats.Evaluate(graphOf(t, map[string]string{"shop.yaml": shop}), c)
	if err == nil || !strings.Contains(err.Error(), "expensive") {
		t.Errorf("a rule over its cost limit should be reported, got %v", err)
	}
	if len(findings) == 0 {
		t.Error("the other rules' findings should still be returned")
	}
}
