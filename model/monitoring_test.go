package model_test

import (
	"slices"
	"strings"
	"testing"

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
