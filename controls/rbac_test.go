package controls_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
)

// withAccount is a Deployment that runs as the service account sa.
func withAccount(ns, name, sa string) string {
	d := modeltest.Deployment(ns, name)
	if sa == "" {
		return d
	}
	return strings.Replace(d, "    spec:\n      containers:", "    spec:\n      serviceAccountName: "+sa+"\n      containers:", 1)
}

// grants renders a workload's permissions as "BINDING: ROLE verbs resources".
func grants(t *testing.T, g *model.Graph, id string) []string {
	t.Helper()
	n := g.Node(id)
	if n == nil || n.Workload == nil {
		t.Fatalf("no workload %s", id)
	}
	var out []string
	for _, p := range n.Workload.Permissions {
		out = append(out, p.Binding+": "+p.Role+" "+strings.Join(p.Verbs, ",")+" "+strings.Join(p.Resources, ",")+" @"+p.Scope)
	}
	return out
}

const secretReader = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: secret-reader, namespace: shop}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list]
- nonResourceURLs: [/metrics]
  verbs: [get]`

func TestRBACResolvesBindingsToWorkloads(t *testing.T) {
	tests := []struct {
		name    string
		docs    []string
		id      string
		want    []string
		dangles []string
	}{
		{"RoleBinding subject namespace defaults to the binding's", []string{
			withAccount("shop", "api", "api"), secretReader,
			`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: secret-reader}
subjects: [{kind: ServiceAccount, name: api}]`,
		}, "workload:shop/api", []string{"RoleBinding shop/read: Role shop/secret-reader get,list secrets @shop"}, nil},
		{"an unset service account is default", []string{
			withAccount("shop", "api", ""), secretReader,
			`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: secret-reader}
subjects: [{kind: ServiceAccount, name: default, namespace: shop}]`,
		}, "workload:shop/api", []string{"RoleBinding shop/read: Role shop/secret-reader get,list secrets @shop"}, nil},
		{"another namespace's account is not bound", []string{
			withAccount("shop", "api", "api"), secretReader,
			`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: secret-reader}
subjects: [{kind: ServiceAccount, name: api, namespace: other}]`,
		}, "workload:shop/api", nil, nil},
		{"ClusterRoleBinding to built-in cluster-admin", []string{
			withAccount("ops", "tool", "tool"),
			`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: tool-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: tool, namespace: ops}]`,
		}, "workload:ops/tool", []string{"ClusterRoleBinding tool-admin: ClusterRole cluster-admin * * @cluster"}, nil},
		{"group of all service accounts in a namespace", []string{
			withAccount("ops", "tool", "tool"),
			`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pod-maker}
rules: [{apiGroups: [""], resources: [pods], verbs: [create]}]`,
			`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: everyone, namespace: ops}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: pod-maker}
subjects: [{kind: Group, name: "system:serviceaccounts:ops", apiGroup: rbac.authorization.k8s.io}]`,
		}, "workload:ops/tool", []string{"RoleBinding ops/everyone: ClusterRole pod-maker create pods @ops"}, nil},
		{"group of every service account, and the user form of an account", []string{
			withAccount("ops", "tool", "tool"),
			`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: all}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {kind: Group, name: "system:serviceaccounts", apiGroup: rbac.authorization.k8s.io}
- {kind: User, name: "system:serviceaccount:ops:tool", apiGroup: rbac.authorization.k8s.io}`,
		}, "workload:ops/tool", []string{
			"ClusterRoleBinding all: ClusterRole view get,list,watch pods,pods/log,pods/status,services,endpoints,configmaps,persistentvolumeclaims,serviceaccounts,events,namespaces,replicationcontrollers @cluster",
			"ClusterRoleBinding all: ClusterRole view get,list,watch deployments,replicasets,statefulsets,daemonsets @cluster",
			"ClusterRoleBinding all: ClusterRole view get,list,watch jobs,cronjobs @cluster",
		}, nil},
		{"aggregated ClusterRole", []string{
			withAccount("ops", "tool", "tool"),
			`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: monitoring}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {rbac.example.com/aggregate-to-monitoring: "true"}}]
rules: []`,
			`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: monitoring-endpoints, labels: {rbac.example.com/aggregate-to-monitoring: "true"}}
rules: [{apiGroups: [""], resources: [endpoints], verbs: [list]}]`,
			`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: mon}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: monitoring}
subjects: [{kind: ServiceAccount, name: tool, namespace: ops}]`,
		}, "workload:ops/tool", []string{"ClusterRoleBinding mon: ClusterRole monitoring list endpoints @cluster"}, nil},
		{"a missing role is dangling", []string{
			withAccount("shop", "api", "api"),
			`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: nowhere}
subjects: [{kind: ServiceAccount, name: api}]`,
		}, "workload:shop/api", nil, []string{"RoleBinding shop/read => Role shop/nowhere"}},
		{"other system roles are known but their rules are not", []string{
			withAccount("ops", "tool", "tool"),
			`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: delegator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:auth-delegator"}
subjects: [{kind: ServiceAccount, name: tool, namespace: ops}]`,
		}, "workload:ops/tool", []string{"ClusterRoleBinding delegator: ClusterRole system:auth-delegator   @cluster"}, nil},
		{"the default bindings every cluster has grant nothing of the workload's own", []string{
			withAccount("ops", "tool", "tool"),
			`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:basic-user", labels: {kubernetes.io/bootstrapping: rbac-defaults}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:basic-user"}
subjects: [{kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}]`,
		}, "workload:ops/tool", nil, nil},
		{"a default binding edited to grant more is a grant", []string{
			withAccount("ops", "tool", "tool"),
			`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:basic-user", labels: {kubernetes.io/bootstrapping: rbac-defaults}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}]`,
		}, "workload:ops/tool", []string{"ClusterRoleBinding system:basic-user: ClusterRole cluster-admin * * @cluster"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, tc.docs...)
			if got := grants(t, g, tc.id); !slices.Equal(got, tc.want) {
				t.Errorf("permissions:\n got %q\nwant %q", got, tc.want)
			}
			if got := modeltest.DanglingTargets(g); !slices.Equal(got, tc.dangles) {
				t.Errorf("dangling = %v, want %v", got, tc.dangles)
			}
		})
	}
}

func TestRBACEvidencePointsAtTheBinding(t *testing.T) {
	g := build(t, withAccount("shop", "api", "api"), secretReader, `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: secret-reader}
subjects:
- kind: ServiceAccount
  name: api`)
	ps := g.Node("workload:shop/api").Workload.Permissions
	if len(ps) != 1 {
		t.Fatalf("permissions = %+v", ps)
	}
	ev := ps[0].Evidence
	// Documents: deployment (17 lines), ---, Role (9 lines), ---, binding from line 29.
	if ev.File != "test.yaml" || ev.Line != 34 || ev.Object != "RoleBinding shop/read" || ev.Field != "subjects[0]" {
		t.Errorf("evidence = %+v", ev)
	}
	if !strings.Contains(ev.Detail, "ServiceAccount shop/api") || !strings.Contains(ev.Detail, "rule at test.yaml:23") {
		t.Errorf("detail = %q", ev.Detail)
	}
}

func TestServiceAccountTokenControl(t *testing.T) {
	account := func(automount string) string {
		return "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: api, namespace: shop}\nautomountServiceAccountToken: " + automount
	}
	tests := []struct {
		name string
		docs []string
		want bool
	}{
		{"account disables the token", []string{withAccount("shop", "api", "api"), account("false")}, true},
		{"account mounts the token", []string{withAccount("shop", "api", "api"), account("true")}, false},
		{"pod overrides the account", []string{
			strings.Replace(withAccount("shop", "api", "api"), "serviceAccountName: api", "serviceAccountName: api\n      automountServiceAccountToken: true", 1),
			account("false"),
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, tc.docs...)
			got := slices.ContainsFunc(g.Controls, func(c model.Control) bool {
				return c.ID == controls.ServiceAccountTokenNotMounted+"@workload:shop/api"
			})
			if got != tc.want {
				t.Errorf("token control = %v, want %v; controls %+v", got, tc.want, g.Controls)
			}
		})
	}
}

// TestRBACOnKubernetesGoat: the goat's hunger-check runs as big-monolith-sa,
// which a RoleBinding gives get/watch/list on every core resource; no other
// workload of the goat holds permissions. (Its cluster-admin binding names
// kube-system/superadmin, which no scanned workload runs as.)
func TestRBACOnKubernetesGoat(t *testing.T) {
	g := scanCorpus(t, manifests.Request{Paths: []string{filepath.Join(discovertest.CorpusDir(t), "kubernetes-goat")}})
	for _, n := range g.Nodes {
		if n.Workload == nil {
			continue
		}
		got := grants(t, g, n.ID)
		if n.ID != "workload:big-monolith/hunger-check-deployment" {
			if len(got) > 0 {
				t.Errorf("%s holds %v", n.ID, got)
			}
			continue
		}
		want := []string{"RoleBinding big-monolith/secret-reader-binding: Role big-monolith/secret-reader get,watch,list * @big-monolith"}
		if !slices.Equal(got, want) {
			t.Errorf("hunger-check permissions = %q, want %q", got, want)
		}
		ev := n.Workload.Permissions[0].Evidence
		if !strings.HasSuffix(ev.File, "hunger-check/deployment.yaml") || ev.Line != 24 {
			t.Errorf("evidence = %s", ev.Location())
		}
	}
}

// TestSubjectNamespaceHint: a binding that names argocd/ctrl while the
// workload running as ctrl was defined without a namespace asks for
// -n argocd, in the scan's warnings and the idle-identity evidence; a
// workload that declares its namespace asks for nothing.
func TestSubjectNamespaceHint(t *testing.T) {
	const rbac = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ctrl}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ctrl}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ctrl}
subjects: [{kind: ServiceAccount, name: ctrl, namespace: argocd}]
`
	deployment := func(meta string) string {
		return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ctrl` + meta + `}
spec:
  selector: {matchLabels: {app: ctrl}}
  template:
    metadata: {labels: {app: ctrl}}
    spec:
      serviceAccountName: ctrl
      containers: [{name: ctrl, image: ctrl:1}]
`
	}
	idleDetail := func(g *model.Graph) string {
		for _, c := range g.Controls {
			if c.Type == controls.WeaknessIdleFullAccess {
				return c.Evidence[0].Detail
			}
		}
		return ""
	}

	g := build(t, rbac, deployment(""))
	hints := model.NamespaceHints(g)
	if len(hints) != 1 || !strings.Contains(hints[0], "1 RBAC subject names a service account in namespace \"argocd\"") || !strings.Contains(hints[0], "-n argocd") {
		t.Errorf("hints %q, want one asking for -n argocd", hints)
	}
	if d := idleDetail(g); !strings.Contains(d, "scan with -n argocd") {
		t.Errorf("idle identity detail %q does not say to scan with -n argocd", d)
	}

	g = build(t, rbac, deployment(", namespace: tools"))
	if hints := model.NamespaceHints(g); len(hints) != 0 {
		t.Errorf("a workload with its own namespace gave hints %q", hints)
	}
	if d := idleDetail(g); d == "" || strings.Contains(d, "-n ") {
		t.Errorf("idle identity detail %q: want the finding without a -n hint", d)
	}
}
