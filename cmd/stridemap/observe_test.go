package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/flows"
	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/model"
)

// observeShop is the shop the observe tests scan: what its manifests
// declare, and which of it the tests make real traffic for.
const observeShop = `apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      containers:
      - name: frontend
        image: example/frontend:1
        ports: [{containerPort: 8080, name: http}]
        env:
        - {name: CART_ADDR, value: "cart:80"}
        - {name: PAYMENTS_URL, value: "https://payments:8443"}
        - {name: AUDIT_ADDR, value: "audit:9000"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  template:
    metadata: {labels: {app: cart}}
    spec:
      containers:
      - name: cart
        image: example/cart:1
        ports: [{containerPort: 7070, name: grpc}]
        env: [{name: REDIS_ADDR, value: "redis:6379"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: payments, namespace: shop}
spec:
  selector: {matchLabels: {app: payments}}
  template:
    metadata: {labels: {app: payments}}
    spec:
      containers: [{name: payments, image: example/payments:1, ports: [{containerPort: 8443}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: audit, namespace: shop}
spec:
  selector: {matchLabels: {app: audit}}
  template:
    metadata: {labels: {app: audit}}
    spec:
      containers: [{name: audit, image: example/audit:1, ports: [{containerPort: 9000}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: loadgen, namespace: shop}
spec:
  selector: {matchLabels: {app: loadgen}}
  template:
    metadata: {labels: {app: loadgen}}
    spec:
      containers: [{name: loadgen, image: example/loadgen:1}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis, namespace: shop}
spec:
  serviceName: redis
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec:
      containers: [{name: redis, image: redis:7, ports: [{containerPort: 6379}]}]
`

// shopServices are the Services, with the ClusterIPs the inventory gives
// them: name → port, targetPort, ClusterIP.
var shopServices = []struct {
	name      string
	port, tgt int
	clusterIP string
}{
	{"frontend", 8080, 8080, "10.96.0.8"},
	{"cart", 80, 7070, "10.96.0.10"},
	{"payments", 8443, 8443, "10.96.0.11"},
	{"redis", 6379, 6379, "10.96.0.12"},
	{"audit", 9000, 9000, "10.96.0.13"},
}

func shopManifests() string {
	var b strings.Builder
	b.WriteString(observeShop)
	for _, s := range shopServices {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: shop}\nspec:\n  selector: {app: %s}\n  ports: [{port: %d, targetPort: %d}]\n", s.name, s.name, s.port, s.tgt)
	}
	return b.String()
}

// shopInventory is what "kubectl get pods,services -o json" would print
// for the shop, with the given pod addresses.
func shopInventory(t *testing.T, ips map[string]netip.Addr) []byte {
	t.Helper()
	var items []any
	ports := map[string][]any{
		"frontend": {map[string]any{"containerPort": 8080, "name": "http"}}, "cart": {map[string]any{"containerPort": 7070, "name": "grpc"}},
		"payments": {map[string]any{"containerPort": 8443}}, "audit": {map[string]any{"containerPort": 9000}}, "redis": {map[string]any{"containerPort": 6379}},
	}
	for app, ip := range ips {
		meta := map[string]any{"namespace": "shop", "uid": fmt.Sprintf("0000000%d-1111-2222-3333-444444444444", len(items)),
			"labels": map[string]any{"app": app, "pod-template-hash": "5d8f"}}
		owner := map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": app + "-5d8f", "uid": "x", "controller": true}
		meta["name"] = app + "-5d8f-x1"
		if app == "redis" {
			owner["kind"], owner["name"], meta["name"] = "StatefulSet", "redis", "redis-0"
		}
		meta["ownerReferences"] = []any{owner}
		items = append(items, map[string]any{
			"apiVersion": "v1", "kind": "Pod", "metadata": meta,
			"spec":   map[string]any{"containers": []any{map[string]any{"name": app, "image": "example/" + app, "ports": ports[app]}}},
			"status": map[string]any{"phase": "Running", "podIP": ip.String(), "podIPs": []any{map[string]any{"ip": ip.String()}}},
		})
	}
	for _, s := range shopServices {
		items = append(items, map[string]any{
			"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": s.name, "namespace": "shop"},
			"spec": map[string]any{"clusterIP": s.clusterIP, "selector": map[string]any{"app": s.name},
				"ports": []any{map[string]any{"port": s.port, "targetPort": s.tgt, "protocol": "TCP"}}},
		})
	}
	b, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// observedEdges lists the observed edges of the latest scan's graph.
func observedEdges(t *testing.T, c *cli) ([]string, *export.GraphDocument) {
	t.Helper()
	doc, err := export.ReadGraphJSON(strings.NewReader(c.mustRun("graph").stdout))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range doc.Edges {
		if e.Observed {
			kind := "observed only"
			if e.Declared {
				kind = "declared"
			}
			got = append(got, fmt.Sprintf("%s (%s)", e.ID, kind))
		}
	}
	slices.Sort(got)
	return got, doc
}

func edge(doc *export.GraphDocument, id string) *model.Edge {
	for i := range doc.Edges {
		if doc.Edges[i].ID == id {
			return &doc.Edges[i]
		}
	}
	return nil
}

// TestObserveMergesFlowLogs merges a recorded flow log into a scan, as
// "stridemap observe --flows" does for logs from other nodes: no privileges.
func TestObserveMergesFlowLogs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "shop.yaml"), shopManifests())
	ips := map[string]netip.Addr{}
	for i, app := range []string{"loadgen", "frontend", "cart", "redis", "payments", "audit"} {
		ips[app] = netip.AddrFrom4([4]byte{10, 200, 0, byte(2 + i)})
	}
	writeFile(t, filepath.Join(dir, "pods.json"), string(shopInventory(t, ips)))
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	fl := func(role flows.Role, netns uint32, local, remote netip.Addr, port uint16, n uint64) flows.Flow {
		return flows.Flow{Key: flows.Key{Netns: netns, Role: role, Local: local, Remote: remote, Port: port},
			Node: "node-a", Comm: "app", PID: 7, Opened: n, Closed: n, BytesSent: 100 * n, BytesReceived: 1000 * n, FirstSeen: t0, LastSeen: t0.Add(time.Minute)}
	}
	cartIP := netip.MustParseAddr("10.96.0.10")
	logPath := filepath.Join(dir, "node-a.jsonl")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	toCart := fl(flows.RoleClient, 2, ips["frontend"], cartIP, 80, 2)
	toCart.Protocols, toCart.Encryption = map[string]uint64{"http2": 2}, map[string]uint64{"plaintext": 2}
	toPayments := fl(flows.RoleClient, 2, ips["frontend"], ips["payments"], 8443, 1)
	toPayments.Protocols, toPayments.Encryption = map[string]uint64{"http": 1}, map[string]uint64{"plaintext": 1}
	err = flows.WriteLog(f, []flows.Flow{
		fl(flows.RoleClient, 1, ips["loadgen"], ips["frontend"], 8080, 4),
		toCart, toPayments,
		fl(flows.RoleServer, 3, ips["cart"], ips["frontend"], 7070, 2),
		fl(flows.RoleClient, 3, ips["cart"], ips["redis"], 6379, 5),
		fl(flows.RoleClient, 2, ips["frontend"], netip.MustParseAddr("203.0.113.9"), 443, 1),
	}, nil, flows.Summary{Node: "node-a", Started: t0, Duration: time.Minute, Events: 30, Flows: 6})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}

	c := newCLI(t)
	c.mustRun("scan", "-f", filepath.Join(dir, "shop.yaml"))
	r := c.mustRun("observe", "--flows", logPath, "--inventory", filepath.Join(dir, "pods.json"))
	for _, want := range []string{
		"Scan #2 stored: scan #1 with 5 observed flows merged in",
		"Observed and declared: 3\n  workload:shop/cart->workload:shop/redis:6379 (5 connections via Service shop/redis)\n" +
			"  workload:shop/frontend->workload:shop/cart:80 (2 connections via Service shop/cart; http2 plaintext)\n" +
			"  workload:shop/frontend->workload:shop/payments:8443 (1 connections via Service shop/payments; http plaintext)",
		"Observed, not declared: 2\n  workload:shop/frontend->external:203.0.113.9:443 (1 connections)\n  workload:shop/loadgen->workload:shop/frontend:8080 (4 connections)",
		"Declared, not observed: 1\n  workload:shop/frontend->workload:shop/audit:9000",
		"Plaintext on the wire where encryption is declared: 1\n  workload:shop/frontend->workload:shop/payments:8443 (tls by URL scheme https://)",
		"Findings:",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("observe output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "observed 6 flows on node-a in 1m0s from 30 events; nothing lost") {
		t.Errorf("stderr: %s", r.stderr)
	}
	got, doc := observedEdges(t, c)
	want := []string{
		"workload:shop/cart->workload:shop/redis:6379 (declared)",
		"workload:shop/frontend->external:203.0.113.9:443 (observed only)",
		"workload:shop/frontend->workload:shop/cart:80 (declared)",
		"workload:shop/frontend->workload:shop/payments:8443 (declared)",
		"workload:shop/loadgen->workload:shop/frontend:8080 (observed only)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("observed edges:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if p := edge(doc, "workload:shop/frontend->workload:shop/payments:8443"); p.Encryption != model.EncryptionTLS || p.Observation.Encryption != model.EncryptionPlaintext {
		t.Errorf("payments edge: declared %s, on the wire %s: both must show", p.Encryption, p.Observation.Encryption)
	}
	e := edge(doc, "workload:shop/frontend->workload:shop/cart:80")
	if o := e.Observation; o == nil || o.Connections != 2 || o.BytesSent != 200 || o.BytesReceived != 2000 || !o.FirstSeen.Equal(t0) ||
		!slices.Equal(o.Sources, []string{"flow-log"}) || len(e.Evidence) < 2 {
		t.Errorf("frontend->cart edge: %+v observation %+v", e, e.Observation)
	}
	if egress := edge(doc, "workload:shop/frontend->external:203.0.113.9:443"); egress == nil || !slices.Contains(egress.Crosses, model.InternetBoundaryID) {
		t.Errorf("egress edge should cross into the internet boundary: %+v", egress)
	}
	if scans := c.mustRun("scans").stdout; !strings.Contains(scans, "node-a.jsonl") {
		t.Errorf("scans should name the flow log as a source of scan #2:\n%s", scans)
	}

	// A directory of a node's exports (two intervals here) is read whole,
	// hidden files left alone, and its summaries add up to one line.
	exports := filepath.Join(dir, "exports", "node-a")
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"flows-node-a-20250301T120100Z.jsonl", "flows-node-a-20250301T120200Z.jsonl", ".flows-node-a-123.tmp.jsonl"} {
		if err := os.MkdirAll(exports, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(exports, name), string(b))
	}
	r = c.mustRun("observe", "--scan", "1", "--flows", filepath.Dir(exports), "--inventory", filepath.Join(dir, "pods.json"))
	if want := "workload:shop/loadgen->workload:shop/frontend:8080 (8 connections)"; !strings.Contains(r.stdout, want) {
		t.Errorf("observe --flows DIR: output lacks %q:\n%s", want, r.stdout)
	}
	if want := "observed 12 flows on node-a in 2m0s from 60 events; nothing lost\n"; !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "observed ") != 1 {
		t.Errorf("observe --flows DIR: stderr should have the one line %q:\n%s", want, r.stderr)
	}
}

func TestObserveErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad.jsonl"), `{"flow":{"role":"sideways"}}`+"\n")
	c := newCLI(t)
	if r := c.run("", "observe", "--flows", filepath.Join(dir, "bad.jsonl")); r.code != exitUsage || !strings.Contains(r.stderr, "run stridemap scan first") {
		t.Errorf("no scan yet: exit %d\n%s", r.code, r.stderr)
	}
	writeFile(t, filepath.Join(dir, "shop.yaml"), shopManifests())
	c.mustRun("scan", "-f", filepath.Join(dir, "shop.yaml"))
	if r := c.run("", "observe", "--flows", filepath.Join(dir, "bad.jsonl")); r.code == 0 || !strings.Contains(r.stderr, "bad.jsonl:1: unknown flow role") || !strings.Contains(r.stderr, "nothing was stored") {
		t.Errorf("bad flow log: exit %d\n%s", r.code, r.stderr)
	}
	if r := c.run("", "observe", "--observer", filepath.Join(dir, "no-such-observer"), "--duration", "1s"); r.code == 0 || !strings.Contains(r.stderr, "no-such-observer") {
		t.Errorf("missing observer: exit %d\n%s", r.code, r.stderr)
	}
	if n := storedScans(t, c); n != 1 {
		t.Errorf("a failed observe must not store a scan: %d scans", n)
	}
}

// TestObserveMergesHubbleFlows: "hubble observe -o json" output merges
// like the observer's own log; pods are named by Hubble.
func TestObserveMergesHubbleFlows(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "shop.yaml"), shopManifests())
	ips := map[string]netip.Addr{"frontend": netip.MustParseAddr("10.244.1.5"), "cart": netip.MustParseAddr("10.244.2.7")}
	writeFile(t, filepath.Join(dir, "pods.json"), string(shopInventory(t, ips)))
	syn := func(at, dir string, src, dst string, dport int, srcPod, dstPod string) string {
		return fmt.Sprintf(`{"flow":{"time":%q,"verdict":"FORWARDED","IP":{"source":%q,"destination":%q,"ipVersion":"IPv4"},`+
			`"l4":{"TCP":{"source_port":40000,"destination_port":%d,"flags":{"SYN":true}}},"source":{"namespace":"shop","pod_name":%q},`+
			`"destination":{"namespace":"shop","pod_name":%q},"Type":"L3_L4","node_name":"kind-worker","traffic_direction":%q,"is_reply":false,"Summary":"TCP Flags: SYN"},"node_name":"kind-worker","time":%q}`,
			at, src, dst, dport, srcPod, dstPod, dir, at)
	}
	log := syn("2025-03-01T12:00:00Z", "EGRESS", "10.244.1.5", "10.244.2.7", 7070, "frontend-5d8f-x1", "cart-5d8f-x1") + "\n" +
		syn("2025-03-01T12:00:00.001Z", "INGRESS", "10.244.1.5", "10.244.2.7", 7070, "frontend-5d8f-x1", "cart-5d8f-x1") + "\n"
	writeFile(t, filepath.Join(dir, "hubble.jsonl"), log)
	c := newCLI(t)
	c.mustRun("scan", "-f", filepath.Join(dir, "shop.yaml"))
	r := c.mustRun("observe", "--flows", filepath.Join(dir, "hubble.jsonl"), "--inventory", filepath.Join(dir, "pods.json"))
	// Hubble reports the pod port, after the Service's translation: the
	// flow is the declared one through the Service.
	if !strings.Contains(r.stdout, "Observed and declared: 1\n  workload:shop/frontend->workload:shop/cart:80 (1 connections via Service shop/cart)") {
		t.Errorf("observe output:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "observed 2 flows on hubble") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

// TestObserveLinksNoGraphviz: "stridemap observe" may be run with sudo, so
// stridemap must not link go-graphviz, whose start-up compiles WebAssembly
// into a cache under $TMPDIR that another user could plant (Graphviz runs
// in stridemap-render; eBPF in stridemap-observer).
func TestObserveLinksNoGraphviz(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/goccy/go-graphviz") || strings.HasPrefix(dep, "github.com/tetratelabs/wazero") {
			t.Errorf("stridemap links %s", dep)
		}
	}
}

// storedScans is how many scans "stridemap scans" lists.
func storedScans(t *testing.T, c *cli) int {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(c.mustRun("scans").stdout), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("scans: no table:\n%s", strings.Join(lines, "\n"))
	}
	return len(lines) - 1
}
