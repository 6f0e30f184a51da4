package controls

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/fields"
	"github.com/stridemap/stridemap/model"
)

// Cluster-wide control types, attached to the cluster boundary.
const (
	LogShipping = "log-shipping"
	// Monitoring: a metrics system runs in (or for) the cluster:
	// Prometheus, VictoriaMetrics, Datadog, Google Managed Prometheus …
	Monitoring = "monitoring"
	// Alerting: alert rules or an alert manager are declared, so
	// someone is told when the metrics go wrong.
	Alerting = "alerting"
	// Tracing: a trace back end (Jaeger, Tempo, Zipkin, an
	// OpenTelemetry collector) runs in the cluster.
	Tracing = "tracing"
)

// logShippers are images of node-level log collectors, matched as
// imageMatches does ("datadog/agent": the last component alone says nothing).
var logShippers = []string{"fluent-bit", "fluentd", "fluentd-kubernetes-daemonset", "vector", "promtail", "filebeat", "datadog-agent",
	"splunk-otel-collector", "opentelemetry-collector", "opentelemetry-collector-contrib", "otel-collector", "logstash", "grafana-agent", "alloy",
	"datadog/agent", "datadoghq/agent", "grafana/agent"}

// clusterComponentImages name the images of monitoring, alerting and
// tracing back ends, by the control their presence establishes. A plain
// name matches the last path component of the image repository; a name
// with a slash matches the end of the repository, for images whose last
// component says nothing ("datadog/agent", "grafana/agent").
var clusterComponentImages = map[string][]string{
	Monitoring: {"prometheus", "prometheus-operator", "victoria-metrics", "vmagent", "vminsert", "vmselect", "vmstorage",
		"thanos", "mimir", "cortex", "datadog/agent", "datadoghq/agent", "datadog/cluster-agent", "datadoghq/cluster-agent",
		"grafana/agent", "grafana-agent", "grafana/alloy", "infrastructure-k8s", "nri-kubernetes", "dynatrace/oneagent",
		"metricbeat", "sysdig/agent"},
	Alerting: {"alertmanager", "vmalert"},
	Tracing: {"jaegertracing/all-in-one", "jaeger-collector", "jaegertracing/jaeger", "tempo", "zipkin",
		"opentelemetry-collector", "opentelemetry-collector-contrib", "opentelemetry-collector-k8s", "otel-collector", "otelcol", "otelcol-contrib"},
}

// clusterComponentKinds are the custom resources ("group/Kind") whose
// presence establishes a cluster control. Alert rule kinds are handled
// apart, because a rule file may hold only recording rules.
var clusterComponentKinds = map[string][]string{
	Monitoring: {
		"monitoring.coreos.com/Prometheus", "monitoring.coreos.com/PrometheusAgent", "monitoring.coreos.com/ServiceMonitor", "monitoring.coreos.com/PodMonitor",
		"operator.victoriametrics.com/VMSingle", "operator.victoriametrics.com/VMCluster", "operator.victoriametrics.com/VMAgent",
		"operator.victoriametrics.com/VMServiceScrape", "operator.victoriametrics.com/VMPodScrape",
		"monitoring.googleapis.com/PodMonitoring", "monitoring.googleapis.com/ClusterPodMonitoring",
		"datadoghq.com/DatadogAgent",
	},
	Alerting: {
		"monitoring.coreos.com/Alertmanager", "monitoring.coreos.com/AlertmanagerConfig",
		"operator.victoriametrics.com/VMAlert", "operator.victoriametrics.com/VMAlertmanager",
		"datadoghq.com/DatadogMonitor",
	},
	Tracing: {
		"jaegertracing.io/Jaeger", "opentelemetry.io/OpenTelemetryCollector",
		"tempo.grafana.com/TempoStack", "tempo.grafana.com/TempoMonolithic",
	},
}

// alertRuleKinds hold Prometheus-style rule groups (spec.groups[].rules[]);
// they establish alerting only when at least one rule is an alert.
var alertRuleKinds = []string{
	"monitoring.coreos.com/PrometheusRule", "operator.victoriametrics.com/VMRule",
	"monitoring.googleapis.com/Rules", "monitoring.googleapis.com/ClusterRules", "monitoring.googleapis.com/GlobalRules",
}

// addClusterControls detects controls that protect the whole cluster and
// attaches them to the cluster boundary.
func addClusterControls(ix *model.Index) {
	for _, obj := range ix.TypedObjects() {
		ds, ok := obj.Typed.(*appsv1.DaemonSet)
		if !ok {
			continue
		}
		for i, c := range ds.Spec.Template.Spec.Containers {
			if imageMatches(strings.ToLower(model.ParseImage(c.Image).Repository), logShippers) {
				field := "spec.template.spec.containers[" + strconv.Itoa(i) + "].image"
				ix.AddControl(LogShipping, model.ClusterBoundaryID, model.Evidence{
					File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field, Detail: "log collector " + c.Image,
				})
			}
		}
	}
	addClusterComponents(ix)
}

// addClusterComponents records monitoring, alerting and tracing back ends:
// workloads that run their images, and the custom resources of their
// operators. Controls are only ever added here, never inferred from a
// workload's wish to be scraped or traced: an annotation asks for a
// back end, it does not show one exists.
func addClusterComponents(ix *model.Index) {
	for _, w := range ix.Workloads() {
		obj := w.Template.Object
		for _, cr := range w.Template.Containers() {
			if cr.Init {
				continue
			}
			repo := strings.ToLower(model.ParseImage(cr.Container.Image).Repository)
			for _, control := range sortedKeys(clusterComponentImages) {
				if imageMatches(repo, clusterComponentImages[control]) {
					field := cr.Path + ".image"
					ix.AddControl(control, model.ClusterBoundaryID, model.Evidence{
						File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field, Detail: "runs " + cr.Container.Image,
					})
				}
			}
		}
	}
	for _, control := range sortedKeys(clusterComponentKinds) {
		for _, kind := range clusterComponentKinds[control] {
			for _, obj := range ix.Unstructured(kind) {
				ix.AddControl(control, model.ClusterBoundaryID, model.Evidence{
					File: obj.Location.File, Line: obj.Location.Line, Object: obj.Ref(), Detail: obj.Kind + " " + obj.APIVersion,
				})
			}
		}
	}
	for _, kind := range alertRuleKinds {
		for _, obj := range ix.Unstructured(kind) {
			if field, name := firstAlertRule(obj); field != "" {
				ix.AddControl(Alerting, model.ClusterBoundaryID, model.Evidence{
					File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field, Detail: "alert " + name,
				})
			}
		}
	}
}

// firstAlertRule returns the field path and name of the first alerting
// rule of a rule-group object, or "" when it holds only recording rules.
func firstAlertRule(obj *discover.Object) (field, name string) {
	for i, g := range fields.List(obj.Fields, "spec", "groups") {
		for j, r := range fields.List(fields.AsMap(g), "rules") {
			if alert := fields.String(fields.AsMap(r), "alert"); alert != "" {
				return fmt.Sprintf("spec.groups[%d].rules[%d].alert", i, j), alert
			}
		}
	}
	return "", ""
}

// imageMatches reports whether an image repository (lower case, without
// registry) is one of names: a plain name matches the last path
// component, a name with a slash the end of the repository.
func imageMatches(repo string, names []string) bool {
	for _, name := range names {
		if strings.Contains(name, "/") {
			if repo == name || strings.HasSuffix(repo, "/"+name) {
				return true
			}
			continue
		}
		if path.Base(repo) == name {
			return true
		}
	}
	return false
}
