package discovertest_test

import (
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/stridemap/stridemap/discover/discovertest"
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
