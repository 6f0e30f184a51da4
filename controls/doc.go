// Package controls detects the mitigations the sources show and attaches
// them, with evidence, to the nodes, edges and boundaries of the graph:
// what a threat rule asks for when it says a control is missing. Each
// family has its file:
//
//	workload.go              pod and container security, service account tokens,
//	                         secrets from Secret objects, PodDisruptionBudgets
//	netpol.go                NetworkPolicies (Kubernetes, Cilium, Calico): which
//	                         workloads they select and their verdict on every edge
//	encryption.go            edges encrypted in transit
//	cluster.go               log shipping, monitoring, alerting, tracing back ends
//	rbac.go                  RBAC bindings resolved to the workloads they grant
//	access.go                gateway and mesh authentication, authorization, rate limits
//	secrets_supply_chain.go  secret stores, credentials in ConfigMaps, storage, admission
//	observability.go         metrics, traces, access and audit logs, backups, scaling
//
// Detectors lists them in the order model.Build runs them; model never
// imports this package. Control types are strings the threat catalog
// names ("network-policy", "run-as-non-root"), so they never change.
package controls
