// Package model turns an Inventory into the architecture Graph: nodes
// (processes, data stores, external entities, gateways), the data flows
// between them and trust boundaries, each carrying the evidence it was
// derived from. It knows nothing about STRIDE; threats/ reads the Graph
// and decides what is risky.
//
// Controls (mitigations such as a NetworkPolicy or a read-only root file
// system) are found by the detectors of package controls, which
// Build runs on an Index of what it read: model defines the Control type
// and where it attaches, never what counts as one.
//
// IDs are stable across scans so triage and drift can follow an element:
//
//	workload:NAMESPACE/NAME     a Deployment, StatefulSet, DaemonSet, Job,
//	                            CronJob, ReplicaSet or bare Pod
//	gateway:NAMESPACE/NAME      an Ingress, Gateway API Gateway or Istio Gateway
//	external:internet           the internet
//	external:HOST               a host outside the cluster
//	FROM->TO:PORT               an edge
//	TYPE@TARGET                 a control on a node, edge or boundary
package model
