package pipeline_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/cluster/clustertest"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/pipeline"
)

// TestLiveScanWithoutNetworkPolicies scans a real API server as an
// identity that may read every kind but NetworkPolicies. The shop's data
// store is guarded by a policy the identity cannot see: the scan must not
// claim it reachable by any workload, nor the namespace without a
// default-deny policy; it stores the gap, lists those rules as not
// assessed, and is partial. An identity that reads everything sees the
// policy, as a check that the test can tell the difference.
func TestLiveScanWithoutNetworkPolicies(t *testing.T) {
	const shop = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: example/web:1, env: [{name: DB_URL, value: "postgres://db:5432/shop"}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres:16, ports: [{containerPort: 5432}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]
`
	const (
		reachable = "datastore-reachable-by-any-workload@workload:shop/db"
		denyAll   = "namespace-without-default-deny-ingress@boundary:namespace:shop"
	)
	srv := clustertest.Start(t)
	srv.Apply(t, "shop", []byte(shop))
	reader := readerWithout(t, srv, "networking.k8s.io", "ingresses", "ingressclasses")
	ctx := context.Background()
	dir := t.TempDir()
	scan := func(kubeconfig string) *pipeline.Result {
		t.Helper()
		res, err := pipeline.Scan(ctx, pipeline.Env{Store: filepath.Join(dir, "s.db"), ToolVersion: "test", Report: &recorder{}},
			pipeline.Request{Cluster: &cluster.Request{Kubeconfig: kubeconfig}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	full := scan(srv.Kubeconfig)
	if slices.Contains(findingIDs(full), reachable) || !slices.Contains(findingIDs(full), denyAll) || len(full.NotAssessed) != 0 || len(full.Graph.Gaps) != 0 {
		t.Fatalf("full read: findings %v, not assessed %v, gaps %v; want the policy seen, the namespace without default deny, no gaps", findingIDs(full), full.NotAssessed, full.Graph.Gaps)
	}

	partial := scan(reader)
	sameContentHash(t, full)
	sameContentHash(t, partial)
	if !partial.Partial() || !partial.Scan.Partial {
		t.Errorf("a scan that could not read NetworkPolicies is not partial")
	}
	wantGap := discover.Gap{Group: "networking.k8s.io", Kind: "NetworkPolicy", Reason: "forbidden"}
	for _, id := range []string{reachable, denyAll} {
		if slices.Contains(findingIDs(partial), id) {
			t.Errorf("finding %s raised although NetworkPolicies could not be read", id)
		}
	}
	for _, f := range partial.Findings {
		if f.MissingControl == "network-policy-ingress-restricted" || strings.HasPrefix(f.MissingControl, "network-policy-default-deny") {
			t.Errorf("finding %s claims a NetworkPolicy missing", f.ID)
		}
	}

	// What the store holds: the gap with the graph, the rules not
	// assessed beside the findings, never among them.
	s, err := store.Open(ctx, partial.StorePath)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g, err := s.Graph(ctx, partial.Scan.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(g.Gaps, wantGap) {
		t.Errorf("stored gaps %v, want %v among them", g.Gaps, wantGap)
	}
	notAssessed, err := s.NotAssessed(ctx, partial.Scan.ID)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, n := range notAssessed {
		reasons[n.ID()] = n.Reason()
	}
	for _, id := range []string{reachable, denyAll} {
		if want := "not assessed: NetworkPolicy.networking.k8s.io could not be read (forbidden)"; reasons[id] != want {
			t.Errorf("stored not-assessed %s: %q, want %q", id, reasons[id], want)
		}
	}
	info, err := s.Scan(ctx, partial.Scan.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.Counts.NotAssessed != len(notAssessed) || info.Counts.Findings != len(partial.Findings) || info.Counts.Gaps != len(g.Gaps) {
		t.Errorf("counts %+v: want %d not assessed apart from %d findings, %d gaps", info.Counts, len(notAssessed), len(partial.Findings), len(g.Gaps))
	}
	stored, err := s.Findings(ctx, partial.Scan.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range stored {
		if _, ok := reasons[f.ID]; ok {
			t.Errorf("%s stored as a finding and as not assessed", f.ID)
		}
	}
}

// readerWithout is a kubeconfig for an identity bound to a ClusterRole
// that may get and list every kind a live scan reads, but in group only
// the resources allowed: RBAC cannot deny, so the rest of the group is
// left out.
func readerWithout(t *testing.T, srv *clustertest.Server, group string, allowed ...string) string {
	t.Helper()
	var groups []string
	for _, k := range pipeline.LiveKinds() {
		if k.Group != group && !slices.Contains(groups, k.Group) {
			groups = append(groups, k.Group)
		}
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "reads-all-but-some-of-" + group},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: groups, Resources: []string{"*"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{group}, Resources: allowed, Verbs: []string{"get", "list"}},
		}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "scanner"}}}
	rbac := srv.Client(t).RbacV1()
	ctx := context.Background()
	if _, err := rbac.ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return srv.KubeconfigFor(t, "scanner")
}

func findingIDs(r *pipeline.Result) (out []string) {
	for _, f := range r.Findings {
		out = append(out, f.ID)
	}
	return out
}
