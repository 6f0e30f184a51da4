package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/stridemap/stridemap/discover/cluster/clustertest"
	"github.com/stridemap/stridemap/model"
)

const liveShop = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

const liveDebug = `apiVersion: apps/v1
kind: Deployment
metadata: {name: debug}
spec:
  selector: {matchLabels: {app: debug}}
  template:
    metadata: {labels: {app: debug}}
    spec: {containers: [{name: shell, image: busybox:1.37}]}
`

// TestScanLiveCLI: scan --live reads a real API server alone or beside the
// repository, lists what is on one side only, and tells partial access,
// no access and no server apart by exit code.
func TestScanLiveCLI(t *testing.T) {
	srv := clustertest.Start(t)
	srv.Apply(t, "shop", []byte(liveShop+"---\n"+liveDebug))
	c := newCLI(t)

	r := c.mustRun("scan", "--kubeconfig", srv.Kubeconfig, "-n", "shop", "--request-timeout", "20s", "--qps", "20", "--burst", "40")
	if want := "from the cluster at " + srv.URL; !strings.Contains(r.stdout, want) {
		t.Errorf("summary lacks %q:\n%s", want, r.stdout)
	}
	var g model.Graph
	if err := json.Unmarshal([]byte(c.mustRun("graph", "--format", "json").stdout), &g); err != nil {
		t.Fatal(err)
	}
	web := g.Node("workload:shop/web")
	if web == nil || g.Node("workload:shop/debug") == nil || len(g.Edges) != 0 {
		t.Fatalf("live graph: %d nodes, %d edges, web %v", len(g.Nodes), len(g.Edges), web)
	}
	if ev := web.Evidence[0]; ev.Version == "" || ev.File != srv.URL+"/apis/apps/v1/namespaces/shop/deployments/web" {
		t.Errorf("web's evidence is not the API object at its version: %+v", ev)
	}

	// The CronJob of deploy/ runs a command this CLI takes: the same
	// arguments, with the cluster kubectl's configuration names.
	args := cronJobArgs(t)
	for i, a := range args {
		if a == "/data/stridemap.db" {
			args[i] = filepath.Join(t.TempDir(), "cron.db")
		}
	}
	t.Setenv("KUBECONFIG", srv.Kubeconfig)
	var out, errOut strings.Builder
	if code := run(context.Background(), args, strings.NewReader(""), &out, &errOut); code != exitOK || !strings.Contains(out.String(), "from the cluster at "+srv.URL) {
		t.Errorf("the CronJob's stridemap %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	}

	// Declared and running side by side: what runs undeclared is listed.
	repo := filepath.Join(t.TempDir(), "shop.yaml")
	writeFile(t, repo, liveShop)
	r = c.mustRun("scan", "-f", repo, "--live", "--kubeconfig", srv.Kubeconfig, "-n", "shop")
	if want := "Only in the cluster (running, declared in no manifest read): 2\n  Namespace shop\n  Deployment shop/debug\n"; !strings.Contains(r.stdout, want) {
		t.Errorf("summary lacks %q:\n%s", want, r.stdout)
	}
	if strings.Contains(r.stdout, "Only in the repository") {
		t.Errorf("everything declared runs, yet:\n%s", r.stdout)
	}

	// An identity that may read one namespace, all but its NetworkPolicies:
	// stored, partial, the gap named, and the checks that needed them not
	// assessed rather than raised.
	ctx := context.Background()
	rbac := srv.Client(t).RbacV1()
	deny := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "reader"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"", "apps"}, Resources: []string{"services", "deployments", "configmaps", "secrets", "serviceaccounts", "pods"}, Verbs: []string{"list"}},
	}}
	if _, err := rbac.Roles("shop").Create(ctx, deny, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.RoleBindings("shop").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "shop-reader"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r = c.run("", "scan", "--kubeconfig", srv.KubeconfigFor(t, "shop-reader"), "-n", "shop")
	if r.code != exitPartial || !strings.Contains(r.stdout, "Coverage gaps") || !strings.Contains(r.stdout, "NetworkPolicy.networking.k8s.io in namespace shop: forbidden") {
		t.Errorf("read without NetworkPolicies: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	const denyAll = "namespace-without-default-deny-ingress"
	if f := c.mustRun("findings").stdout; strings.Contains(f, denyAll) {
		t.Errorf("a scan that could not read NetworkPolicies claims none exists:\n%s", f)
	}
	if f := c.mustRun("findings", "--not-assessed").stdout; !strings.Contains(f, denyAll) {
		t.Errorf("findings --not-assessed lacks %s:\n%s", denyAll, f)
	}

	// No access at all: nothing read, nothing stored, and each kind named.
	before := storedScans(t, c)
	r = c.run("", "scan", "--kubeconfig", srv.KubeconfigFor(t, "nobody"))
	if r.code != exitUsage || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "may list none of the") {
		t.Errorf("no access: exit %d\n%s", r.code, r.stderr)
	}
	// No server: one line naming it.
	gone := unreachableKubeconfig(t)
	r = c.run("", "scan", "--kubeconfig", gone)
	if r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "cannot reach the Kubernetes API server at https://127.0.0.1:1 (context gone of kubeconfig "+gone+")") {
		t.Errorf("no server: exit %d\n%s", r.code, r.stderr)
	}
	if after := storedScans(t, c); after != before {
		t.Errorf("failed live scans stored %d scans", after-before)
	}
}

// TestScanLiveUsage: the flags of a live scan that contradict each other
// are refused before anything is read.
func TestScanLiveUsage(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"scan"}, "or read the cluster with --live"},
		{[]string{"scan", "--live", "-A", "-n", "shop"}, "use one"},
		{[]string{"scan", "-f", "x.yaml", "-A"}, "add --live"},
		{[]string{"scan", "-f", "x.yaml", "-n", "a", "-n", "b"}, "-n is given 2 times"},
		{[]string{"scan", "-f", "x.yaml", "--request-timeout", "5s"}, "for the requests of --live"},
		{[]string{"scan", "--live", "--request-timeout", "-1s"}, "positive duration"},
		{[]string{"scan", "-f", "x.yaml", "--qps", "5"}, "for the requests of --live"},
		{[]string{"scan", "--live", "--burst", "-3"}, "positive numbers"},
	} {
		if r := c.run("", tc.args...); r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d and %q:\n%s", tc.args, r.code, exitUsage, tc.want, r.stderr)
		}
	}
}

// unreachableKubeconfig names a server nothing listens on, in context gone.
func unreachableKubeconfig(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	writeFile(t, path, `apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: gone, context: {cluster: gone, user: u}}]
current-context: gone
`)
	return path
}

// cronJobArgs are the arguments the CronJob example of deploy/ runs
// stridemap with.
func cronJobArgs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "stridemap-cronjob.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var job batchv1.CronJob
		if err := yaml.Unmarshal([]byte(doc), &job); err != nil {
			t.Fatal(err)
		}
		if job.Kind == "CronJob" {
			c := job.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
			return slices.Concat(c.Command, c.Args)
		}
	}
	t.Fatal("no CronJob in deploy/stridemap-cronjob.yaml")
	return nil
}

// TestScanLiveCanary: a Secret's value planted in a real cluster reaches
// nothing a live scan writes: not its output or log, not the store (and
// its WAL), not a report or the graph, plain or base64-encoded.
func TestScanLiveCanary(t *testing.T) {
	const planted = "canary-7f3e9b1d-never-stored"
	srv := clustertest.Start(t)
	srv.Apply(t, "vault", []byte(`apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: `+planted+`}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - name: api
          image: example/api:1
          env: [{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}]
`))
	c := newCLI(t)
	written := everythingWritten(t, c, "-v", "scan", "--kubeconfig", srv.Kubeconfig)
	if !strings.Contains(strings.Join(written, ""), "DB_PASSWORD") {
		t.Fatal("the scan did not see the Deployment that uses the Secret: the test checks nothing")
	}
	encoded := base64.StdEncoding.EncodeToString([]byte(planted))
	for i, w := range written {
		if strings.Contains(w, planted) || strings.Contains(w, encoded) {
			t.Errorf("output %d holds the Secret's value", i)
		}
	}
}
