//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/stridemap/stridemap/discover/flows/flowstest"
)

// deployment is a Deployment of namespace shop, app=name, with one
// container; extra adds fields to the container (flow-style YAML).
func deployment(name, extra string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: shop}
spec:
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers: [{name: %[1]s, image: example/%[1]s:1%[2]s}]
`, name, extra)
}

// cgroupShop declares web calling api; worker, legacy-api and the report
// CronJob run in the same namespace.
var cgroupShop = strings.Join([]string{
	deployment("web", `, env: [{name: API_URL, value: "http://api:8080"}]`),
	deployment("worker", ""),
	deployment("api", ""),
	deployment("legacy-api", ", ports: [{containerPort: 8080}]"),
	`apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: report, image: example/report:1}]
`,
	"apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop}\nspec: {selector: {app: api}, ports: [{port: 8080}]}\n",
	"apiVersion: v1\nkind: Service\nmetadata: {name: legacy-api, namespace: shop}\nspec: {selector: {app: legacy-api}, ports: [{port: 8080}]}\n",
}, "---\n")

// inventoryPod is one Pod of a "kubectl get pods -o json" List.
type inventoryPod struct {
	name, uid  string
	ownerKind  string // of the controller: ReplicaSet or Job
	ownerName  string
	ip         netip.Addr
	containers []any
}

func (p inventoryPod) item() map[string]any {
	labels, group := map[string]any{}, "batch/v1"
	if p.ownerKind == "ReplicaSet" {
		labels["pod-template-hash"] = p.ownerName[strings.LastIndex(p.ownerName, "-")+1:]
		group = "apps/v1"
	}
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": p.name, "namespace": "shop", "uid": p.uid, "labels": labels,
			"ownerReferences": []any{map[string]any{"apiVersion": group, "kind": p.ownerKind, "name": p.ownerName, "uid": "x", "controller": true}}},
		"spec":   map[string]any{"containers": p.containers},
		"status": map[string]any{"phase": "Running", "podIP": p.ip.String(), "podIPs": []any{map[string]any{"ip": p.ip.String()}}},
	}
}

// TestObserveResolvesByCgroup runs "stridemap observe" with the real
// observer while three pods, each with a cgroup of its own named as
// kubelet names it (systemd driver for web and api, cgroupfs for worker),
// run their server and clients as processes in it: web and worker call
// api. The inventory makes addresses misleading, as a stale or merged one
// does: another running pod has web's address, and legacy-api has api's
// and declares the port api serves on, which api does not (worker's
// address is its own). Only the sockets' cgroups name web and api: the
// scan must gain exactly web's and worker's calls to api, with their
// counts, and nothing else.
func TestObserveResolvesByCgroup(t *testing.T) {
	flowstest.NeedRoot(t)
	lab := flowstest.NewLab(t)
	web, worker, api := lab.AddPod("web"), lab.AddPod("worker"), lab.AddPod("api")
	// UIDs of this run only: the observer sees the whole machine, maybe
	// this test running elsewhere too.
	uid := func() string { return string(uuid.NewUUID()) }
	webUID, workerUID, apiUID := uid(), uid(), uid()
	container := func(n int) string { return fmt.Sprintf("%064x", n) }
	web.UseCgroup(flowstest.SystemdCgroup(webUID, container(1)))
	worker.UseCgroup(flowstest.CgroupfsCgroup(workerUID, container(2)))
	api.UseCgroup(flowstest.SystemdCgroup(apiUID, container(3)))

	named := func(name string) []any { return []any{map[string]any{"name": name, "image": "example/" + name}} }
	items := []any{
		inventoryPod{"web-6c7b9-a1", webUID, "ReplicaSet", "web-6c7b9", web.IP, named("web")}.item(),
		inventoryPod{"worker-58d4f-b2", workerUID, "ReplicaSet", "worker-58d4f", worker.IP, named("worker")}.item(),
		inventoryPod{"api-7f9c4-c3", apiUID, "ReplicaSet", "api-7f9c4", api.IP, named("api")}.item(), // declares no port
		// Running pods of other workloads at web's and api's addresses.
		inventoryPod{"report-29000000-d4", uid(), "Job", "report-29000000", web.IP, named("report")}.item(),
		inventoryPod{"legacy-api-6b8d2-e5", uid(), "ReplicaSet", "legacy-api-6b8d2", api.IP,
			[]any{map[string]any{"name": "legacy-api", "image": "example/legacy-api", "ports": []any{map[string]any{"containerPort": 8080}}}}}.item(),
	}
	for name, ip := range map[string]string{"api": "10.96.0.20", "legacy-api": "10.96.0.21"} {
		items = append(items, map[string]any{
			"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": name, "namespace": "shop"},
			"spec": map[string]any{"clusterIP": ip, "selector": map[string]any{"app": name},
				"ports": []any{map[string]any{"port": 8080, "targetPort": 8080, "protocol": "TCP"}}},
		})
	}
	inventory, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	if err != nil {
		t.Fatal(err)
	}
	c, wait := scanThenObserve(t, cgroupShop, inventory)
	// The observer learns who owns a listener when it sees listen(): the
	// server starts (as a pod may) while it observes.
	api.StartServer(8080)
	target := netip.AddrPortFrom(api.IP, 8080)
	web.RunClient(target, 2)
	worker.RunClient(target, 3)

	wait()
	doc := wantObservedEdges(t, c,
		"workload:shop/web->workload:shop/api:8080 (declared)",
		"workload:shop/worker->workload:shop/api:8080 (observed only)",
	)
	for id, n := range map[string]uint64{
		"workload:shop/web->workload:shop/api:8080":    2,
		"workload:shop/worker->workload:shop/api:8080": 3,
	} {
		if e := edge(doc, id); e == nil || e.Observation == nil {
			t.Errorf("%s: not observed", id)
		} else if o := e.Observation; o.Connections != n || o.Failed != 0 || o.BytesSent == 0 || o.BytesReceived == 0 || !slices.Equal(o.Sources, []string{"ebpf"}) {
			t.Errorf("%s: want %d connections with bytes both ways, from ebpf; got %+v", id, n, o)
		}
	}
}
