package discovertest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ReplaceInFile replaces old by new in the file at path, failing when old
// is not there (the demo changed under the test).
func ReplaceInFile(t testing.TB, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	writeDemoFile(t, path, strings.Replace(string(data), old, new, 1))
}

// ChangeDemo makes, in dir (a copy of testdata/demo), the five changes of a typical release: a service added
// (reviews), an env var pointing catalog at it, the NetworkPolicy that
// lets shop use its data stores removed, catalog's image tag changed and
// cart's container made privileged.
func ChangeDemo(t testing.TB, dir string) {
	t.Helper()
	services := filepath.Join(dir, "services.yaml")
	ReplaceInFile(t, services, "image: ghcr.io/stridemap-demo/catalog:1.4.2",
		"image: ghcr.io/stridemap-demo/catalog:1.5.0\n          env:\n            - {name: REVIEWS_URL, value: \"http://reviews:8080\"}")
	data, err := os.ReadFile(services)
	if err != nil {
		t.Fatal(err)
	}
	cart := strings.Index(string(data), "image: ghcr.io/stridemap-demo/cart:2.0.3")
	rest := strings.Replace(string(data[cart:]), "securityContext: {allowPrivilegeEscalation: false", "securityContext: {privileged: true, allowPrivilegeEscalation: false", 1)
	writeDemoFile(t, services, string(data[:cart])+rest)

	policies := filepath.Join(dir, "policies.yaml")
	data, err = os.ReadFile(policies)
	if err != nil {
		t.Fatal(err)
	}
	allow := strings.Index(string(data), "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-shop-clients")
	if allow < 0 {
		t.Fatal("policies.yaml has no allow-shop-clients policy")
	}
	writeDemoFile(t, policies, string(data[:allow]))

	writeDemoFile(t, filepath.Join(dir, "reviews.yaml"), `apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews, namespace: shop}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: reviews}
  template:
    metadata:
      labels: {app.kubernetes.io/name: reviews}
    spec:
      containers:
        - name: reviews
          image: ghcr.io/stridemap-demo/reviews:1.0.0
          ports:
            - {name: http, containerPort: 8080}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec:
  selector: {app.kubernetes.io/name: reviews}
  ports:
    - {name: http, port: 8080, targetPort: http}
`)
}

func writeDemoFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
