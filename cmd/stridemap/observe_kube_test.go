package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/cluster/clustertest"
	"github.com/stridemap/stridemap/discover/flows"
)

// kubeShop is a real API server with the shop's pods and services, the
// shop's manifests, and a flow log of calls between its pods: to a pod's
// address, to a Service's ClusterIP (allocated by the server), and out of
// the cluster.
type kubeShop struct {
	srv                *clustertest.Server
	manifests, flowLog string
}

func newKubeShop(t *testing.T) kubeShop {
	t.Helper()
	srv := clustertest.Start(t)
	srv.CreateNamespace(t, "shop")
	ips := map[string]string{"loadgen": "10.244.1.2", "frontend": "10.244.1.3", "cart": "10.244.2.4", "payments": "10.244.2.5"}
	ports := map[string]int32{"loadgen": 8089, "frontend": 8080, "cart": 7070, "payments": 8443}
	for app, ip := range ips {
		srv.CreatePod(t, clustertest.DeploymentPod("shop", app, "x1", ip, ports[app]))
	}
	cart := srv.CreateService(t, clustertest.SelectorService("shop", "cart", 80, 7070))
	srv.CreateService(t, clustertest.SelectorService("shop", "payments", 8443, 8443))

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "shop.yaml"), shopManifests())
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	client := func(from, to string, port uint16, n uint64) flows.Flow {
		return flows.Flow{Key: flows.Key{Netns: 1, Role: flows.RoleClient, Local: netip.MustParseAddr(ips[from]), Remote: netip.MustParseAddr(to), Port: port},
			Node: "node-a", Comm: from, PID: 7, Opened: n, Closed: n, BytesSent: 10 * n, BytesReceived: 100 * n, FirstSeen: t0, LastSeen: t0.Add(time.Minute)}
	}
	logPath := filepath.Join(dir, "node-a.jsonl")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	err = flows.WriteLog(f, []flows.Flow{
		client("loadgen", ips["frontend"], 8080, 4),    // pod to pod
		client("frontend", cart.Spec.ClusterIP, 80, 2), // pod to Service
		client("frontend", ips["payments"], 8443, 1),   // pod to pod, declared through its Service
		client("frontend", "203.0.113.9", 443, 1),      // out of the cluster
	}, nil, flows.Summary{Node: "node-a", Started: t0, Duration: time.Minute, Events: 16, Flows: 4})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return kubeShop{srv: srv, manifests: filepath.Join(dir, "shop.yaml"), flowLog: logPath}
}

// kubeShopEdges are the observed edges kubeShop's flows make.
var kubeShopEdges = []string{
	"workload:shop/frontend->external:203.0.113.9:443 (observed only)",
	"workload:shop/frontend->workload:shop/cart:80 (declared)",
	"workload:shop/frontend->workload:shop/payments:8443 (declared)",
	"workload:shop/loadgen->workload:shop/frontend:8080 (observed only)",
}

// TestObserveKubeAPI names observed flows with the Pods and Services of a
// real API server (observe --kubeconfig): a pod calling another pod's IP
// and a Service's ClusterIP, which the server allocated, lands on the
// right workloads.
func TestObserveKubeAPI(t *testing.T) {
	shop := newKubeShop(t)
	srv, dir, logPath := shop.srv, filepath.Dir(shop.manifests), shop.flowLog
	c := newCLI(t)
	c.mustRun("scan", "-f", filepath.Join(dir, "shop.yaml"))
	r := c.mustRun("observe", "--flows", logPath, "--kubeconfig", srv.Kubeconfig)
	// 4 pods, 2 services and the API server's own Service default/kubernetes.
	if want := "inventory: 7 pods and services from " + srv.URL; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
	if want := "workload:shop/frontend->workload:shop/cart:80 (2 connections via Service shop/cart)"; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
	}
	got, _ := observedEdges(t, c)
	if want := kubeShopEdges; !slices.Equal(got, want) {
		t.Errorf("observed edges:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}

	// The two inventories exclude each other; an identity that may not
	// list pods is told what to grant, and nothing is stored.
	if r := c.run("", "observe", "--flows", logPath, "--kubeconfig", srv.Kubeconfig, "--inventory", filepath.Join(dir, "pods.json")); r.code != exitUsage || !strings.Contains(r.stderr, "use one") {
		t.Errorf("--inventory with --kubeconfig: exit %d\n%s", r.code, r.stderr)
	}
	if r := c.run("", "observe", "--flows", logPath, "--kubeconfig", srv.KubeconfigFor(t, "nobody")); r.code != exitUsage || !strings.Contains(r.stderr, "list on the resources pods and services") {
		t.Errorf("forbidden: exit %d\n%s", r.code, r.stderr)
	}
	if n := storedScans(t, c); n != 2 {
		t.Errorf("a failed observe must not store a scan: %d scans, want 2", n)
	}
}

// TestScanFlowsKubeAPI: scan --flows --kubeconfig names the flows' ends
// with the live API too, in the scan being built; an API server that
// cannot be reached is a problem of the scan, which is stored all the
// same, its flows named as well as they can be without it.
func TestScanFlowsKubeAPI(t *testing.T) {
	shop := newKubeShop(t)
	c := newCLI(t)
	r := c.mustRun("scan", "-f", shop.manifests, "--flows", shop.flowLog, "--kubeconfig", shop.srv.Kubeconfig)
	if want := "inventory: 7 pods and services from " + shop.srv.URL; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
	if got, _ := observedEdges(t, c); !slices.Equal(got, kubeShopEdges) {
		t.Errorf("observed edges:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(kubeShopEdges, "\n     "))
	}

	unreachable := unreachableKubeconfig(t)
	r = c.run("", "scan", "-f", shop.manifests, "--flows", shop.flowLog, "--kubeconfig", unreachable)
	if r.code != exitPartial || !strings.Contains(r.stderr, "cannot reach the Kubernetes API server at https://127.0.0.1:1") {
		t.Errorf("unreachable API server: exit %d\n%s", r.code, r.stderr)
	}
	if scans := c.mustRun("scans").stdout; !strings.Contains(scans, "partial (1 errors)") {
		t.Errorf("the scan must be stored although the API server was unreachable:\n%s", scans)
	}
	if r := c.run("", "scan", "-f", shop.manifests, "--inventory", "pods.json"); r.code != exitUsage || !strings.Contains(r.stderr, "add the flow logs with --flows") {
		t.Errorf("--inventory without --flows: exit %d\n%s", r.code, r.stderr)
	}
}
