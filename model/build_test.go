package model_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
)

// build decodes YAML documents as one file and builds the graph.
func build(t *testing.T, docs ...string) *model.Graph {
	t.Helper()
	return model.Build(modeltest.Decode(t, docs...))
}

func TestDeclaredFlows(t *testing.T) {
	backends := []string{
		modeltest.Deployment("shop", "cart"), modeltest.Service("shop", "cart"),
		modeltest.Deployment("data", "db", "ports: [{containerPort: 5432}]"), modeltest.Service("data", "db", "{port: 5432, name: tcp-postgres}"),
		`apiVersion: v1
kind: Namespace
metadata: {name: data}`,
	}
	tests := []struct {
		name      string
		client    []string
		wantEdges []string
		dangling  []string
	}{
		{"svc:port", []string{modeltest.Deployment("shop", "web", modeltest.Env("CART_ADDR", "cart:80"))},
			[]string{"workload:shop/web->workload:shop/cart:80"}, nil},
		{"bare svc under an address name", []string{modeltest.Deployment("shop", "web", modeltest.Env("CART_HOST", "cart"))},
			[]string{"workload:shop/web->workload:shop/cart:80"}, nil},
		{"bare word under another name is not an address", []string{modeltest.Deployment("shop", "web", modeltest.Env("MODE", "cart"))}, nil, nil},
		{"svc.ns", []string{modeltest.Deployment("shop", "web", modeltest.Env("DB", "db.data:5432"))},
			[]string{"workload:shop/web->workload:data/db:5432"}, nil},
		{"cluster FQDN URL", []string{modeltest.Deployment("shop", "web", modeltest.Env("CART_URL", "http://cart.shop.svc.cluster.local/api"))},
			[]string{"workload:shop/web->workload:shop/cart:80"}, nil},
		{"connection string", []string{modeltest.Deployment("shop", "web", modeltest.Env("DATABASE_URL", "postgres://app@db.data:5432/app?sslmode=require"))},
			[]string{"workload:shop/web->workload:data/db:5432"}, nil},
		{"connection string default port", []string{modeltest.Deployment("shop", "web", modeltest.Env("DATABASE_URL", "postgresql://db.data.svc/app"))},
			[]string{"workload:shop/web->workload:data/db:5432"}, nil},
		{"jdbc in args", []string{modeltest.Deployment("shop", "web", "args: [\"-Dspring.datasource.url=jdbc:postgresql://db.data:5432/x\"]")},
			[]string{"workload:shop/web->workload:data/db:5432"}, nil},
		{"flag then value", []string{modeltest.Deployment("shop", "web", "args: [\"--cart-host\", \"cart\"]")},
			[]string{"workload:shop/web->workload:shop/cart:80"}, nil},
		{"$(VAR) in args", []string{modeltest.Deployment("shop", "web", modeltest.Env("TARGET", "cart:80"), "args: [\"--upstream=$(TARGET)\"]")},
			[]string{"workload:shop/web->workload:shop/cart:80"}, nil},
		{"configMapKeyRef", []string{
			modeltest.Deployment("shop", "web", "env:\n- name: CART_ADDR\n  valueFrom: {configMapKeyRef: {name: cfg, key: cart}}"),
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop}\ndata: {cart: \"cart:80\"}",
		}, []string{"workload:shop/web->workload:shop/cart:80"}, nil},
		{"envFrom", []string{
			modeltest.Deployment("shop", "web", "envFrom: [{configMapRef: {name: cfg}}]"),
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop}\ndata: {DB_HOST: db.data, LOG: debug}",
		}, []string{"workload:shop/web->workload:data/db:5432"}, nil},
		{"mounted config file", []string{
			modeltest.Deployment("shop", "web", "volumeMounts: [{name: conf, mountPath: /etc/nginx}]") + "\n      volumes: [{name: conf, configMap: {name: nginx}}]",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nginx, namespace: shop}\ndata:\n  nginx.conf: |\n    # docs at https://nginx.org/en/docs/\n    location / { proxy_pass http://cart:80; }\n    server_name shop.example.com;",
		}, []string{"workload:shop/web->workload:shop/cart:80"}, nil},
		{"external host", []string{modeltest.Deployment("shop", "web", modeltest.Env("PSP_URL", "https://api.payments.example.com/v1"))},
			[]string{"workload:shop/web->external:api.payments.example.com:443"}, nil},
		{"missing service is dangling", []string{modeltest.Deployment("shop", "web", modeltest.Env("RECOMMENDER_ADDR", "recommender:8080"))},
			nil, []string{"workload:shop/web => recommender:8080"}},
		{"wrong port is dangling", []string{modeltest.Deployment("shop", "web", modeltest.Env("CART_ADDR", "cart:9999"))},
			nil, []string{"workload:shop/web => cart:9999"}},
		{"unscanned namespace is dangling", []string{modeltest.Deployment("shop", "web", modeltest.Env("AUTH_ADDR", "auth.identity:80"))},
			nil, []string{"workload:shop/web => auth.identity:80"}},
		{"credential values are never parsed", []string{modeltest.Deployment("shop", "web", modeltest.Env("DB_PASSWORD", "cart:80"))}, nil, nil},
		{"localhost is the workload itself", []string{modeltest.Deployment("shop", "web", modeltest.Env("SIDECAR_ADDR", "localhost:15000"))}, nil, nil},
		{"own service is no edge", []string{modeltest.Deployment("shop", "solo", modeltest.Env("SELF_URL", "http://solo:80")), modeltest.Service("shop", "solo")}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, append(slices.Clone(backends), tc.client...)...)
			if got := modeltest.EdgeIDs(g); !slices.Equal(got, tc.wantEdges) {
				t.Errorf("edges = %v\nwant    %v", got, tc.wantEdges)
			}
			if got := modeltest.DanglingTargets(g); !slices.Equal(got, tc.dangling) {
				t.Errorf("dangling = %v\nwant       %v", got, tc.dangling)
			}
		})
	}
}

func TestEdgeDetails(t *testing.T) {
	g := build(t,
		modeltest.Deployment("shop", "web", modeltest.Env("DATABASE_URL", "postgres://app:hunter2@db:5432/app?sslmode=disable", "CART_ADDR", "cart:7070")),
		modeltest.Deployment("shop", "db", "ports: [{containerPort: 5432}]"), modeltest.Service("shop", "db", "{port: 5432, name: tcp-postgres}"),
		modeltest.Deployment("shop", "cart", "ports: [{name: grpc, containerPort: 7070}]"), modeltest.Service("shop", "cart", "{port: 7070, targetPort: grpc}"),
	)
	db := modeltest.Edge(t, g, "workload:shop/web->workload:shop/db:5432")
	if db.Protocol != "postgres" || db.Encryption != model.EncryptionPlaintext || !strings.Contains(db.EncryptionSource, "sslmode=disable") {
		t.Errorf("db edge = %s/%s (%s)", db.Protocol, db.Encryption, db.EncryptionSource)
	}
	if db.Via != "Service shop/db" || !db.Declared || db.Observed {
		t.Errorf("db edge via %q declared %v observed %v", db.Via, db.Declared, db.Observed)
	}
	if len(db.Evidence) != 2 || db.Evidence[0].File != "test.yaml" || db.Evidence[0].Line == 0 ||
		db.Evidence[0].Field != "spec.template.spec.containers[0].env[0].value" || db.Evidence[1].Field != "spec.selector" {
		t.Errorf("db evidence = %+v", db.Evidence)
	}
	blob, _ := json.Marshal(g)
	if strings.Contains(string(blob), "hunter2") {
		t.Error("the password from the connection string reached the graph")
	}
	cart := modeltest.Edge(t, g, "workload:shop/web->workload:shop/cart:7070")
	if cart.Protocol != "grpc" || cart.ProtocolSource != "port-name" {
		t.Errorf("cart edge protocol = %s from %s, want grpc from the named target port", cart.Protocol, cart.ProtocolSource)
	}
	if n := g.Node("workload:shop/db"); n == nil || n.Type != model.DataStore || n.DataStore.Engine != "postgres" {
		t.Errorf("db node = %+v, want a postgres data store", n)
	}
}

func TestExposure(t *testing.T) {
	tests := []struct {
		name string
		docs []string
		want []string
	}{
		{"LoadBalancer", []string{modeltest.Deployment("shop", "web"), strings.Replace(modeltest.Service("shop", "web"), "spec:", "spec:\n  type: LoadBalancer", 1)},
			[]string{"external:internet->workload:shop/web:80"}},
		{"internal LoadBalancer", []string{modeltest.Deployment("shop", "web"), strings.Replace(
			strings.Replace(modeltest.Service("shop", "web"), "spec:", "spec:\n  type: LoadBalancer", 1),
			"namespace: shop", "namespace: shop\n  annotations: {networking.gke.io/load-balancer-type: Internal}", 1)}, nil},
		{"NodePort", []string{modeltest.Deployment("shop", "web"), strings.Replace(modeltest.Service("shop", "web", "{port: 80, nodePort: 30080}"), "spec:", "spec:\n  type: NodePort", 1)},
			[]string{"external:internet->workload:shop/web:30080"}},
		{"hostPort", []string{modeltest.Deployment("shop", "web", "ports: [{containerPort: 8080, hostPort: 8080}]")},
			[]string{"external:internet->workload:shop/web:8080"}},
		{"hostNetwork", []string{strings.Replace(modeltest.Deployment("shop", "agent", "ports: [{containerPort: 9100}]"), "      containers:", "      hostNetwork: true\n      containers:", 1)},
			[]string{"external:internet->workload:shop/agent:9100"}},
		{"ClusterIP is not exposed", []string{modeltest.Deployment("shop", "web"), modeltest.Service("shop", "web")}, nil},
		{"Ingress with TLS", []string{modeltest.Deployment("shop", "web"), modeltest.Service("shop", "web"), `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: edge, namespace: shop}
spec:
  tls: [{hosts: [shop.example.com], secretName: tls}]
  rules:
  - host: shop.example.com
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}]`},
			[]string{"external:internet->gateway:shop/edge:443", "gateway:shop/edge->workload:shop/web:80"}},
		{"Gateway API", []string{modeltest.Deployment("shop", "web"), modeltest.Service("shop", "web"), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec:
  gatewayClassName: istio
  listeners: [{name: https, port: 443, protocol: HTTPS}]`, `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: web, port: 80}]}]`},
			[]string{"external:internet->gateway:shop/gw:443", "gateway:shop/gw->workload:shop/web:80"}},
		{"Istio Gateway and VirtualService", []string{modeltest.Deployment("shop", "web"), modeltest.Service("shop", "web"), `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: ["*"]
  gateways: [gw]
  http: [{route: [{destination: {host: web, port: {number: 80}}}]}]`},
			[]string{"external:internet->gateway:shop/gw:80", "gateway:shop/gw->workload:shop/web:80"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, tc.docs...)
			if got := modeltest.EdgeIDs(g); !slices.Equal(got, tc.want) {
				t.Errorf("edges = %v\nwant    %v", got, tc.want)
			}
			for _, e := range g.Edges {
				if e.From != model.InternetID {
					continue
				}
				if n := g.Node(e.To); n == nil || len(n.Exposure) == 0 {
					t.Errorf("%s is reached from the internet but has no exposure recorded", e.To)
				}
				if !slices.Contains(e.Crosses, model.InternetBoundaryID) {
					t.Errorf("%s does not cross the internet boundary: %v", e.ID, e.Crosses)
				}
			}
		})
	}
}

func TestIngressEncryption(t *testing.T) {
	g := build(t, modeltest.Deployment("shop", "web"), modeltest.Service("shop", "web"), `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: edge, namespace: shop}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}`)
	in := modeltest.Edge(t, g, "external:internet->gateway:shop/edge:80")
	if in.Encryption != model.EncryptionPlaintext {
		t.Errorf("an Ingress without TLS should be plaintext, got %s", in.Encryption)
	}
	back := modeltest.Edge(t, g, "gateway:shop/edge->workload:shop/web:80")
	if back.Protocol != "http" || back.Encryption != model.EncryptionPlaintext {
		t.Errorf("ingress backend = %s/%s", back.Protocol, back.Encryption)
	}
}

func TestMeshEncryption(t *testing.T) {
	base := []string{modeltest.Deployment("shop", "web", modeltest.Env("CART_ADDR", "http://cart:80")), modeltest.Deployment("shop", "cart"), modeltest.Service("shop", "cart")}
	tests := []struct {
		name   string
		policy string
		want   model.Encryption
	}{
		{"no mesh policy: the URL says plaintext", "", model.EncryptionPlaintext},
		{"DestinationRule ISTIO_MUTUAL", `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: cart, namespace: shop}
spec: {host: cart, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}`, model.EncryptionMTLS},
		{"DestinationRule wildcard", `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: all, namespace: shop}
spec: {host: "*.shop.svc.cluster.local", trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}`, model.EncryptionMTLS},
		{"PeerAuthentication STRICT", `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: STRICT}}`, model.EncryptionMTLS},
		{"PeerAuthentication PERMISSIVE changes nothing", `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: PERMISSIVE}}`, model.EncryptionPlaintext},
		{"the later DestinationRule for a host wins", `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: first, namespace: shop}
spec: {host: cart, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: second, namespace: shop}
spec: {host: cart.shop.svc.cluster.local, trafficPolicy: {tls: {mode: DISABLE}}}`, model.EncryptionPlaintext},
		{"STRICT PeerAuthentication wins over a DestinationRule", `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: cart, namespace: shop}
spec: {selector: {matchLabels: {app: cart}}, mtls: {mode: STRICT}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: cart, namespace: shop}
spec: {host: cart, trafficPolicy: {tls: {mode: DISABLE}}}`, model.EncryptionMTLS},
		{"PeerAuthentication selecting other pods changes nothing", `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: web, namespace: shop}
spec: {selector: {matchLabels: {app: web}}, mtls: {mode: STRICT}}`, model.EncryptionPlaintext},
		{"PeerAuthentication of another namespace changes nothing", `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: data}
spec: {mtls: {mode: STRICT}}`, model.EncryptionPlaintext},
		{"mesh-wide PeerAuthentication in istio-system", `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}`, model.EncryptionMTLS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs := slices.Clone(base)
			if tc.policy != "" {
				docs = append(docs, tc.policy)
			}
			g := build(t, docs...)
			e := modeltest.Edge(t, g, "workload:shop/web->workload:shop/cart:80")
			if e.Encryption != tc.want {
				t.Errorf("encryption = %s (%s), want %s", e.Encryption, e.EncryptionSource, tc.want)
			}
		})
	}
}

func TestBoundaries(t *testing.T) {
	g := build(t,
		modeltest.Deployment("shop", "web", modeltest.Env("DB_ADDR", "db.data:5432")),
		modeltest.Deployment("data", "db"), modeltest.Service("data", "db", "{port: 5432}"),
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: data}",
	)
	e := modeltest.Edge(t, g, "workload:shop/web->workload:data/db:5432")
	want := []string{model.NamespaceBoundaryID("data"), model.NamespaceBoundaryID("shop")}
	if !slices.Equal(e.Crosses, want) {
		t.Errorf("crosses = %v, want %v", e.Crosses, want)
	}
	var ids []string
	for _, b := range g.Boundaries {
		ids = append(ids, b.ID)
	}
	if !slices.Equal(ids, []string{model.ClusterBoundaryID, "boundary:namespace:data", "boundary:namespace:shop"}) {
		t.Errorf("boundaries = %v", ids)
	}
}

func TestNodeIDsStayUnique(t *testing.T) {
	g := build(t, modeltest.Deployment("shop", "x"), strings.Replace(modeltest.Deployment("shop", "x"), "kind: Deployment", "kind: StatefulSet", 1))
	if len(g.Nodes) != 2 || g.Nodes[0].ID == g.Nodes[1].ID {
		t.Fatalf("nodes = %v", g.Nodes)
	}
}

// TestTargetPorts: a flow through a Service, or to a hostPort, records
// the pod port it reaches when that is another port (numbered, or named by
// a container), so that flows seen between pods, and NetworkPolicies,
// find it.
func TestTargetPorts(t *testing.T) {
	g := build(t,
		modeltest.Deployment("shop", "cart"), modeltest.Service("shop", "cart"),
		modeltest.Deployment("shop", "ads", "ports: [{name: grpc, containerPort: 9555}]"), modeltest.Service("shop", "ads", "{port: 9555, targetPort: grpc}"),
		modeltest.Deployment("shop", "auth", "ports: [{name: web, containerPort: 3000}]"), modeltest.Service("shop", "auth", "{port: 80, targetPort: web}"),
		modeltest.Deployment("shop", "web", modeltest.Env("CART_ADDR", "cart:80", "ADS_ADDR", "ads:9555", "AUTH_URL", "http://auth")),
		modeltest.Deployment("edge", "proxy", "ports: [{name: https, containerPort: 8443, hostPort: 443}, {containerPort: 9000, hostPort: 9000}]"),
	)
	want := map[string]int32{
		"workload:shop/web->workload:shop/cart:80":    8080,
		"workload:shop/web->workload:shop/ads:9555":   0, // the same port
		"workload:shop/web->workload:shop/auth:80":    3000,
		"external:internet->workload:edge/proxy:443":  8443,
		"external:internet->workload:edge/proxy:9000": 0,
	}
	for id, port := range want {
		if e := modeltest.Edge(t, g, id); e.TargetPort != port {
			t.Errorf("%s: target port %d, want %d", id, e.TargetPort, port)
		}
	}
}

// TestUnreadConfig: a config file the command line names is unread unless
// a ConfigMap in the input is mounted at that path, so rules about absent
// settings know when they cannot tell.
func TestUnreadConfig(t *testing.T) {
	const conf = `
apiVersion: v1
kind: ConfigMap
metadata: {name: redis-conf, namespace: cache}
data:
  redis.conf: "requirepass x\n"
`
	for _, tc := range []struct {
		name, spec string
		want       string
	}{
		{"written by an init container", `args: ["/data/conf/redis.conf"]`, "/data/conf/redis.conf"},
		{"mounted whole from a ConfigMap", `args: ["/etc/redis/redis.conf"]
          volumeMounts: [{name: conf, mountPath: /etc/redis}]`, ""},
		{"mounted by subPath", `command: ["redis-server", "/usr/local/etc/redis.conf"]
          volumeMounts: [{name: conf, mountPath: /usr/local/etc/redis.conf, subPath: redis.conf}]`, ""},
		{"flag naming a missing file", `args: ["--config=/etc/app/app.yaml", "--port", "80"]
          volumeMounts: [{name: conf, mountPath: /etc/redis}]`, "/etc/app/app.yaml"},
		{"no config file", `args: ["--appendonly", "yes", "/data"]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, conf, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: redis, namespace: cache}
spec:
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec:
      volumes: [{name: conf, configMap: {name: redis-conf}}]
      containers:
        - name: redis
          image: redis:7
          `+tc.spec)
			n := g.Node("workload:cache/redis")
			if n == nil || n.Workload == nil || len(n.Workload.Containers) != 1 {
				t.Fatalf("no redis workload in %v", g.Nodes)
			}
			if got := strings.Join(n.Workload.Containers[0].UnreadConfig, ","); got != tc.want {
				t.Errorf("unread config %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEvidenceSharesText checks that evidence naming the same object,
// field or detail holds one string, not a copy per control or edge: the
// graph of a large scan is mostly evidence.
func TestEvidenceSharesText(t *testing.T) {
	g := build(t,
		modeltest.Deployment("shop", "web", modeltest.Env("CART_ADDR", "cart:80"), modeltest.Env("CART_HOST", "cart")),
		modeltest.Deployment("shop", "cart"), modeltest.Service("shop", "cart"))
	first := map[string]*byte{}
	repeated := 0
	g.EachEvidence(func(e *model.Evidence) {
		for _, s := range []string{e.File, e.Object, e.Field, e.Detail} {
			if s == "" {
				continue
			}
			p, ok := first[s]
			if !ok {
				first[s] = unsafe.StringData(s)
				continue
			}
			repeated++
			if p != unsafe.StringData(s) {
				t.Errorf("evidence text %q is held twice", s)
			}
		}
	})
	if repeated == 0 {
		t.Fatal("no evidence text repeats: the fixture does not test sharing")
	}
}
