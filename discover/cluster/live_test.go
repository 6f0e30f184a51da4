package cluster_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/cluster/clustertest"
)

// plantedSecret is a Secret value that must never leave the server.
const plantedSecret = "canary-7f3a9b2e-do-not-leak"

const liveManifests = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {team: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        env:
        - name: DB_PASSWORD
          valueFrom: {secretKeyRef: {name: db, key: password}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: v1
kind: Secret
metadata: {name: db, labels: {app: web}}
stringData: {password: ` + plantedSecret + `}
`

var liveKinds = []cluster.Kind{
	{Group: "apps", Kind: "Deployment"},
	{Kind: "Service"},
	{Kind: "Secret"},
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"},
	{Group: "networking.istio.io", Kind: "VirtualService"}, // not served here: skipped quietly
}

// TestScanLive: a live scan reads the kinds asked for, as the manifests'
// decoder would read them, with their API path and version for evidence
// and without what the server adds; Secrets arrive as metadata only.
func TestScanLive(t *testing.T) {
	srv := kube.Get(t)
	applied, skipped := srv.Apply(t, "live", []byte(liveManifests))
	if len(applied) != 4 || len(skipped) != 0 {
		t.Fatalf("applied %v, skipped %v", applied, skipped)
	}
	var progress []string
	inv, err := cluster.Scan(context.Background(), cluster.ScanRequest{
		Request:  cluster.Request{Kubeconfig: srv.Kubeconfig, Namespaces: []string{"live"}, PageSize: 1},
		Kinds:    liveKinds,
		Progress: func(k cluster.Kind, n int) { progress = append(progress, k.String()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, o := range inv.Objects {
		refs = append(refs, o.Ref())
	}
	if want := []string{"Deployment live/web", "Service live/web", "Secret live/db", "NetworkPolicy live/deny-all"}; !slices.Equal(refs, want) {
		t.Errorf("objects:\n got %v\nwant %v", refs, want)
	}
	if len(inv.Problems) != 0 || len(inv.Gaps) != 0 {
		t.Errorf("problems %v, gaps %v", inv.Problems, inv.Gaps)
	}
	slices.Sort(progress)
	if want := []string{"Deployment.apps", "NetworkPolicy.networking.k8s.io", "Secret", "Service"}; !slices.Equal(progress, want) {
		t.Errorf("progress: %v", progress)
	}
	for _, o := range inv.Objects {
		if o.ResourceVersion == "" || o.Location.Line != 0 || !strings.HasPrefix(o.Location.File, srv.URL+"/ap") || !strings.HasSuffix(o.Location.File, "/namespaces/live/"+resourceOf(o.Kind)+"/"+o.Name) {
			t.Errorf("%s: location %v, version %q", o.Ref(), o.Location, o.ResourceVersion)
		}
		switch typed := o.Typed.(type) {
		case *appsv1.Deployment:
			if typed.ManagedFields != nil || typed.UID != "" || typed.Status.ObservedGeneration != 0 || typed.Annotations["team"] != "shop" || len(typed.Annotations) != 1 {
				t.Errorf("server-set fields are kept: %+v", typed.ObjectMeta)
			}
		case *corev1.Secret:
			if len(typed.Data) != 0 || len(typed.StringData) != 0 || typed.Labels["app"] != "web" {
				t.Errorf("secret: %+v", typed)
			}
		case *corev1.Service, *networkingv1.NetworkPolicy:
		default:
			t.Errorf("%s is not typed: %T", o.Ref(), o.Typed)
		}
	}
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), plantedSecret) {
		t.Errorf("the Secret's value left the server")
	}
}

func resourceOf(kind string) string {
	return map[string]string{"Deployment": "deployments", "Service": "services", "Secret": "secrets", "NetworkPolicy": "networkpolicies"}[kind]
}

// TestScanLivePartialAccess: kinds the identity may not list are gaps, not
// errors, and the rest is read; with no namespace asked for, an identity
// that may read one namespace reads its kubeconfig context's.
func TestScanLivePartialAccess(t *testing.T) {
	srv := kube.Get(t)
	srv.Apply(t, "live", []byte(liveManifests))
	ctx := context.Background()
	rbac := srv.Client(t).RbacV1()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "live", Name: "no-policies"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"", "apps"}, Resources: []string{"deployments", "services", "secrets"}, Verbs: []string{"list"}}}}
	if _, err := rbac.Roles("live").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rbac.Roles("live").Delete(ctx, role.Name, metav1.DeleteOptions{}) })
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "live", Name: "no-policies"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "live-reader"}}}
	if _, err := rbac.RoleBindings("live").Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rbac.RoleBindings("live").Delete(ctx, binding.Name, metav1.DeleteOptions{}) })
	reader := srv.KubeconfigFor(t, "live-reader")

	inv, err := cluster.Scan(ctx, cluster.ScanRequest{Request: cluster.Request{Kubeconfig: reader, Namespaces: []string{"live"}}, Kinds: liveKinds})
	if err != nil {
		t.Fatal(err)
	}
	if got := refsOf(inv.Objects); !slices.Equal(got, []string{"Deployment live/web", "Service live/web", "Secret live/db"}) {
		t.Errorf("objects: %v", got)
	}
	if want := []discover.Gap{{Group: "networking.k8s.io", Kind: "NetworkPolicy", Namespace: "live", Reason: "forbidden"}}; !slices.Equal(inv.Gaps, want) {
		t.Errorf("gaps:\n got %v\nwant %v", inv.Gaps, want)
	}

	// No namespace asked for: every namespace is forbidden, so the
	// kubeconfig context's namespace is read, and the gaps say so.
	cfg, err := clientcmd.LoadFromFile(reader)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Contexts[cfg.CurrentContext].Namespace = "live"
	inLive := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, inLive); err != nil {
		t.Fatal(err)
	}
	inv, err = cluster.Scan(ctx, cluster.ScanRequest{Request: cluster.Request{Kubeconfig: inLive}, Kinds: liveKinds})
	if err != nil {
		t.Fatal(err)
	}
	if got := refsOf(inv.Objects); !slices.Equal(got, []string{"Deployment live/web", "Service live/web", "Secret live/db"}) {
		t.Errorf("objects in the context's namespace: %v", got)
	}
	gaps := gapsOf(inv)
	if want := []string{
		"Deployment.apps: forbidden in all namespaces: read in namespace live only",
		"NetworkPolicy.networking.k8s.io: forbidden",
		"Secret: forbidden in all namespaces: read in namespace live only",
		"Service: forbidden in all namespaces: read in namespace live only",
	}; !slices.Equal(gaps, want) {
		t.Errorf("gaps:\n got %q\nwant %q", gaps, want)
	}
	for _, g := range inv.Gaps {
		if !g.Forbidden() {
			t.Errorf("gap %s is not Forbidden: a re-scan would fail on it every time", g)
		}
	}

	// No access at all is one error that says what to grant, not a gap
	// per kind.
	_, err = cluster.Scan(ctx, cluster.ScanRequest{Request: cluster.Request{Kubeconfig: srv.KubeconfigFor(t, "nobody")}, Kinds: liveKinds})
	if err == nil || !strings.Contains(err.Error(), "may list none of the 4 kinds") || !strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), "deploy/stridemap-reader.yaml") {
		t.Errorf("nobody: %v", err)
	}
}

// gapsOf is the inventory's gaps as sentences, sorted.
func gapsOf(inv *discover.Inventory) []string {
	var out []string
	for _, g := range inv.Gaps {
		out = append(out, g.String())
	}
	slices.Sort(out)
	return out
}

func refsOf(objects []*discover.Object) []string {
	var out []string
	for _, o := range objects {
		out = append(out, o.Ref())
	}
	return out
}

const ownedManifests = `
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d8f
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: 11111111-1111-1111-1111-111111111111, controller: true}]
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d8f-x2x9q
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d8f, uid: 22222222-2222-2222-2222-222222222222, controller: true}]
spec: {containers: [{name: web, image: nginx:1.27}]}
---
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec: {containers: [{name: shell, image: busybox:1.37}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: made-by-an-operator
  ownerReferences: [{apiVersion: example.com/v1, kind: Widget, name: w, uid: 33333333-3333-3333-3333-333333333333, controller: true}]
spec: {containers: [{name: w, image: busybox:1.37}]}
`

// TestScanLiveOwned: what a controller made is read through the
// controller when its kind is read too, as a repository holds only the
// Deployment; a Pod nobody's read controller made is kept.
func TestScanLiveOwned(t *testing.T) {
	srv := kube.Get(t)
	srv.Apply(t, "owned", []byte(liveManifests))
	srv.Apply(t, "owned", []byte(ownedManifests))
	inv, err := cluster.Scan(context.Background(), cluster.ScanRequest{
		Request: cluster.Request{Kubeconfig: srv.Kubeconfig, Namespaces: []string{"owned"}},
		Kinds:   []cluster.Kind{{Group: "apps", Kind: "Deployment"}, {Group: "apps", Kind: "ReplicaSet"}, {Kind: "Pod"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := refsOf(inv.Objects), []string{"Deployment owned/web", "Pod owned/debug", "Pod owned/made-by-an-operator"}; !slices.Equal(got, want) {
		t.Errorf("objects:\n got %v\nwant %v", got, want)
	}
	// Without the Deployment's kind, its ReplicaSet is what there is.
	inv, err = cluster.Scan(context.Background(), cluster.ScanRequest{
		Request: cluster.Request{Kubeconfig: srv.Kubeconfig, Namespaces: []string{"owned"}},
		Kinds:   []cluster.Kind{{Group: "apps", Kind: "ReplicaSet"}, {Kind: "Pod"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := refsOf(inv.Objects), []string{"ReplicaSet owned/web-5d8f", "Pod owned/debug", "Pod owned/made-by-an-operator"}; !slices.Equal(got, want) {
		t.Errorf("objects without Deployments:\n got %v\nwant %v", got, want)
	}
	// Every kind of a group: the ReplicaSet is read as a kind of apps, and
	// dropped for its Deployment.
	inv, err = cluster.Scan(context.Background(), cluster.ScanRequest{
		Request: cluster.Request{Kubeconfig: srv.Kubeconfig, Namespaces: []string{"owned"}},
		Kinds:   []cluster.Kind{{Group: "apps", Kind: cluster.AllKinds}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := refsOf(inv.Objects), []string{"Deployment owned/web"}; !slices.Equal(got, want) || len(inv.Gaps) != 0 {
		t.Errorf("every kind of apps:\n got %v, gaps %v\nwant %v", got, inv.Gaps, want)
	}
	// A scan of some namespaces reads their Namespace objects, no others.
	inv, err = cluster.Scan(context.Background(), cluster.ScanRequest{
		Request: cluster.Request{Kubeconfig: srv.Kubeconfig, Namespaces: []string{"owned"}},
		Kinds:   []cluster.Kind{{Kind: "Namespace"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := refsOf(inv.Objects), []string{"Namespace owned"}; !slices.Equal(got, want) {
		t.Errorf("namespaces:\n got %v\nwant %v", got, want)
	}
}

// TestScanLiveLeastPrivilege: an identity holding only the rules Rules
// gives reads everything asked for without a gap, and the server's audit
// log shows it only listed, read Secrets as metadata only, and was never
// given the planted value.
func TestScanLiveLeastPrivilege(t *testing.T) {
	srv := kube.Get(t)
	srv.Apply(t, "canary", []byte(liveManifests))
	ctx := context.Background()
	rbac := srv.Client(t).RbacV1()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "stridemap-scan-test"}, Rules: cluster.Rules(liveKinds)}
	if _, err := rbac.ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rbac.ClusterRoles().Delete(ctx, role.Name, metav1.DeleteOptions{}) })
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "least-privilege-scanner"}}}
	if _, err := rbac.ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rbac.ClusterRoleBindings().Delete(ctx, binding.Name, metav1.DeleteOptions{}) })

	inv, err := cluster.Scan(ctx, cluster.ScanRequest{Request: cluster.Request{Kubeconfig: srv.KubeconfigFor(t, "least-privilege-scanner")}, Kinds: liveKinds})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Gaps) != 0 || len(inv.Problems) != 0 {
		t.Errorf("gaps %v, problems %v", inv.Gaps, inv.Problems)
	}
	if got := refsOf(inv.Objects); !slices.Contains(got, "Secret canary/db") || !slices.Contains(got, "NetworkPolicy canary/deny-all") {
		t.Errorf("objects: %v", got)
	}

	secretLists := 0
	for _, e := range srv.Audit(t) {
		if e.User.Username != "least-privilege-scanner" {
			continue
		}
		if answer := string(e.ResponseObject); strings.Contains(answer, plantedSecret) || strings.Contains(answer, base64.StdEncoding.EncodeToString([]byte(plantedSecret))) {
			t.Errorf("%s %s was answered with the Secret's value", e.Verb, e.RequestURI)
		}
		switch {
		case e.ObjectRef == nil: // discovery: /api, /apis
			if e.Verb != "get" {
				t.Errorf("%s %s", e.Verb, e.RequestURI)
			}
		case e.ObjectRef.Resource == "selfsubjectaccessreviews":
			if e.Verb != "create" {
				t.Errorf("%s %s", e.Verb, e.RequestURI)
			}
		case e.Verb != "list":
			t.Errorf("a scan may only list: %s %s", e.Verb, e.RequestURI)
		case e.ObjectRef.Resource == "secrets":
			secretLists++
			var answer struct{ Kind string }
			if err := json.Unmarshal(e.ResponseObject, &answer); err != nil || answer.Kind != "PartialObjectMetadataList" {
				t.Errorf("Secrets were listed as %q, not as metadata (%v)", answer.Kind, err)
			}
		}
	}
	if secretLists == 0 {
		t.Errorf("the audit log shows no list of Secrets by the scan")
	}
}

// TestScanLiveRunning: the pods of a Deployment in the middle of a rollout
// are read for what runs, not as objects: the Deployment alone is in the
// inventory, with each image and digest its pods run and the sidecar the
// injector added.
func TestScanLiveRunning(t *testing.T) {
	srv := kube.Get(t)
	srv.CreateNamespace(t, "running")
	ids := srv.InjectedRollout(t, "running", "web", "nginx:1.26", "nginx:1.27")
	inv, err := cluster.Scan(context.Background(), cluster.ScanRequest{
		Request: cluster.Request{Kubeconfig: srv.Kubeconfig, Namespaces: []string{"running"}},
		Kinds:   []cluster.Kind{{Group: "apps", Kind: "Deployment"}, {Group: "apps", Kind: "ReplicaSet"}, {Kind: "Pod"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := refsOf(inv.Objects); !slices.Equal(got, []string{"Deployment running/web"}) {
		t.Fatalf("objects: %v", got)
	}
	want := []discover.RunningContainer{
		{Name: "istio-proxy", Injected: true, Image: clustertest.IstioProxyImage, ImageID: ids[clustertest.IstioProxyImage]},
		{Name: "web", Image: "nginx:1.26", ImageID: ids["nginx:1.26"]},
		{Name: "web", Image: "nginx:1.27", ImageID: ids["nginx:1.27"]},
	}
	if got := inv.Objects[0].Running; !slices.Equal(got, want) {
		t.Errorf("running:\n got %+v\nwant %+v", got, want)
	}
}
