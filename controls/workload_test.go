package controls_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
)

func TestControls(t *testing.T) {
	hardened := strings.Replace(modeltest.Deployment("shop", "api",
		"securityContext: {runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}",
		"resources: {limits: {cpu: 100m, memory: 64Mi}}",
		"livenessProbe: {httpGet: {path: /, port: 8080}}",
		"readinessProbe: {httpGet: {path: /, port: 8080}}",
		"env: [{name: API_KEY, valueFrom: {secretKeyRef: {name: api, key: key}}}]",
	), "      containers:", "      automountServiceAccountToken: false\n      containers:", 1)
	careless := modeltest.Deployment("shop", "legacy", "securityContext: {privileged: true}", modeltest.Env("API_TOKEN", "abc123"))
	g := build(t, hardened, careless, `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}`, `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: api, namespace: shop}
spec: {minAvailable: 1, selector: {matchLabels: {app: api}}}`)
	have := map[string]bool{}
	for _, c := range g.Controls {
		have[c.ID] = true
		for _, ev := range c.Evidence {
			if ev.File == "test.yaml" && ev.Line == 0 {
				t.Errorf("control %s has evidence without a line: %+v", c.ID, ev)
			}
		}
	}
	for _, want := range []string{
		"run-as-non-root@workload:shop/api", "read-only-root-filesystem@workload:shop/api", "no-privilege-escalation@workload:shop/api",
		"capabilities-dropped@workload:shop/api", "seccomp-profile@workload:shop/api", "resource-limits@workload:shop/api",
		"health-probes@workload:shop/api", "service-account-token-not-mounted@workload:shop/api", "secrets-from-secret-objects@workload:shop/api",
		"pod-disruption-budget@workload:shop/api", "network-policy@workload:shop/api", "network-policy@workload:shop/legacy",
		"network-policy-default-deny-ingress@boundary:namespace:shop", "network-policy-default-deny-egress@boundary:namespace:shop",
	} {
		if !have[want] {
			t.Errorf("missing control %s", want)
		}
	}
	for id := range have {
		if strings.HasSuffix(id, "@workload:shop/legacy") && !strings.HasPrefix(id, "network-policy") && id != "literal-credential@workload:shop/legacy" {
			t.Errorf("careless workload got control %s", id)
		}
	}
	// The weakness, not a control: the literal token, at its own line.
	if !have["literal-credential@workload:shop/legacy"] {
		t.Error("the literal API_TOKEN is not recorded as a literal-credential weakness")
	}
	legacy := g.Node("workload:shop/legacy")
	if env := legacy.Workload.Containers[0].Env; len(env) != 1 || !env[0].Sensitive || env[0].Source != model.EnvLiteral {
		t.Errorf("literal API_TOKEN should be flagged sensitive: %+v", env)
	}
	blob, _ := json.Marshal(g)
	if strings.Contains(string(blob), "abc123") {
		t.Error("a literal credential value reached the graph")
	}
}
