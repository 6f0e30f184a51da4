package controls

import (
	"maps"
	"slices"
)

// UnstructuredKinds are the kinds ("group/Kind") the detectors look up in
// the Index, and "group/*" for a group whose every kind they read
// (Gatekeeper makes one kind per constraint template). A live scan reads
// exactly these, beside the kinds the decoder types, so a kind added to a
// detector must be added here: TestUnstructuredKindsListed checks the
// literal ones.
func UnstructuredKinds() []string {
	kinds := slices.Concat(
		alertRuleKinds, serviceScrapeKinds, podScrapeKinds, admissionKinds,
		[]string{
			"constraints.gatekeeper.sh/*",
			"cilium.io/CiliumNetworkPolicy", "cilium.io/CiliumClusterwideNetworkPolicy",
			"projectcalico.org/NetworkPolicy", "projectcalico.org/GlobalNetworkPolicy",
			"crd.projectcalico.org/NetworkPolicy", "crd.projectcalico.org/GlobalNetworkPolicy",
			istioSecurity + "/RequestAuthentication", istioSecurity + "/PeerAuthentication", istioSecurity + "/AuthorizationPolicy",
			istioNetworking + "/EnvoyFilter", istioNetworking + "/Gateway", gatewayAPIGroup + "/Gateway",
			"telemetry.istio.io/Telemetry",
			"traefik.io/Middleware", "traefik.containo.us/Middleware",
			"gateway.envoyproxy.io/SecurityPolicy", "gateway.envoyproxy.io/BackendTrafficPolicy",
			"configuration.konghq.com/KongPlugin", "configuration.konghq.com/KongClusterPlugin",
			"external-secrets.io/ExternalSecret", "bitnami.com/SealedSecret",
			"storage.k8s.io/StorageClass", "keda.sh/ScaledObject", "autoscaling/HorizontalPodAutoscaler",
			"velero.io/Schedule", "velero.io/Backup",
			"/LimitRange", "/ResourceQuota",
		},
	)
	for _, control := range slices.Sorted(maps.Keys(clusterComponentKinds)) {
		kinds = append(kinds, clusterComponentKinds[control]...)
	}
	slices.Sort(kinds)
	return slices.Compact(kinds)
}
