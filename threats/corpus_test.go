package threats_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

func corpusFindings(t *testing.T, c *catalog.Catalog, req manifests.Request) map[string]map[string]bool {
	t.Helper()
	inv, err := manifests.Collect(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	findings, err := threats.Evaluate(model.Build(inv, controls.Detectors()...), c)
	if err != nil {
		t.Fatal(err)
	}
	byRule := map[string]map[string]bool{} // rule → elements
	for _, f := range findings {
		if byRule[f.RuleID] == nil {
			byRule[f.RuleID] = map[string]bool{}
		}
		byRule[f.RuleID][f.Element] = true
	}
	return byRule
}

// TestCorpusFindings checks the real corpus the way a reviewer would: what
// is insecure is flagged, on the right elements, and hardening that is in
// place is not.
func TestCorpusFindings(t *testing.T) {
	corpus := discovertest.CorpusDir(t)
	c := loadCatalog(t)
	app := func(name string) manifests.Request {
		return manifests.Request{Paths: []string{filepath.Join(corpus, name)}}
	}

	goat := corpusFindings(t, c, app("kubernetes-goat"))
	for rule, elements := range map[string][]string{
		"container-privileged":             {"workload:default/health-check-deployment", "workload:default/system-monitor-deployment"},
		"host-path-sensitive":              {"workload:default/system-monitor-deployment"},
		"container-runtime-socket-mounted": {"workload:default/health-check-deployment"},
		"host-namespaces-shared":           {"workload:default/system-monitor-deployment"},
		"secret-value-in-manifests":        nil, // the vault key's value is committed with the manifests
		"rbac-reads-secrets":               {"workload:big-monolith/hunger-check-deployment"},
		"internet-entry-unauthenticated":   {"external:internet->workload:default/internal-proxy-deployment:30003"},
		"idle-identity-with-full-access":   {"boundary:cluster"}, // insecure-rbac: cluster-admin for kube-system/superadmin
	} {
		assertFired(t, "kubernetes-goat", goat, rule, elements)
	}

	boutique := corpusFindings(t, c, app("online-boutique"))
	for rule, elements := range map[string][]string{
		"namespace-without-default-deny-ingress": {"boundary:namespace:default"},
		"datastore-reachable-by-any-workload":    {"workload:default/redis-cart"},
		"internet-entry-unauthenticated":         {"external:internet->workload:default/frontend:80"},
		"exposed-without-gateway":                {"workload:default/frontend"},
		"redis-without-auth":                     {"workload:default/redis-cart"}, // redis:alpine, no requirepass, behind Service redis-cart
	} {
		assertFired(t, "online-boutique", boutique, rule, elements)
	}
	// Online Boutique runs non-root, read-only, capability-dropped pods
	// without privilege escalation: none of that may be reported.
	for _, rule := range []string{"container-runs-as-root", "writable-root-filesystem", "capabilities-not-dropped", "privilege-escalation-allowed", "container-privileged", "no-health-probes", "no-readiness-probe", "no-liveness-probe"} {
		if len(boutique[rule]) > 0 {
			t.Errorf("online-boutique: %s fired on %v, but that hardening is in place", rule, keys(boutique[rule]))
		}
	}

	// sock-shop writes database passwords into env literals.
	sock := corpusFindings(t, c, app("sock-shop"))
	assertFired(t, "sock-shop", sock, "literal-secret-in-env", []string{"workload:sock-shop/catalogue-db"})

	// With its NetworkPolicies, Online Boutique's segmentation findings
	// become detected controls.
	withPolicies := corpusFindings(t, c, manifests.Request{
		Paths:     []string{filepath.Join(corpus, "online-boutique")},
		Kustomize: []string{filepath.Join(corpus, "online-boutique-policies", "network-policies")},
	})
	for _, rule := range []string{"namespace-without-default-deny-ingress", "namespace-without-default-deny-egress", "datastore-reachable-by-any-workload", "datastore-writable-by-any-workload"} {
		if len(boutique[rule]) == 0 {
			t.Errorf("online-boutique alone should have %s", rule)
		}
		if len(withPolicies[rule]) > 0 {
			t.Errorf("online-boutique with its policies still has %s on %v", rule, keys(withPolicies[rule]))
		}
	}
}

func assertFired(t *testing.T, app string, byRule map[string]map[string]bool, rule string, elements []string) {
	t.Helper()
	if len(byRule[rule]) == 0 {
		t.Errorf("%s: %s did not fire", app, rule)
		return
	}
	for _, e := range elements {
		if !byRule[rule][e] {
			t.Errorf("%s: %s did not fire on %s (fired on %v)", app, rule, e, keys(byRule[rule]))
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
