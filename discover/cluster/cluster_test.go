package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/cluster/clustertest"
)

// kube is the API server every test here shares: it takes seconds to start.
var kube clustertest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	kube.Stop()
	os.Exit(code)
}

// shopObjects and shopClusterIPs are what shop created.
var (
	shopObjects    []string
	shopClusterIPs map[string]string
)

// shop creates namespaces shop and ops with Deployment-owned pods and their
// Services, once for the shared server, and returns what the inventory must
// list ("Kind ns/name"), and the ClusterIP of each Service.
func shop(t *testing.T, srv *clustertest.Server) (want []string, clusterIPs map[string]string) {
	t.Helper()
	if shopObjects != nil {
		return shopObjects, shopClusterIPs
	}
	clusterIPs = map[string]string{}
	for _, ns := range []string{"shop", "ops"} {
		srv.CreateNamespace(t, ns)
	}
	apps := []struct {
		ns, app string
		pods    int
		port    int32
	}{{"shop", "frontend", 3, 8080}, {"shop", "cart", 2, 7070}, {"ops", "grafana", 1, 3000}}
	for i, a := range apps {
		for p := range a.pods {
			ip := fmt.Sprintf("10.244.%d.%d", i, p+2)
			pod := srv.CreatePod(t, clustertest.DeploymentPod(a.ns, a.app, fmt.Sprintf("x%d", p), ip, a.port))
			want = append(want, "Pod "+a.ns+"/"+pod.Name)
		}
		svc := srv.CreateService(t, clustertest.SelectorService(a.ns, a.app, 80, a.port))
		want = append(want, "Service "+a.ns+"/"+a.app)
		clusterIPs[a.ns+"/"+a.app] = svc.Spec.ClusterIP
	}
	slices.Sort(want)
	shopObjects, shopClusterIPs = want, clusterIPs
	return want, clusterIPs
}

// inNamespaces is what an inventory holds in the given namespaces.
func inNamespaces(objs []string, namespaces ...string) []string {
	var out []string
	for _, o := range objs {
		_, ref, _ := strings.Cut(o, " ")
		ns, _, _ := strings.Cut(ref, "/")
		if slices.Contains(namespaces, ns) {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}

// TestClusterCollect reads pods and services from a real API server, a few
// objects per page so the list takes several pages.
func TestClusterCollect(t *testing.T) {
	srv := kube.Get(t)
	want, clusterIPs := shop(t, srv)

	for _, pageSize := range []int64{2, 0} {
		t.Run(fmt.Sprintf("page size %d", pageSize), func(t *testing.T) {
			inv, err := cluster.Collect(context.Background(), cluster.Request{Kubeconfig: srv.Kubeconfig, PageSize: pageSize})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range inv.Objects {
				got = append(got, o.Ref())
			}
			if g := inNamespaces(got, "shop", "ops"); !slices.Equal(g, want) {
				t.Errorf("objects:\n got %v\nwant %v", g, want)
			}
			if !slices.Contains(got, "Service default/kubernetes") {
				t.Errorf("all namespaces were asked for, but the API server's own Service is missing: %v", got)
			}
			if len(inv.Sources) != 1 || inv.Sources[0].Kind != cluster.SourceAPI || inv.Sources[0].Path != srv.URL || inv.Sources[0].Objects != len(got) {
				t.Errorf("sources: %+v", inv.Sources)
			}
			for _, o := range inv.Objects {
				switch typed := o.Typed.(type) {
				case *corev1.Pod:
					if o.Namespace == "default" {
						continue
					}
					if typed.Status.PodIP == "" || len(typed.OwnerReferences) != 1 || typed.OwnerReferences[0].Kind != "ReplicaSet" || typed.Kind != "Pod" || typed.ManagedFields != nil {
						t.Errorf("%s: %+v", o.Ref(), typed)
					}
					if wantLoc := srv.URL + "/api/v1/namespaces/" + o.Namespace + "/pods/" + o.Name; o.Location.String() != wantLoc {
						t.Errorf("%s: location %s, want %s", o.Ref(), o.Location, wantLoc)
					}
				case *corev1.Service:
					if ip, ok := clusterIPs[o.Namespace+"/"+o.Name]; ok && (typed.Spec.ClusterIP != ip || typed.APIVersion != "v1") {
						t.Errorf("%s: cluster IP %s, want %s", o.Ref(), typed.Spec.ClusterIP, ip)
					}
				default:
					t.Errorf("%s: typed as %T", o.Ref(), o.Typed)
				}
			}
		})
	}

	inv, err := cluster.Collect(context.Background(), cluster.Request{Kubeconfig: srv.Kubeconfig, Namespaces: []string{"ops"}, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range inv.Objects {
		got = append(got, o.Ref())
	}
	slices.Sort(got)
	if w := inNamespaces(want, "ops"); !slices.Equal(got, w) {
		t.Errorf("namespace ops:\n got %v\nwant %v", got, w)
	}
}

// TestClusterPermissions: an identity RBAC does not let list pods gets an
// error naming the verbs and resources to grant; one allowed in a single
// namespace can read that namespace.
func TestClusterPermissions(t *testing.T) {
	srv := kube.Get(t)
	shop(t, srv)
	ctx := context.Background()
	nobody := srv.KubeconfigFor(t, "nobody")
	_, err := cluster.Collect(ctx, cluster.Request{Kubeconfig: nobody})
	for _, w := range []string{"403 Forbidden", "list on the resources pods and services in all namespaces", `User "nobody" cannot list resource "pods"`, srv.URL, "context nobody of kubeconfig " + nobody} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}

	rbac := srv.Client(t).RbacV1()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "inventory"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "services"}, Verbs: []string{"list"}}}}
	if _, err := rbac.Roles("shop").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The server is shared by the package's tests (and runs of -count).
	t.Cleanup(func() { rbac.Roles("shop").Delete(ctx, role.Name, metav1.DeleteOptions{}) })
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "inventory"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "inventory"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "shop-reader"}}}
	if _, err := rbac.RoleBindings("shop").Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rbac.RoleBindings("shop").Delete(ctx, binding.Name, metav1.DeleteOptions{}) })
	reader := srv.KubeconfigFor(t, "shop-reader")
	inv, err := cluster.Collect(ctx, cluster.Request{Kubeconfig: reader, Namespaces: []string{"shop"}})
	if err != nil || len(inv.Objects) != 7 {
		t.Errorf("shop-reader in shop: %v, %d objects", err, len(inv.Objects))
	}
	_, err = cluster.Collect(ctx, cluster.Request{Kubeconfig: reader, Namespaces: []string{"shop", "ops"}})
	if err == nil || !strings.Contains(err.Error(), "list on the resources pods and services in namespace ops") {
		t.Errorf("shop-reader in ops: %v", err)
	}
}

// TestClusterUnauthorized: a token the server does not know gets a 401
// that says to log in again.
func TestClusterUnauthorized(t *testing.T) {
	srv := kube.Get(t)
	cfg, err := clientcmd.LoadFromFile(srv.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AuthInfos[cfg.CurrentContext] = &clientcmdapi.AuthInfo{Token: "expired-long-ago"}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	_, err = cluster.Collect(context.Background(), cluster.Request{Kubeconfig: path})
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") || !strings.Contains(err.Error(), "log in again") || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("unknown token: %v", err)
	}
}
