package catalog_test

import (
	"strings"
	"testing"

	"github.com/stridemap/stridemap/catalog"
)

// TestCatalogCoverage holds the built-in catalog to its promise: at least
// 80 rules, at least 6 per STRIDE category, and a rule for every control
// microservice security guidance asks for.
func TestCatalogCoverage(t *testing.T) {
	c, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rules) < 80 {
		t.Errorf("%d rules, want at least 80", len(c.Rules))
	}
	per := map[catalog.Stride]int{}
	for _, r := range c.Rules {
		per[r.Stride]++
	}
	for _, s := range catalog.Strides {
		if per[s] < 6 {
			t.Errorf("%s has %d rules, want at least 6", s, per[s])
		}
	}
	// Each topic names rules that must exist; renaming one is a deliberate act.
	topics := map[string][]string{
		"zero trust, every request authenticated":   {"internet-entry-unauthenticated", "no-authorization-policy"},
		"mutual TLS between services":               {"no-mutual-tls", "in-cluster-flow-without-mtls"},
		"gateway as single entry, with authn":       {"exposed-around-gateway", "exposed-without-gateway", "jwt-not-required"},
		"rate limiting and access logs":             {"internet-entry-without-rate-limit", "gateway-without-access-logs"},
		"RBAC least privilege":                      {"rbac-full-access", "rbac-wildcard", "rbac-reads-secrets", "rbac-pod-exec", "rbac-escalate-or-bind", "rbac-impersonation"},
		"token automount, one identity per service": {"service-account-token-automounted", "shared-service-account", "default-service-account"},
		"network segmentation":                      {"namespace-without-default-deny-ingress", "datastore-reachable-by-any-workload", "namespace-without-default-deny-egress"},
		"secrets management":                        {"literal-secret-in-env", "credentials-in-configmap", "secrets-in-env-vars", "no-external-secret-store"},
		"encryption in transit and at rest":         {"unencrypted-flow-to-datastore", "internet-entry-without-tls", "datastore-unencrypted-at-rest"},
		"container hardening":                       {"container-runs-as-root", "writable-root-filesystem", "privilege-escalation-allowed", "dangerous-capabilities-added", "container-privileged", "host-namespaces-shared", "host-path-sensitive", "no-seccomp-profile"},
		"supply chain":                              {"image-not-pinned-by-digest", "image-tag-mutable", "image-from-docker-hub", "no-admission-policy"},
		"resilience":                                {"no-resource-limits", "no-health-probes", "single-replica", "no-disruption-budget", "datastore-without-backup"},
		"logging, metrics, tracing, audit":          {"no-centralised-logging", "no-cluster-monitoring", "no-alerting", "no-distributed-tracing", "sensitive-datastore-without-audit-log"},
		"attack paths":                              {"attack-path-to-sensitive-data"},
	}
	for topic, ids := range topics {
		for _, id := range ids {
			if c.Rule(id) == nil {
				t.Errorf("%s: no rule %s", topic, id)
			}
		}
	}
	// Rule text is what a reviewer reads: it must say something.
	for _, r := range c.Rules {
		if len(strings.Fields(r.Description)) < 12 || len(strings.Fields(r.Mitigation)) < 8 {
			t.Errorf("%s: description or mitigation too thin to act on", r.ID)
		}
	}
}
