package controls_test

import (
	"strings"
	"testing"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
)

// controlOn returns the control of a type on a target, if detected.
func controlOn(g *model.Graph, kind, target string) (model.Control, bool) {
	for _, c := range g.Controls {
		if c.Type == kind && c.Target == target {
			return c, true
		}
	}
	return model.Control{}, false
}

// podWorkload renders a workload of kind (Deployment, StatefulSet,
// DaemonSet) whose pod carries label app=NAME and runs image. podMeta
// lines go under the pod template's metadata, podSpec lines under its
// spec, container lines under the one container.
func podWorkload(kind, ns, name, image string, podMeta, podSpec, container []string) string {
	return `apiVersion: apps/v1
kind: ` + kind + `
metadata:
  name: ` + name + `
  namespace: ` + ns + `
spec:
  selector:
    matchLabels: {app: ` + name + `}
  template:
    metadata:
      labels: {app: ` + name + `}
` + modeltest.Indent(strings.Join(podMeta, "\n"), "      ") + `
    spec:
` + modeltest.Indent(strings.Join(podSpec, "\n"), "      ") + `
      containers:
      - name: main
        image: ` + image + `
` + modeltest.Indent(strings.Join(container, "\n"), "        ")
}

// checkControl asserts that a control of kind is (or is not) on target,
// and that a detected one points at a line of the test file and says
// what it saw.
func checkControl(t *testing.T, g *model.Graph, kind, target string, want bool, detail string) {
	t.Helper()
	c, ok := controlOn(g, kind, target)
	switch {
	case ok && !want:
		t.Fatalf("unexpected %s on %s: %+v", kind, target, c.Evidence)
	case !ok && want:
		var have []string
		for _, c := range g.Controls {
			have = append(have, c.ID)
		}
		t.Fatalf("no %s on %s; controls: %v", kind, target, have)
	case !ok:
		return
	}
	if len(c.Evidence) == 0 || c.Evidence[0].File != "test.yaml" || c.Evidence[0].Line == 0 {
		t.Errorf("%s evidence has no file:line: %+v", c.ID, c.Evidence)
	}
	var details []string
	for _, ev := range c.Evidence {
		details = append(details, ev.Detail)
	}
	if !strings.Contains(strings.Join(details, "; "), detail) {
		t.Errorf("%s evidence %q does not mention %q", c.ID, details, detail)
	}
}

func TestClusterControls(t *testing.T) {
	app := podWorkload("Deployment", "shop", "web", "example/web:1.0", nil, nil, nil)
	tests := []struct {
		name    string
		docs    []string
		control string
		want    bool
		detail  string
	}{
		{"fluent-bit DaemonSet ships logs", []string{podWorkload("DaemonSet", "logging", "fb", "fluent/fluent-bit:3.1", nil, nil, nil)},
			controls.LogShipping, true, "fluent/fluent-bit:3.1"},
		{"Datadog agent DaemonSet ships logs", []string{podWorkload("DaemonSet", "dd", "agent", "gcr.io/datadoghq/agent:7", nil, nil, nil)},
			controls.LogShipping, true, "datadoghq/agent"},
		{"a log collector Deployment is no node-level shipper", []string{podWorkload("Deployment", "logging", "fb", "fluent/fluent-bit:3.1", nil, nil, nil)},
			controls.LogShipping, false, ""},
		{"an app alone has no monitoring", nil, controls.Monitoring, false, ""},
		{"Prometheus StatefulSet", []string{podWorkload("StatefulSet", "monitoring", "prom", "quay.io/prometheus/prometheus:v3.0.0", nil, nil, nil)},
			controls.Monitoring, true, "quay.io/prometheus/prometheus"},
		{"Datadog agent monitors", []string{podWorkload("DaemonSet", "dd", "agent", "datadog/agent:7", nil, nil, nil)},
			controls.Monitoring, true, "datadog/agent"},
		{"an exporter alone is not monitoring", []string{podWorkload("DaemonSet", "monitoring", "ne", "prom/node-exporter:1.8", nil, nil, nil)},
			controls.Monitoring, false, ""},
		{"ServiceMonitor means the operator runs", []string{"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  endpoints: [{port: http}]"},
			controls.Monitoring, true, "ServiceMonitor"},
		{"PrometheusRule with an alert", []string{"apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: r, namespace: monitoring}\nspec:\n  groups:\n  - name: g\n    rules:\n    - record: job:up:sum\n      expr: sum(up)\n    - alert: WebDown\n      expr: up == 0"},
			controls.Alerting, true, "alert WebDown"},
		{"PrometheusRule with recording rules only", []string{"apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: r, namespace: monitoring}\nspec:\n  groups:\n  - name: g\n    rules:\n    - record: job:up:sum\n      expr: sum(up)"},
			controls.Alerting, false, ""},
		{"Alertmanager Deployment", []string{podWorkload("Deployment", "monitoring", "am", "prom/alertmanager:v0.27.0", nil, nil, nil)},
			controls.Alerting, true, "prom/alertmanager"},
		{"Jaeger all-in-one", []string{podWorkload("Deployment", "tracing", "jaeger", "jaegertracing/all-in-one:1.60", nil, nil, nil)},
			controls.Tracing, true, "jaegertracing/all-in-one"},
		{"OpenTelemetryCollector resource", []string{"apiVersion: opentelemetry.io/v1beta1\nkind: OpenTelemetryCollector\nmetadata: {name: otel, namespace: obs}\nspec: {mode: deployment}"},
			controls.Tracing, true, "OpenTelemetryCollector"},
		{"a hotel app is no OpenTelemetry collector", []string{podWorkload("Deployment", "shop", "hotel", "example/hotel-reservation:1.0", nil, nil, nil)},
			controls.Tracing, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, append([]string{app}, tc.docs...)...)
			checkControl(t, g, tc.control, model.ClusterBoundaryID, tc.want, tc.detail)
		})
	}
}
