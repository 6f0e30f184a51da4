package controls

import (
	"maps"
	"slices"

	"github.com/stridemap/stridemap/model"
)

// Detectors lists the detectors in the order model.Build runs them. Order
// matters where two add evidence to the same control (a Kubernetes
// NetworkPolicy's before a Cilium or Calico policy's), so the graph comes
// out the same on every run.
func Detectors() []model.Detector {
	return []model.Detector{
		addWorkloadControls,             // workload.go: pod and container security, tokens, secrets
		addDisruptionBudgets,            // workload.go
		addNetworkPolicyPresence,        // netpol.go: which workloads policies select, default deny
		addEncryptedInTransit,           // encryption.go
		addClusterControls,              // cluster.go: log shipping, monitoring, alerting, tracing
		addRBAC,                         // rbac.go: permissions, token controls, idle full access
		addAccessControls,               // access.go: gateway and mesh authentication, authorization, rate limits
		addNetworkPolicyVerdicts,        // netpol.go: verdicts per edge, Cilium and Calico policies
		addSecretAndSupplyChainControls, // secrets_supply_chain.go: secrets, storage, admission
		addObservabilityControls,        // observability.go: metrics, traces, logs, backups, availability
		addDeceptiveText,                // deceptive.go: names and labels that can display as something else
	}
}

// nsName keys objects by namespace and name.
type nsName struct{ ns, name string }

func (k nsName) String() string { return k.ns + "/" + k.name }

// sortedKeys lists a map's keys in order, so evidence comes out the same
// on every run.
func sortedKeys[V any](m map[string]V) []string {
	keys := slices.AppendSeq(make([]string, 0, len(m)), maps.Keys(m))
	slices.Sort(keys)
	return keys
}

// API groups of the custom resources several detectors read.
const (
	gatewayAPIGroup = "gateway.networking.k8s.io"
	istioNetworking = "networking.istio.io"
	istioSecurity   = "security.istio.io"
)
