package model

import (
	"path"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
)

// Cluster-wide control types, attached to the cluster boundary.
const (
	ControlLogShipping = "log-shipping"
)

// logShippers are images of node-level log collectors.
var logShippers = []string{"fluent-bit", "fluentd", "fluentd-kubernetes-daemonset", "vector", "promtail", "filebeat", "datadog-agent",
	"splunk-otel-collector", "opentelemetry-collector", "opentelemetry-collector-contrib", "otel-collector", "logstash", "grafana-agent", "alloy"}

// addClusterControls detects controls that protect the whole cluster and
// attaches them to the cluster boundary.
func (b *builder) addClusterControls() {
	for _, obj := range b.typed {
		ds, ok := obj.Typed.(*appsv1.DaemonSet)
		if !ok {
			continue
		}
		for i, c := range ds.Spec.Template.Spec.Containers {
			name := path.Base(strings.ToLower(ParseImage(c.Image).Repository))
			if isLogShipper(name) {
				field := "spec.template.spec.containers[" + itoa(int32(i)) + "].image"
				b.addControl(ControlLogShipping, ClusterBoundaryID, Evidence{
					File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field, Detail: "log collector " + c.Image,
				})
			}
		}
	}
}

func isLogShipper(name string) bool { return slices.Contains(logShippers, name) }
