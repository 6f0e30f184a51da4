package threats_test

import (
	"testing"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/threats"
)

// TestGapsLeaveRulesNotAssessed: where NetworkPolicies could not be read,
// the shop's data store and namespace are not reported as lacking them;
// the rules are listed as not assessed instead, with the reason. Rules
// that do not depend on the gap still fire, and a gap elsewhere changes
// nothing.
func TestGapsLeaveRulesNotAssessed(t *testing.T) {
	c := loadCatalog(t)
	netpol := func(ns string) discover.Gap {
		return discover.Gap{Group: "networking.k8s.io", Kind: "NetworkPolicy", Namespace: ns, Reason: "forbidden"}
	}
	const (
		reachable = "datastore-reachable-by-any-workload@workload:shop/db"
		denyAll   = "namespace-without-default-deny-ingress@boundary:namespace:shop"
		limits    = "no-resource-limits@workload:shop/orders"
		admission = "no-admission-policy@boundary:cluster"
	)
	tests := []struct {
		name              string
		gaps              []discover.Gap
		found, unassessed []string
		reason            string // of the first not-assessed entry
	}{
		{name: "no gap", found: []string{reachable, denyAll, limits, admission}},
		{name: "NetworkPolicies forbidden everywhere", gaps: []discover.Gap{netpol("")},
			found: []string{limits, admission}, unassessed: []string{reachable, denyAll},
			reason: "not assessed: NetworkPolicy.networking.k8s.io could not be read (forbidden)"},
		{name: "NetworkPolicies forbidden in the shop", gaps: []discover.Gap{netpol("shop")},
			found: []string{limits, admission}, unassessed: []string{reachable, denyAll},
			reason: "not assessed: NetworkPolicy.networking.k8s.io in namespace shop could not be read (forbidden)"},
		{name: "NetworkPolicies forbidden in another namespace", gaps: []discover.Gap{netpol("billing")},
			found: []string{reachable, denyAll, limits, admission}},
		{name: "Cilium policies failed", gaps: []discover.Gap{{Group: "cilium.io", Kind: "CiliumClusterwideNetworkPolicy", Reason: "the server answered 503"}},
			found: []string{limits, admission}, unassessed: []string{reachable, denyAll}},
		{name: "LimitRanges forbidden: a rule's needs", gaps: []discover.Gap{{Kind: "LimitRange", Namespace: "shop", Reason: "forbidden"}},
			found: []string{reachable, denyAll, admission}, unassessed: []string{limits}},
		{name: "cluster-scoped kind", gaps: []discover.Gap{{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy", Reason: "forbidden"}},
			found: []string{reachable, denyAll, limits}, unassessed: []string{admission}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := graphOf(t, map[string]string{"shop.yaml": shop})
			g.Gaps = tc.gaps
			a, err := threats.Assess(g, c)
			if err != nil {
				t.Fatal(err)
			}
			found := map[string]bool{}
			for _, f := range a.Findings {
				found[f.ID] = true
			}
			unassessed := map[string]string{}
			for _, n := range a.NotAssessed {
				if found[n.ID()] {
					t.Errorf("%s is both a finding and not assessed", n.ID())
				}
				unassessed[n.ID()] = n.Reason()
			}
			for _, id := range tc.found {
				if !found[id] {
					t.Errorf("finding %s missing", id)
				}
				if _, ok := unassessed[id]; ok {
					t.Errorf("%s not assessed, want a finding", id)
				}
			}
			for _, id := range tc.unassessed {
				if found[id] {
					t.Errorf("finding %s raised although what it depends on could not be read", id)
				}
				if _, ok := unassessed[id]; !ok {
					t.Errorf("%s is not listed as not assessed", id)
				}
			}
			if len(tc.gaps) == 0 && len(a.NotAssessed) > 0 {
				t.Errorf("without gaps, %d rules not assessed", len(a.NotAssessed))
			}
			if tc.reason != "" && unassessed[tc.unassessed[0]] != tc.reason {
				t.Errorf("reason = %q, want %q", unassessed[tc.unassessed[0]], tc.reason)
			}
			// Evaluate gives the same findings.
			findings, err := threats.Evaluate(g, c)
			if err != nil || len(findings) != len(a.Findings) {
				t.Errorf("Evaluate: %d findings, %v; Assess: %d", len(findings), err, len(a.Findings))
			}
		})
	}
}

// TestGapsKeepWhatWasSeen: a permission read in a binding is raised even
// when other RBAC objects could not be read, since reading them could only
// add permissions.
func TestGapsKeepWhatWasSeen(t *testing.T) {
	const admin = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: orders-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: everything}
subjects: [{kind: ServiceAccount, name: default, namespace: shop}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: everything}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
`
	g := graphOf(t, map[string]string{"shop.yaml": shop, "admin.yaml": admin})
	g.Gaps = []discover.Gap{{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding", Namespace: "shop", Reason: "forbidden"}}
	a, err := threats.Assess(g, loadCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	raised := 0
	for _, f := range a.Findings {
		if f.RuleID == "rbac-full-access" {
			raised++
		}
	}
	for _, n := range a.NotAssessed {
		if n.ID() == "rbac-full-access@workload:shop/orders" {
			t.Errorf("a permission that was read is not assessed: %s", n.Reason())
		}
	}
	if raised == 0 {
		t.Error("rbac-full-access is not raised on the workloads bound to the full-access role")
	}
}
