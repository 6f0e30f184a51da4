package model_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
)

// TestScrapeAnnotationRoles holds that a Prometheus scrapes by a pod's
// prometheus.io/scrape annotation only when its configuration keeps pods
// by it, and by a Service's only when it keeps Services by it.
func TestScrapeAnnotationRoles(t *testing.T) {
	podJob := `      - job_name: kubernetes-pods
        kubernetes_sd_configs: [{role: pod}]
        relabel_configs:
          - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], action: keep, regex: true}`
	serviceJob := `      - job_name: kubernetes-service-endpoints
        kubernetes_sd_configs: [{role: endpoints}]
        relabel_configs:
          - {source_labels: [__meta_kubernetes_service_annotation_prometheus_io_scrape], action: keep, regex: true}`
	prometheus := func(jobs ...string) []string {
		return []string{
			modeltest.Deployment("monitoring", "prometheus", "ports: [{containerPort: 9090}]") + "\n      volumes: [{name: config, configMap: {name: prometheus}}]",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: prometheus, namespace: monitoring}\ndata:\n  prometheus.yml: |\n    scrape_configs:\n" + strings.Join(jobs, "\n"),
		}
	}
	targets := []string{
		`apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata:
      labels: {app: api}
      annotations: {prometheus.io/scrape: "true", prometheus.io/port: "9102"}
    spec:
      containers: [{name: api, image: example/api:1.0, ports: [{containerPort: 8080}, {containerPort: 9102}]}]`,
		modeltest.Deployment("shop", "web", "ports: [{name: http, containerPort: 8080}]"),
		`apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, annotations: {prometheus.io/scrape: "true"}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]`,
	}
	const (
		toPod     = "workload:monitoring/prometheus->workload:shop/api:9102"
		toService = "workload:monitoring/prometheus->workload:shop/web:8080"
	)
	tests := []struct {
		name string
		jobs []string
		want []string
	}{
		{"pod role keeps annotated pods only", []string{podJob}, []string{toPod}},
		{"endpoints role keeps annotated Services only", []string{serviceJob}, []string{toService}},
		{"both jobs", []string{podJob, serviceJob}, []string{toPod, toService}},
		{"static targets only", []string{"      - job_name: self\n        static_configs: [{targets: [localhost:9090]}]"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, append(prometheus(tc.jobs...), targets...)...)
			var got []string
			for _, id := range modeltest.EdgeIDs(g) {
				if strings.HasPrefix(id, "workload:monitoring/prometheus->") {
					got = append(got, id)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("scrape edges = %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestServiceMonitorNamespaceSelector holds that a Prometheus's
// serviceMonitorNamespaceSelector picks namespaces by the labels of their
// Namespace objects (and the name label every namespace carries), not
// only its own namespace.
func TestServiceMonitorNamespaceSelector(t *testing.T) {
	prometheus := func(nsSelector string) string {
		return "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata: {name: k8s, namespace: monitoring}\nspec:\n  serviceMonitorSelector: {}\n" + nsSelector
	}
	app := func(ns string, labels string) []string {
		return []string{
			"apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + ", labels: {" + labels + "}}",
			modeltest.Deployment(ns, "api", "ports: [{name: metrics, containerPort: 9102}]"),
			"apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: " + ns + ", labels: {app: api}}\nspec:\n  selector: {app: api}\n  ports: [{name: metrics, port: 9102, targetPort: metrics}]",
			"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: api, namespace: " + ns + "}\nspec:\n  selector: {matchLabels: {app: api}}\n  endpoints: [{port: metrics}]",
		}
	}
	const shop, legacy = "workload:monitoring/prometheus-k8s->workload:shop/api:9102", "workload:monitoring/prometheus-k8s->workload:legacy/api:9102"
	tests := []struct {
		name, selector string
		want           []string
	}{
		{"by label", "  serviceMonitorNamespaceSelector: {matchLabels: {monitoring: enabled}}", []string{shop}},
		{"by name label", "  serviceMonitorNamespaceSelector: {matchLabels: {kubernetes.io/metadata.name: legacy}}", []string{legacy}},
		{"every namespace", "  serviceMonitorNamespaceSelector: {}", []string{legacy, shop}},
		{"own namespace only", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs := append([]string{prometheus(tc.selector)}, app("shop", "monitoring: enabled")...)
			g := build(t, append(docs, app("legacy", "team: billing")...)...)
			if got := scrapeEdges(g); !slices.Equal(got, tc.want) {
				t.Errorf("scrape edges = %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestOperatorSettings holds that the config-reloader the Prometheus
// operator adds to each Prometheus pod runs the image its flag names and
// the resources it sets (10m CPU and 50Mi memory by default).
func TestOperatorSettings(t *testing.T) {
	prometheus := "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata: {name: k8s, namespace: monitoring}\nspec: {version: 2.53.1}"
	operator := func(container ...string) string {
		return modeltest.Deployment("monitoring", "prometheus-operator", container...)
	}
	tests := []struct {
		name          string
		docs          []string
		image         string
		cpu, memLimit string
	}{
		{"operator not read", nil, "quay.io/prometheus-operator/prometheus-config-reloader", "10m", "50Mi"},
		{"reloader flag", []string{operator(`args: ["--prometheus-config-reloader=quay.io/prometheus-operator/prometheus-config-reloader:v0.75.0", "--config-reloader-cpu-limit=0", "--config-reloader-memory-limit=64Mi"]`)},
			"quay.io/prometheus-operator/prometheus-config-reloader:v0.75.0", "", "64Mi"},
		{"operator image tag", []string{strings.Replace(operator(), "example/prometheus-operator:1.0", "quay.io/prometheus-operator/prometheus-operator:v0.75.1", 1)},
			"quay.io/prometheus-operator/prometheus-config-reloader:v0.75.1", "10m", "50Mi"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, append([]string{prometheus}, tc.docs...)...)
			n := g.Node("workload:monitoring/prometheus-k8s")
			if n == nil || n.Workload == nil {
				t.Fatal("no node for the Prometheus")
			}
			for _, c := range n.Workload.Containers {
				if c.Name != "config-reloader" {
					continue
				}
				if c.Image.Ref != tc.image || c.Resources.CPULimit != tc.cpu || c.Resources.MemoryLimit != tc.memLimit {
					t.Errorf("config-reloader runs %s with CPU limit %q, memory limit %q; want %s, %q, %q",
						c.Image.Ref, c.Resources.CPULimit, c.Resources.MemoryLimit, tc.image, tc.cpu, tc.memLimit)
				}
				return
			}
			t.Error("no config-reloader container")
		})
	}
}

// TestPodMonitorTargets holds that a PodMonitor reaches the pods its
// selector picks in its own namespace, or in the namespaces its
// namespaceSelector names, and no others.
func TestPodMonitorTargets(t *testing.T) {
	prometheus := "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata: {name: k8s, namespace: monitoring}\nspec:\n  podMonitorSelector: {}\n  podMonitorNamespaceSelector: {}"
	app := func(ns string) string {
		return modeltest.Deployment(ns, "api", "ports: [{name: metrics, containerPort: 9102}]")
	}
	podMonitor := func(ns, nsSelector string) string {
		return "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: api, namespace: " + ns + "}\nspec:\n" + nsSelector +
			"  selector: {matchLabels: {app: api}}\n  podMetricsEndpoints: [{port: metrics}]"
	}
	const shop, legacy = "workload:monitoring/prometheus-k8s->workload:shop/api:9102", "workload:monitoring/prometheus-k8s->workload:legacy/api:9102"
	tests := []struct {
		name, monitor string
		want          []string
	}{
		{"own namespace", podMonitor("shop", ""), []string{shop}},
		{"another namespace without a namespaceSelector", podMonitor("monitoring", ""), nil},
		{"matchNames", podMonitor("monitoring", "  namespaceSelector: {matchNames: [legacy]}\n"), []string{legacy}},
		{"any", podMonitor("monitoring", "  namespaceSelector: {any: true}\n"), []string{legacy, shop}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, prometheus, app("shop"), app("legacy"), tc.monitor)
			if got := scrapeEdges(g); !slices.Equal(got, tc.want) {
				t.Errorf("scrape edges = %v\nwant %v", got, tc.want)
			}
		})
	}
}

// scrapeEdges lists, sorted, the edges from the Prometheus of the tests
// above, prometheus-k8s in namespace monitoring.
func scrapeEdges(g *model.Graph) []string {
	var out []string
	for _, id := range modeltest.EdgeIDs(g) {
		if strings.HasPrefix(id, "workload:monitoring/prometheus-k8s->") {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
