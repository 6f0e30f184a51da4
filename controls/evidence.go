package controls

import "slices"

// Kinds ("group/Kind", "/Kind" for the core group) whose objects evidence
// several controls.
var (
	networkPolicyKinds = []string{
		"networking.k8s.io/NetworkPolicy",
		ciliumGroup + "/CiliumNetworkPolicy", ciliumGroup + "/CiliumClusterwideNetworkPolicy",
		calicoGroup + "/NetworkPolicy", calicoGroup + "/GlobalNetworkPolicy",
		calicoCRDGroup + "/NetworkPolicy", calicoCRDGroup + "/GlobalNetworkPolicy",
	}
	rbacKinds = []string{
		"rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/RoleBinding",
		"rbac.authorization.k8s.io/ClusterRole", "rbac.authorization.k8s.io/ClusterRoleBinding",
	}
	// workloadKinds run the images that show a cluster component (a log
	// shipper, a Prometheus) and carry the annotations some controls read.
	workloadKinds = []string{"apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "apps/ReplicaSet", "batch/Job", "batch/CronJob", "/Pod"}
	scalerKinds   = []string{"autoscaling/HorizontalPodAutoscaler", "keda.sh/ScaledObject"}
	gatewayKinds  = []string{"networking.k8s.io/Ingress", gatewayAPIGroup + "/Gateway", istioNetworking + "/Gateway"}
	pluginKinds   = []string{
		"traefik.io/Middleware", "traefik.containo.us/Middleware",
		"configuration.konghq.com/KongPlugin", "configuration.konghq.com/KongClusterPlugin",
	}
)

// evidenceKinds maps a control, as detectors attach it and as catalog rules
// name it in missingControl, to the kinds whose objects show it somewhere
// other than on the element itself. When a live scan could not read one of
// them, an element without the control may have it all the same: the rules
// missing it are not assessed there. A control shown only by the element's
// own object (run-as-non-root, health-probes) needs no entry: an element
// that could not be read is not in the graph. Nor does a rule about what
// was seen (least-privilege-rbac: a permission read in a binding): reading
// more could only add to it. TestEvidenceKindsListed
// fails when a detector's verdict changes with a kind not listed here.
var evidenceKinds = map[string][]string{
	NetworkPolicy:                   networkPolicyKinds,
	NetworkPolicyIngressRestricted:  networkPolicyKinds,
	NetworkPolicyEgressRestricted:   networkPolicyKinds,
	NetworkPolicyDefaultDenyIngress: networkPolicyKinds,
	NetworkPolicyDefaultDenyEgress:  networkPolicyKinds,
	"least-privilege-connectivity":  networkPolicyKinds,

	"least-privilege-identities":  slices.Concat(rbacKinds, []string{"/ServiceAccount"}),
	WeaknessIdleFullAccess:        slices.Concat(rbacKinds, []string{"/ServiceAccount"}),
	ServiceAccountTokenNotMounted: {"/ServiceAccount"},

	PodDisruptionBudget:     {"policy/PodDisruptionBudget"},
	Autoscaling:             scalerKinds,
	MultipleReplicas:        scalerKinds,
	LimitRange:              {"/LimitRange"},
	DefaultResourceLimits:   {"/LimitRange"},
	DefaultResourceRequests: {"/LimitRange"},
	ResourceQuota:           {"/ResourceQuota"},

	MTLSRequired:             {istioSecurity + "/PeerAuthentication", "/Namespace"},
	EncryptedInTransit:       {istioSecurity + "/PeerAuthentication", istioNetworking + "/DestinationRule"},
	AuthorizationPolicy:      {istioSecurity + "/AuthorizationPolicy"},
	RequestAuthentication:    {istioSecurity + "/RequestAuthentication"},
	RequestPrincipalRequired: {istioSecurity + "/RequestAuthentication", istioSecurity + "/AuthorizationPolicy"},
	GatewayAuthentication: slices.Concat(gatewayKinds, pluginKinds, []string{
		istioSecurity + "/AuthorizationPolicy", istioSecurity + "/RequestAuthentication", "gateway.envoyproxy.io/SecurityPolicy",
	}),
	RateLimit: slices.Concat(gatewayKinds, pluginKinds, []string{istioNetworking + "/EnvoyFilter", "gateway.envoyproxy.io/BackendTrafficPolicy"}),

	AdmissionPolicy:              slices.Concat(admissionKinds, []string{"constraints.gatekeeper.sh/*"}),
	ImageSignatureVerification:   admissionKinds,
	ImageRegistryAllowlist:       []string{"constraints.gatekeeper.sh/*"},
	ExternalSecretStore:          {"external-secrets.io/ExternalSecret", "bitnami.com/SealedSecret"},
	WeaknessSecretInManifests:    {"/Secret"},
	WeaknessConfigMapCredentials: {"/ConfigMap"},
	EncryptedStorage:             {"storage.k8s.io/StorageClass", "/PersistentVolumeClaim"},

	MetricsScraping:   slices.Concat(serviceScrapeKinds, podScrapeKinds, []string{"/Service"}),
	Monitoring:        slices.Concat(clusterComponentKinds[Monitoring], workloadKinds),
	Alerting:          slices.Concat(clusterComponentKinds[Alerting], alertRuleKinds, workloadKinds),
	Tracing:           slices.Concat(clusterComponentKinds[Tracing], workloadKinds),
	LogShipping:       {"apps/DaemonSet"},
	TraceExport:       {"telemetry.istio.io/Telemetry", "/ConfigMap"},
	AccessLogging:     {"telemetry.istio.io/Telemetry", "/ConfigMap", "networking.k8s.io/IngressClass"},
	DataStoreAuditLog: {"/ConfigMap"},
	Backup:            {"velero.io/Schedule", "velero.io/Backup", "batch/CronJob"},
}

// EvidenceKinds lists the kinds ("group/Kind"; "group/*" for every kind of
// a group) whose objects show control, or nil when only the element's own
// object does. A rule missing the control is not assessed where one of
// them could not be read.
func EvidenceKinds(control string) []string {
	return slices.Clone(evidenceKinds[control])
}

// EvidenceControls lists the controls EvidenceKinds knows, sorted.
func EvidenceControls() []string {
	return sortedKeys(evidenceKinds)
}
