// Package model turns an Inventory into the architecture Graph: nodes
// (processes, data stores, external entities, gateways), the data flows
// between them, trust boundaries and detected controls, each carrying the
// evidence it was derived from. It knows nothing about STRIDE; threats/
// reads the Graph and decides what is risky.
//
// IDs are stable across scans so triage and drift can follow an element:
//
//	workload:NAMESPACE/NAME     a Deployment, StatefulSet, DaemonSet, Job,
//	                            CronJob, ReplicaSet or bare Pod
//	gateway:NAMESPACE/NAME      an Ingress, Gateway API Gateway or Istio Gateway
//	external:internet           the internet
//	external:HOST               a host outside the cluster
//	FROM->TO:PORT               an edge
package model
