package manifests

import (
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

//go:generate go run gen_kinds.go

// typedKinds says which k8s.io/api type each core kind decodes into, keyed
// by "apiVersion kind". Everything else stays unstructured in Object.Fields:
// the graph builder reads these kinds field by field, and typing them turns
// a misspelt or mistyped field value into a problem reported at scan time.
var typedKinds = map[string]func() any{
	"v1 Pod":                                   func() any { return new(corev1.Pod) },
	"v1 Service":                               func() any { return new(corev1.Service) },
	"v1 ConfigMap":                             func() any { return new(corev1.ConfigMap) },
	"v1 Secret":                                func() any { return new(corev1.Secret) },
	"v1 ServiceAccount":                        func() any { return new(corev1.ServiceAccount) },
	"v1 Namespace":                             func() any { return new(corev1.Namespace) },
	"v1 PersistentVolumeClaim":                 func() any { return new(corev1.PersistentVolumeClaim) },
	"v1 PersistentVolume":                      func() any { return new(corev1.PersistentVolume) },
	"apps/v1 Deployment":                       func() any { return new(appsv1.Deployment) },
	"apps/v1 StatefulSet":                      func() any { return new(appsv1.StatefulSet) },
	"apps/v1 DaemonSet":                        func() any { return new(appsv1.DaemonSet) },
	"apps/v1 ReplicaSet":                       func() any { return new(appsv1.ReplicaSet) },
	"batch/v1 Job":                             func() any { return new(batchv1.Job) },
	"batch/v1 CronJob":                         func() any { return new(batchv1.CronJob) },
	"networking.k8s.io/v1 Ingress":             func() any { return new(networkingv1.Ingress) },
	"networking.k8s.io/v1 IngressClass":        func() any { return new(networkingv1.IngressClass) },
	"networking.k8s.io/v1 NetworkPolicy":       func() any { return new(networkingv1.NetworkPolicy) },
	"rbac.authorization.k8s.io/v1 Role":        func() any { return new(rbacv1.Role) },
	"rbac.authorization.k8s.io/v1 ClusterRole": func() any { return new(rbacv1.ClusterRole) },
	"rbac.authorization.k8s.io/v1 RoleBinding": func() any { return new(rbacv1.RoleBinding) },
	"rbac.authorization.k8s.io/v1 ClusterRoleBinding": func() any {
		return new(rbacv1.ClusterRoleBinding)
	},
	"policy/v1 PodDisruptionBudget":          func() any { return new(policyv1.PodDisruptionBudget) },
	"autoscaling/v2 HorizontalPodAutoscaler": func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
}

// removedKinds are kinds that older Kubernetes releases served and current
// k8s.io/api no longer lists. They are real, so old manifests using them are
// kept (unstructured) rather than reported as misspelt.
var removedKinds = map[string][]string{
	"autoscaling/v2beta1":        {"HorizontalPodAutoscaler"},
	"autoscaling/v2beta2":        {"HorizontalPodAutoscaler"},
	"batch/v2alpha1":             {"CronJob"},
	"extensions/v1beta1":         {"PodSecurityPolicy"},
	"policy/v1beta1":             {"PodSecurityPolicy"},
	"scheduling.k8s.io/v1alpha1": {"PriorityClass"},
	"settings.k8s.io/v1alpha1":   {"PodPreset"},
	"storage.k8s.io/v1alpha1":    {"CSIDriver", "CSINode"},
	"networking.k8s.io/v1alpha1": {"ClusterCIDR", "IPAddress", "ServiceCIDR"},
}

// kindSets is builtinKinds and removedKinds as sets, plus the set of built-in
// API groups, so checks are map lookups.
var kindSets, builtinGroups = func() (map[string]bool, map[string]bool) {
	kinds := map[string]bool{}
	groups := map[string]bool{}
	for _, table := range []map[string][]string{builtinKinds, removedKinds} {
		for gv, ks := range table {
			groups[groupOf(gv)] = true
			for _, k := range ks {
				kinds[gv+" "+k] = true
			}
		}
	}
	return kinds, groups
}()

// kindCheck says how a decoder should treat apiVersion/kind.
type kindCheck int

const (
	kindTyped        kindCheck = iota // decode into a k8s.io/api type
	kindUnstructured                  // keep as decoded JSON in Fields
	kindUnknown                       // a built-in group that has no such kind: likely a typo
)

func checkKind(apiVersion, kind string) kindCheck {
	key := apiVersion + " " + kind
	if _, ok := typedKinds[key]; ok {
		return kindTyped
	}
	if kindSets[key] {
		return kindUnstructured
	}
	if builtinGroups[groupOf(apiVersion)] {
		return kindUnknown
	}
	// CRDs and other API groups the decoder cannot know about.
	return kindUnstructured
}

// groupOf is the API group of an apiVersion, "" for the core group "v1".
func groupOf(apiVersion string) string {
	group, _, found := strings.Cut(apiVersion, "/")
	if !found {
		return ""
	}
	return group
}

// clusterScoped lists, as "group/Kind", the kinds that live outside any
// namespace: the built-in ones and those of widely used CRDs. Any other kind
// is taken to be namespaced and gets the default namespace when it has none,
// which is what kubectl would do.
var clusterScoped = map[string]bool{
	// Core and built-in groups.
	"/Namespace":                            true,
	"/Node":                                 true,
	"/PersistentVolume":                     true,
	"/ComponentStatus":                      true,
	"rbac.authorization.k8s.io/ClusterRole": true,
	"rbac.authorization.k8s.io/ClusterRoleBinding":                  true,
	"storage.k8s.io/StorageClass":                                   true,
	"storage.k8s.io/CSIDriver":                                      true,
	"storage.k8s.io/CSINode":                                        true,
	"storage.k8s.io/VolumeAttachment":                               true,
	"storage.k8s.io/VolumeAttributesClass":                          true,
	"apiextensions.k8s.io/CustomResourceDefinition":                 true,
	"apiregistration.k8s.io/APIService":                             true,
	"admissionregistration.k8s.io/ValidatingWebhookConfiguration":   true,
	"admissionregistration.k8s.io/MutatingWebhookConfiguration":     true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicy":        true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding": true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicy":          true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicyBinding":   true,
	"scheduling.k8s.io/PriorityClass":                               true,
	"networking.k8s.io/IngressClass":                                true,
	"networking.k8s.io/IPAddress":                                   true,
	"networking.k8s.io/ServiceCIDR":                                 true,
	"networking.k8s.io/ClusterCIDR":                                 true,
	"node.k8s.io/RuntimeClass":                                      true,
	"certificates.k8s.io/CertificateSigningRequest":                 true,
	"certificates.k8s.io/ClusterTrustBundle":                        true,
	"flowcontrol.apiserver.k8s.io/FlowSchema":                       true,
	"flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration":       true,
	"authentication.k8s.io/TokenReview":                             true,
	"authentication.k8s.io/SelfSubjectReview":                       true,
	"authorization.k8s.io/SubjectAccessReview":                      true,
	"authorization.k8s.io/SelfSubjectAccessReview":                  true,
	"authorization.k8s.io/SelfSubjectRulesReview":                   true,
	"resource.k8s.io/DeviceClass":                                   true,
	"resource.k8s.io/ResourceSlice":                                 true,
	"resource.k8s.io/DeviceTaintRule":                               true,
	"storagemigration.k8s.io/StorageVersionMigration":               true,
	"internal.apiserver.k8s.io/StorageVersion":                      true,
	"policy/PodSecurityPolicy":                                      true,
	"extensions/PodSecurityPolicy":                                  true,
	"snapshot.storage.k8s.io/VolumeSnapshotClass":                   true,
	"snapshot.storage.k8s.io/VolumeSnapshotContent":                 true,
	"policy.networking.k8s.io/AdminNetworkPolicy":                   true,
	"policy.networking.k8s.io/BaselineAdminNetworkPolicy":           true,
	"gateway.networking.k8s.io/GatewayClass":                        true,
	"cert-manager.io/ClusterIssuer":                                 true,
	"kyverno.io/ClusterPolicy":                                      true,
	"kyverno.io/ClusterCleanupPolicy":                               true,
	"wgpolicyk8s.io/ClusterPolicyReport":                            true,
	"crd.projectcalico.org/GlobalNetworkPolicy":                     true,
	"crd.projectcalico.org/GlobalNetworkSet":                        true,
	"crd.projectcalico.org/HostEndpoint":                            true,
	"crd.projectcalico.org/IPPool":                                  true,
	"crd.projectcalico.org/FelixConfiguration":                      true,
	"crd.projectcalico.org/BGPConfiguration":                        true,
	"crd.projectcalico.org/BGPPeer":                                 true,
	"crd.projectcalico.org/ClusterInformation":                      true,
	"crd.projectcalico.org/Tier":                                    true,
	"projectcalico.org/GlobalNetworkPolicy":                         true,
	"projectcalico.org/GlobalNetworkSet":                            true,
	"projectcalico.org/HostEndpoint":                                true,
	"projectcalico.org/IPPool":                                      true,
	"projectcalico.org/Tier":                                        true,
	"cilium.io/CiliumClusterwideNetworkPolicy":                      true,
	"cilium.io/CiliumClusterwideEnvoyConfig":                        true,
	"cilium.io/CiliumNode":                                          true,
	"cilium.io/CiliumIdentity":                                      true,
	"cilium.io/CiliumExternalWorkload":                              true,
	"cilium.io/CiliumLoadBalancerIPPool":                            true,
	"cilium.io/CiliumBGPClusterConfig":                              true,
	"cilium.io/CiliumCIDRGroup":                                     true,
	"external-secrets.io/ClusterSecretStore":                        true,
	"external-secrets.io/ClusterExternalSecret":                     true,
	"templates.gatekeeper.sh/ConstraintTemplate":                    true,
	"argoproj.io/ClusterWorkflowTemplate":                           true,
	"operator.tigera.io/Installation":                               true,
	"operator.tigera.io/APIServer":                                  true,
	"apiserver.openshift.io/APIRequestCount":                        true,
	"config.openshift.io/ClusterVersion":                            true,
	"security.openshift.io/SecurityContextConstraints":              true,
	"constraints.gatekeeper.sh/":                                    true, // every kind of the group: see isClusterScoped
	"keda.sh/ClusterTriggerAuthentication":                          true,
	"trust.cert-manager.io/Bundle":                                  true,
	"karpenter.sh/NodePool":                                         true,
	"karpenter.sh/NodeClaim":                                        true,
	"karpenter.k8s.aws/EC2NodeClass":                                true,
	"apps.kubeblocks.io/ClusterDefinition":                          true,
	"configuration.konghq.com/KongClusterPlugin":                    true,
	"networking.internal.knative.dev/ClusterDomainClaim":            true,
}

// isClusterScoped reports whether objects of this apiVersion and kind have no
// namespace.
func isClusterScoped(apiVersion, kind string) bool {
	group := groupOf(apiVersion)
	if clusterScoped[group+"/"+kind] {
		return true
	}
	// Gatekeeper constraints are CRDs generated per template, all cluster-scoped.
	return clusterScoped[group+"/"]
}

// TypedKinds are the kinds the decoder types, as "group/Kind": those the
// graph reads field by field. A live scan reads them all.
func TypedKinds() []string {
	kinds := make([]string, 0, len(typedKinds))
	for key := range typedKinds {
		apiVersion, kind, _ := strings.Cut(key, " ")
		kinds = append(kinds, groupOf(apiVersion)+"/"+kind)
	}
	slices.Sort(kinds)
	return kinds
}
