package model_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
)

func scanCorpus(t *testing.T, req manifests.Request) *model.Graph {
	t.Helper()
	return model.Build(modeltest.Collect(t, req))
}

// TestCorpusFlows checks, for every app in the corpus, that the graph holds
// exactly the flows its manifests declare: every one, and nothing more.
// Most apps name their peers only in code, so their declared flows are few;
// the eBPF observer is what finds the rest.
func TestCorpusFlows(t *testing.T) {
	corpus := discovertest.CorpusDir(t)
	tests := []struct {
		app      string
		edges    []string
		dangling []string
		stores   []string
	}{
		{"online-boutique", []string{
			"external:internet->workload:default/frontend:80",
			"workload:default/cartservice->workload:default/redis-cart:6379",
			"workload:default/checkoutservice->workload:default/cartservice:7070",
			"workload:default/checkoutservice->workload:default/currencyservice:7000",
			"workload:default/checkoutservice->workload:default/emailservice:5000",
			"workload:default/checkoutservice->workload:default/paymentservice:50051",
			"workload:default/checkoutservice->workload:default/productcatalogservice:3550",
			"workload:default/checkoutservice->workload:default/shippingservice:50051",
			"workload:default/frontend->workload:default/adservice:9555",
			"workload:default/frontend->workload:default/cartservice:7070",
			"workload:default/frontend->workload:default/checkoutservice:5050",
			"workload:default/frontend->workload:default/currencyservice:7000",
			"workload:default/frontend->workload:default/productcatalogservice:3550",
			"workload:default/frontend->workload:default/recommendationservice:8080",
			"workload:default/frontend->workload:default/shippingservice:50051",
			"workload:default/loadgenerator->workload:default/frontend:80",
			"workload:default/recommendationservice->workload:default/productcatalogservice:3550",
		}, []string{"workload:default/frontend => shoppingassistantservice:80"}, []string{"workload:default/redis-cart"}},
		{"bookinfo", []string{
			"external:internet->gateway:default/bookinfo-gateway:8080",
			"gateway:default/bookinfo-gateway->workload:default/productpage-v1:9080",
			"workload:default/ratings-v2->workload:default/mongodb-v1:27017",
		}, nil, []string{"workload:default/mongodb-v1"}},
		{"sock-shop", []string{
			"external:internet->workload:sock-shop/front-end:30001",
			"workload:sock-shop/user->workload:sock-shop/user-db:27017",
		}, nil, []string{"workload:sock-shop/carts-db", "workload:sock-shop/catalogue-db", "workload:sock-shop/orders-db",
			"workload:sock-shop/rabbitmq", "workload:sock-shop/session-db", "workload:sock-shop/user-db"}},
		{"kubernetes-goat", []string{"external:internet->workload:default/internal-proxy-deployment:30003"}, nil,
			[]string{"workload:secure-middleware/cache-store-deployment"}},
		{"train-ticket", []string{
			"external:internet->workload:default/ts-auth-service:12340",
			"external:internet->workload:default/ts-ui-dashboard:32677",
		}, nil, nil},
		{"deathstarbench-hotelreservation", nil, nil, []string{
			"workload:default/consul", "workload:default/memcached-profile", "workload:default/memcached-rate", "workload:default/memcached-reserve",
			"workload:default/mongodb-geo", "workload:default/mongodb-profile", "workload:default/mongodb-rate",
			"workload:default/mongodb-recommendation", "workload:default/mongodb-reservation", "workload:default/mongodb-user"}},
		{"deathstarbench-socialnetwork", []string{"external:internet->workload:social-network/jaeger-agent:16686"}, nil, nil},
		// The per-pod announce Services select the pod-name label the
		// StatefulSet controller sets; HAProxy's haproxy.cfg dials them.
		{"argo-cd-ha", []string{
			"workload:default/argocd-application-controller->workload:default/argocd-redis-ha-haproxy:6379",
			"workload:default/argocd-applicationset-controller->workload:default/argocd-redis-ha-haproxy:6379",
			"workload:default/argocd-redis-ha-haproxy->workload:default/argocd-redis-ha-server:26379",
			"workload:default/argocd-redis-ha-haproxy->workload:default/argocd-redis-ha-server:6379",
			"workload:default/argocd-repo-server->workload:default/argocd-redis-ha-haproxy:6379",
			"workload:default/argocd-server->workload:default/argocd-redis-ha-haproxy:6379",
		}, nil, nil},
		// The Prometheus and Alertmanager resources are the StatefulSets the
		// operator makes; Prometheus scrapes what its ServiceMonitors select
		// and alerts to alertmanager-main.
		{"kube-prometheus", []string{
			"external:internet->workload:monitoring/node-exporter:9100",
			"workload:monitoring/prometheus-adapter->workload:monitoring/prometheus-k8s:9090",
			"workload:monitoring/prometheus-k8s->workload:monitoring/alertmanager-main:8080",
			"workload:monitoring/prometheus-k8s->workload:monitoring/alertmanager-main:9093",
			"workload:monitoring/prometheus-k8s->workload:monitoring/blackbox-exporter:9115",
			"workload:monitoring/prometheus-k8s->workload:monitoring/grafana:3000",
			"workload:monitoring/prometheus-k8s->workload:monitoring/kube-state-metrics:8443",
			"workload:monitoring/prometheus-k8s->workload:monitoring/kube-state-metrics:9443",
			"workload:monitoring/prometheus-k8s->workload:monitoring/node-exporter:9100",
			"workload:monitoring/prometheus-k8s->workload:monitoring/prometheus-adapter:6443",
			"workload:monitoring/prometheus-k8s->workload:monitoring/prometheus-operator:8443",
		}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.app, func(t *testing.T) {
			g := scanCorpus(t, manifests.Request{Paths: []string{filepath.Join(corpus, tc.app)}})
			if got := modeltest.EdgeIDs(g); !slices.Equal(got, tc.edges) {
				t.Errorf("edges:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tc.edges, "\n     "))
			}
			if got := modeltest.DanglingTargets(g); !slices.Equal(got, tc.dangling) {
				t.Errorf("dangling = %v, want %v", got, tc.dangling)
			}
			var stores []string
			for _, n := range g.Nodes {
				if n.Type == model.DataStore {
					stores = append(stores, n.ID)
				}
			}
			if tc.stores != nil && !slices.Equal(stores, tc.stores) {
				t.Errorf("data stores = %v, want %v", stores, tc.stores)
			}
			for _, e := range g.Edges {
				if len(e.Evidence) == 0 || e.Evidence[0].Line == 0 || !strings.HasPrefix(e.Evidence[0].File, corpus) {
					t.Errorf("edge %s lacks file:line evidence: %+v", e.ID, e.Evidence)
				}
			}
		})
	}
}

func TestOnlineBoutiqueExposureAndStores(t *testing.T) {
	g := scanCorpus(t, manifests.Request{Paths: []string{filepath.Join(discovertest.CorpusDir(t), "online-boutique")}})
	frontend := g.Node("workload:default/frontend")
	if frontend == nil || len(frontend.Exposure) != 1 {
		t.Fatalf("frontend exposure = %+v", frontend)
	}
	if x := frontend.Exposure[0]; x.Kind != "LoadBalancer" || x.Via != "Service default/frontend-external" || x.Port != 80 || x.Evidence.Line == 0 {
		t.Errorf("frontend-external exposure = %+v", x)
	}
	redis := g.Node("workload:default/redis-cart")
	if redis.Type != model.DataStore || redis.DataStore.Engine != "redis" {
		t.Errorf("redis-cart = %s %+v", redis.Type, redis.DataStore)
	}
	if !slices.Equal(redis.Services, []string{"default/redis-cart"}) {
		t.Errorf("redis-cart services = %v", redis.Services)
	}
}
