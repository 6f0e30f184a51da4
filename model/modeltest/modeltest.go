// Package modeltest provides what tests of the model and its consumers need
// again and again: a real store in a temporary directory, realistic graphs
// and scans of any size, and manifests written inline (manifests.go) for
// tests of the graph and of the controls detected on it.
//
// Sample data follows the store's normalisation rules (see model/store),
// so what is saved reads back reflect.DeepEqual: empty omitempty slices
// and maps are nil, and the graph's own slices are never nil.
package modeltest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
)

// OpenStore opens a store in a fresh SQLite file under t.TempDir() and
// closes it when the test ends, so each test starts from an empty history.
func OpenStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "stridemap.db"))
	if err != nil {
		t.Fatalf("open test store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close test store: %v", err)
		}
	})
	return s
}

// StripeID is the node ID of the external payment API every sample
// namespace calls.
const StripeID = "external:api.stripe.com"

// Per namespace, SampleGraph produces these many nodes and edges; the graph
// also holds the internet and the payment API once.
const (
	NodesPerNamespace = 20
	EdgesPerNamespace = 30
)

// service is one workload of the sample shop.
type service struct {
	name     string
	port     int32
	protocol string // the protocol it serves
	engine   string // non-empty for a data store
}

// shop is the sample application, repeated in every namespace: an online
// shop behind an Ingress, with a Postgres database and a Redis cache.
var shop = []service{
	{name: "frontend", port: 8080, protocol: "http"},
	{name: "ad", port: 9555, protocol: "grpc"},
	{name: "cart", port: 7070, protocol: "grpc"},
	{name: "checkout", port: 5050, protocol: "grpc"},
	{name: "currency", port: 7000, protocol: "grpc"},
	{name: "email", port: 5000, protocol: "grpc"},
	{name: "payment", port: 50051, protocol: "grpc"},
	{name: "productcatalog", port: 3550, protocol: "grpc"},
	{name: "recommendation", port: 8080, protocol: "grpc"},
	{name: "shipping", port: 50051, protocol: "grpc"},
	{name: "orders", port: 8080, protocol: "grpc"},
	{name: "inventory", port: 8080, protocol: "grpc"},
	{name: "search", port: 8080, protocol: "http"},
	{name: "reviews", port: 8080, protocol: "http"},
	{name: "notification", port: 8080, protocol: "grpc"},
	{name: "auth", port: 8080, protocol: "http"},
	{name: "users", port: 8080, protocol: "grpc"},
	{name: "orders-db", port: 5432, protocol: "postgres", engine: "postgres"},
	{name: "cart-cache", port: 6379, protocol: "redis", engine: "redis"},
}

// flows are the in-namespace calls between shop services, besides the
// ones through the gateway and to the payment API.
var flows = [][2]string{
	{"frontend", "ad"}, {"frontend", "cart"}, {"frontend", "checkout"}, {"frontend", "currency"},
	{"frontend", "productcatalog"}, {"frontend", "recommendation"}, {"frontend", "shipping"},
	{"checkout", "cart"}, {"checkout", "currency"}, {"checkout", "email"}, {"checkout", "payment"},
	{"checkout", "productcatalog"}, {"checkout", "shipping"},
	{"recommendation", "productcatalog"}, {"cart", "cart-cache"}, {"checkout", "orders-db"},
	{"orders", "inventory"}, {"inventory", "orders-db"}, {"frontend", "search"}, {"search", "productcatalog"},
	{"frontend", "reviews"}, {"reviews", "users"}, {"frontend", "auth"}, {"auth", "users"},
	{"users", "orders-db"}, {"notification", "email"}, {"notification", "users"},
}

// Namespace is the name of the i-th (0-based) sample namespace: "shop",
// "shop-2", "shop-3"…
func Namespace(i int) string {
	if i == 0 {
		return "shop"
	}
	return fmt.Sprintf("shop-%d", i+1)
}

// SampleGraph builds the graph of nNamespaces copies of a sample shop:
// processes, a Postgres and a Redis data store and an Ingress gateway per
// namespace, the internet and an external payment API; declared and
// observed edges with evidence; internet, cluster and namespace
// boundaries; controls; and one dangling reference per namespace. It has
// NodesPerNamespace*nNamespaces+2 nodes and EdgesPerNamespace*nNamespaces
// edges, and is the same for the same argument.
func SampleGraph(nNamespaces int) *model.Graph {
	g := &model.Graph{
		Nodes: []model.Node{
			{ID: model.InternetID, Type: model.ExternalEntity, Name: "internet", Kind: "Internet"},
			{ID: StripeID, Type: model.ExternalEntity, Name: "api.stripe.com", Kind: "Host", Evidence: []model.Evidence{{
				File: "manifests/shop/payment.yaml", Line: 41, Object: "Deployment shop/payment",
				Field: "spec.template.spec.containers[0].env[1].value", Detail: "STRIPE_URL=https://api.stripe.com",
			}}},
		},
		Edges:      []model.Edge{},
		Boundaries: []model.Boundary{},
		Controls:   []model.Control{},
		Dangling:   []model.DanglingRef{},
	}
	internet := model.Boundary{ID: "boundary:internet", Type: model.BoundaryInternet, Name: "internet",
		Members: []string{model.InternetID, StripeID}}
	cluster := model.Boundary{ID: "boundary:cluster", Type: model.BoundaryCluster, Name: "cluster",
		Members: make([]string, 0, NodesPerNamespace*nNamespaces)}
	g.Boundaries = append(g.Boundaries, internet, cluster)

	for i := range nNamespaces {
		ns := Namespace(i)
		nsb := model.Boundary{ID: "boundary:namespace:" + ns, Type: model.BoundaryNamespace, Name: ns,
			Parent: cluster.ID, Members: make([]string, 0, NodesPerNamespace)}
		mesh := i%2 == 0 // every other namespace runs an Istio sidecar

		gw := gatewayNode(ns)
		g.Nodes = append(g.Nodes, gw)
		nsb.Members = append(nsb.Members, gw.ID)
		for j, svc := range shop {
			n := workloadNode(ns, j, svc, mesh)
			g.Nodes = append(g.Nodes, n)
			nsb.Members = append(nsb.Members, n.ID)
			if n.Workload != nil && n.Workload.Containers[0].Security.RunAsNonRoot != nil {
				g.Controls = append(g.Controls, model.Control{ID: "run-as-non-root@" + n.ID, Type: "run-as-non-root",
					Target: n.ID, Evidence: []model.Evidence{manifest(ns, svc.name, "spec.template.spec.securityContext.runAsNonRoot", "true")}})
			}
		}
		cluster.Members = append(cluster.Members, nsb.Members...)

		front := workloadID(ns, "frontend")
		g.Edges = append(g.Edges,
			model.Edge{ID: model.InternetID + "->" + gw.ID + ":443", From: model.InternetID, To: gw.ID, Port: 443,
				Protocol: "https", ProtocolSource: "well-known-port", Encryption: model.EncryptionTLS, EncryptionSource: "ingress-tls",
				Via: "Ingress " + ns + "/frontend", Declared: true, Crosses: []string{internet.ID, cluster.ID, nsb.ID},
				Evidence: []model.Evidence{{File: manifestFile(ns, "ingress"), Line: 12, Object: "Ingress " + ns + "/frontend", Field: "spec.tls[0]"}}},
			edge(ns, gw.ID, front, shop[0], mesh, true, false, model.Evidence{File: manifestFile(ns, "ingress"), Line: 20,
				Object: "Ingress " + ns + "/frontend", Field: "spec.rules[0].http.paths[0].backend.service"}),
		)
		for k, f := range flows {
			to := serviceByName(f[1])
			observed := k%3 == 0
			declared := f[0] != "notification" // notification -> email was only seen on the wire
			ev := manifest(ns, f[0], fmt.Sprintf("spec.template.spec.containers[0].env[%d].value", k%5),
				fmt.Sprintf("%s_ADDR=%s:%d", upper(f[1]), f[1], to.port))
			g.Edges = append(g.Edges, edge(ns, workloadID(ns, f[0]), workloadID(ns, f[1]), to, mesh, declared, observed, ev))
		}
		payment := workloadID(ns, "payment")
		g.Edges = append(g.Edges, model.Edge{ID: payment + "->" + StripeID + ":443", From: payment, To: StripeID, Port: 443,
			Protocol: "https", ProtocolSource: "url-scheme", Encryption: model.EncryptionTLS, EncryptionSource: "url-scheme",
			Declared: true, Crosses: []string{nsb.ID, cluster.ID, internet.ID},
			Evidence: []model.Evidence{manifest(ns, "payment", "spec.template.spec.containers[0].env[1].value", "STRIPE_URL=https://api.stripe.com")}})

		g.Boundaries = append(g.Boundaries, nsb)
		g.Controls = append(g.Controls, model.Control{ID: "network-policy-default-deny@" + nsb.ID, Type: "network-policy-default-deny",
			Target: nsb.ID, Evidence: []model.Evidence{{File: manifestFile(ns, "netpol"), Line: 1, Object: "NetworkPolicy " + ns + "/default-deny"}}})
		g.Dangling = append(g.Dangling, model.DanglingRef{From: front, Target: "legacy-api:8080",
			Reason:   "no Service named legacy-api in namespace " + ns,
			Evidence: manifest(ns, "frontend", "spec.template.spec.containers[0].env[7].value", "LEGACY_API_ADDR=legacy-api:8080")})
	}
	g.Boundaries[1] = cluster
	return g
}

// SampleScan is a whole scan of SampleGraph(nNamespaces): one directory
// source, three inventory objects per workload plus an Ingress, a
// NetworkPolicy and a ConfigMap per namespace (60 per namespace), and one
// warning. Times are fixed so the record is the same on every call.
func SampleScan(nNamespaces int) store.ScanRecord {
	started := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	rec := store.ScanRecord{
		StartedAt:   started,
		FinishedAt:  started.Add(1500 * time.Millisecond),
		ToolVersion: "v0.1.0-test",
		Graph:       SampleGraph(nNamespaces),
		Problems: []discover.Problem{{Severity: discover.SeverityWarning, Code: "duplicate",
			Location: discover.Location{File: "manifests/shop/cart.yaml", Line: 30}, Object: "Service shop/cart",
			Message: "Service shop/cart is defined twice; the later definition (line 30) wins"}},
	}
	for i := range nNamespaces {
		ns := Namespace(i)
		for _, svc := range shop {
			kind, api := "Deployment", "apps/v1"
			if svc.engine != "" {
				kind = "StatefulSet"
			}
			file := manifestFile(ns, svc.name)
			rec.Objects = append(rec.Objects,
				store.ObjectRef{APIVersion: api, Kind: kind, Namespace: ns, Name: svc.name, Location: discover.Location{File: file, Line: 1}},
				store.ObjectRef{APIVersion: "v1", Kind: "Service", Namespace: ns, Name: svc.name, Location: discover.Location{File: file, Line: 60}},
				store.ObjectRef{APIVersion: "v1", Kind: "ServiceAccount", Namespace: ns, Name: svc.name, Location: discover.Location{File: file, Line: 80}},
			)
		}
		rec.Objects = append(rec.Objects,
			store.ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Namespace: ns, Name: "frontend", Location: discover.Location{File: manifestFile(ns, "ingress"), Line: 1}},
			store.ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: ns, Name: "default-deny", Location: discover.Location{File: manifestFile(ns, "netpol"), Line: 1}},
			store.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: "shop-config", Location: discover.Location{File: manifestFile(ns, "config"), Line: 1}},
		)
	}
	rec.Sources = []discover.Source{{Kind: discover.SourceDir, Path: "manifests", Files: nNamespaces * (len(shop) + 3), Objects: len(rec.Objects),
		SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}}
	return rec
}

func workloadID(ns, name string) string { return "workload:" + ns + "/" + name }

func manifestFile(ns, name string) string { return "manifests/" + ns + "/" + name + ".yaml" }

// manifest is evidence pointing into the Deployment of name.
func manifest(ns, name, field, detail string) model.Evidence {
	return model.Evidence{File: manifestFile(ns, name), Line: 20 + len(field)%17, Object: "Deployment " + ns + "/" + name,
		Field: field, Detail: detail}
}

func serviceByName(name string) service {
	for _, s := range shop {
		if s.name == name {
			return s
		}
	}
	panic("modeltest: no sample service " + name)
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c == '-':
			b[i] = '_'
		}
	}
	return string(b)
}

func gatewayNode(ns string) model.Node {
	ref := "Ingress " + ns + "/frontend"
	ev := model.Evidence{File: manifestFile(ns, "ingress"), Line: 1, Object: ref}
	return model.Node{
		ID: "gateway:" + ns + "/frontend", Type: model.Gateway, Name: "frontend", Namespace: ns, Kind: "Ingress",
		Exposure:    []model.Exposure{{Kind: "Ingress", Via: ref, Port: 443, Evidence: ev}},
		Labels:      model.Labels{"app.kubernetes.io/name": "frontend"},
		Annotations: model.Annotations{"cert-manager.io/cluster-issuer": "letsencrypt"},
		Evidence:    []model.Evidence{ev},
	}
}

func workloadNode(ns string, j int, svc service, mesh bool) model.Node {
	kind := "Deployment"
	if svc.engine != "" {
		kind = "StatefulSet"
	}
	ref := kind + " " + ns + "/" + svc.name
	file := manifestFile(ns, svc.name)
	replicas := int32(1 + j%3)
	nonRoot := j%4 != 0
	c := model.Container{
		Name:  "server",
		Image: model.Image{Ref: "ghcr.io/shop/" + svc.name + ":v1.2.3", Registry: "ghcr.io", Repository: "shop/" + svc.name, Tag: "v1.2.3"},
		Ports: []model.ContainerPort{{Name: svc.protocol, Port: svc.port, Protocol: "TCP"}},
		Env: []model.EnvVar{
			{Name: "PORT", Source: model.EnvLiteral, Line: 30},
			{Name: "DB_PASSWORD", Source: model.EnvSecret, From: "secret/" + svc.name + "-db:password", Line: 32},
		},
		Security:  model.Security{ReadOnlyRootFilesystem: j%2 == 0, CapabilitiesDrop: []string{"ALL"}},
		Resources: model.Resources{CPURequest: "100m", MemoryRequest: "64Mi", MemoryLimit: "128Mi"},
		Probes:    model.Probes{Liveness: true, Readiness: j%5 != 0},
	}
	if nonRoot {
		c.Security.RunAsNonRoot = &nonRoot
		uid := int64(1000)
		c.Security.RunAsUser = &uid
	}
	if j%7 == 3 {
		// A literal credential in the manifest: the name is kept, flagged, never the value.
		c.Env = append(c.Env, model.EnvVar{Name: "API_TOKEN", Source: model.EnvLiteral, Sensitive: true, Line: 34})
	}
	if svc.name == "payment" {
		c.Image.Digest = "sha256:4b825dc642cb6eb9a060e54bf8d69288fbee4904"
		c.Security.AllowPrivilegeEscalation = new(bool)
	}
	w := &model.Workload{
		Replicas:       &replicas,
		ServiceAccount: svc.name,
		Containers:     []model.Container{c},
		Volumes:        []model.Volume{{Name: "config", Type: "configMap", Source: "shop-config", ReadOnly: true}},
	}
	if j%3 == 0 {
		automount := false
		w.AutomountServiceAccountToken = &automount
	}
	if mesh {
		w.MeshSidecar = "istio"
		w.Containers = append(w.Containers, model.Container{
			Name: "istio-init", Init: true,
			Image:    model.Image{Ref: "docker.io/istio/proxyv2:1.24.0", Registry: "docker.io", Repository: "istio/proxyv2", Tag: "1.24.0"},
			Security: model.Security{CapabilitiesAdd: []string{"NET_ADMIN", "NET_RAW"}},
		})
	}
	n := model.Node{
		ID: workloadID(ns, svc.name), Type: model.Process, Name: svc.name, Namespace: ns, Kind: kind,
		Workload: w,
		Services: []string{ns + "/" + svc.name},
		Labels:   model.Labels{"app": svc.name, "app.kubernetes.io/part-of": "shop"},
		Evidence: []model.Evidence{{File: file, Line: 1, Object: ref}},
	}
	if svc.engine != "" {
		n.Type = model.DataStore
		n.DataStore = &model.DataStoreInfo{Engine: svc.engine, Evidence: model.Evidence{File: file, Line: 25, Object: ref,
			Field: "spec.template.spec.containers[0].image", Detail: "image " + svc.engine}}
		w.Volumes = append(w.Volumes, model.Volume{Name: "data", Type: "persistentVolumeClaim", Source: "data-" + svc.name + "-0"})
	}
	return n
}

// edge is an in-cluster flow to svc: mTLS inside the mesh, plaintext or
// unknown outside it.
func edge(ns, from, to string, svc service, mesh, declared, observed bool, ev model.Evidence) model.Edge {
	e := model.Edge{
		ID: fmt.Sprintf("%s->%s:%d", from, to, svc.port), From: from, To: to, Port: svc.port,
		Protocol: svc.protocol, ProtocolSource: "port-name",
		Encryption: model.EncryptionPlaintext, EncryptionSource: "port-convention",
		Via:      "Service " + ns + "/" + svc.name,
		Declared: declared, Observed: observed,
		Evidence: []model.Evidence{ev},
	}
	if !declared {
		e.Evidence = []model.Evidence{{Object: "flow " + from + " -> " + to, Detail: "412 connections, first seen 2026-01-02T02:00:00Z"}}
	}
	switch {
	case mesh:
		e.Encryption, e.EncryptionSource = model.EncryptionMTLS, "mesh-policy"
	case svc.engine != "":
		e.ProtocolSource = "well-known-port"
	case observed:
		e.Encryption, e.EncryptionSource = model.EncryptionUnknown, ""
	}
	return e
}
