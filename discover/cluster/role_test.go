package cluster_test

import (
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/stridemap/stridemap/discover/cluster"
)

func TestRules(t *testing.T) {
	got := cluster.Rules([]cluster.Kind{
		{Group: "apps", Kind: "Deployment"},
		{Kind: "Service"},
		{Kind: "Secret"},
		{Group: "networking.k8s.io", Kind: "NetworkPolicy"},
		{Group: "monitoring.coreos.com", Kind: "Prometheus"},
		{Group: "constraints.gatekeeper.sh", Kind: "K8sAllowedRepos"},
		{Group: "constraints.gatekeeper.sh", Kind: cluster.AllKinds},
		{Group: "gateway.networking.k8s.io", Kind: "Gateway"},
		{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute"},
		{Group: "networking.istio.io", Kind: "Gateway"},
		{Group: "monitoring.googleapis.com", Kind: "ClusterRules"},
		{Group: "monitoring.googleapis.com", Kind: "PodMonitoring"},
		{Group: "telemetry.istio.io", Kind: "Telemetry"},
		{Kind: "Service"},
	})
	list := []string{"list"}
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets", "services"}, Verbs: list},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: list},
		{APIGroups: []string{"constraints.gatekeeper.sh"}, Resources: []string{"*"}, Verbs: list},
		{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"gateways", "httproutes"}, Verbs: list},
		{APIGroups: []string{"monitoring.coreos.com"}, Resources: []string{"prometheuses"}, Verbs: list},
		{APIGroups: []string{"monitoring.googleapis.com"}, Resources: []string{"clusterrules", "podmonitorings"}, Verbs: list},
		{APIGroups: []string{"networking.istio.io"}, Resources: []string{"gateways"}, Verbs: list},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: list},
		{APIGroups: []string{"telemetry.istio.io"}, Resources: []string{"telemetries"}, Verbs: list},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rules:\n got %+v\nwant %+v", got, want)
	}
}
