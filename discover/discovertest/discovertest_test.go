package discovertest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
)

func TestInventory(t *testing.T) {
	inv := discovertest.Inventory(t, map[string]string{
		"shop/svc.yaml":  "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n",
		"shop/bad.yaml":  "apiVersion: v1\nkind: Servce\nmetadata: {name: x}\n",
		"other/sa.yaml":  "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n",
		"shop/README.md": "ignored",
	})
	if len(inv.Objects) != 2 || len(inv.Problems) != 1 {
		t.Fatalf("objects %d, problems %v", len(inv.Objects), inv.Problems)
	}
	// Directories are read in sorted order.
	if got := filepath.Base(inv.Objects[0].Location.File); got != "sa.yaml" {
		t.Errorf("first object from %s", got)
	}
}

func TestObjects(t *testing.T) {
	objs := discovertest.Objects(t, "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n")
	if len(objs) != 1 || objs[0].Namespace != "default" || objs[0].Location.File != "test.yaml" {
		t.Fatalf("objects: %+v", objs)
	}
	if _, ok := objs[0].Typed.(*corev1.Service); !ok {
		t.Errorf("typed as %T", objs[0].Typed)
	}
}

// TestWriteBoutiqueOneNamespace checks the one-namespace scale input: every
// object it promises is read, all in namespace shop, with no name twice,
// and each copy's Services still select its own Deployments.
func TestWriteBoutiqueOneNamespace(t *testing.T) {
	base, err := os.ReadFile(filepath.Join(discovertest.CorpusDir(t), "online-boutique", "kubernetes-manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := discovertest.WriteBoutiqueOneNamespace(t.TempDir(), base, 3)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{in.Dir}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Problems) > 0 {
		t.Fatalf("problems: %v", inv.Problems)
	}
	if len(inv.Objects) != in.Objects {
		t.Fatalf("read %d objects, the input promises %d", len(inv.Objects), in.Objects)
	}
	kinds := map[string]int{}
	for _, o := range inv.Objects {
		kinds[o.Kind]++
		if o.Kind != "Namespace" && o.Namespace != "shop" {
			t.Errorf("%s is in namespace %q", o.Ref(), o.Namespace)
		}
	}
	for _, kind := range []string{"NetworkPolicy", "PodDisruptionBudget", "AuthorizationPolicy", "PeerAuthentication", "ServiceMonitor"} {
		if kinds["Deployment"] == 0 || kinds[kind] != kinds["Deployment"] {
			t.Errorf("kinds %v: want a %s per Deployment", kinds, kind)
		}
	}
	for _, o := range inv.Objects {
		s, ok := o.Typed.(*corev1.Service)
		if !ok || len(s.Spec.Selector) == 0 {
			continue
		}
		if app := s.Spec.Selector["app"]; !strings.HasSuffix(app, o.Name[len(o.Name)-5:]) {
			t.Errorf("%s selects app %q, not its own copy's", o.Ref(), app)
		}
	}
}
