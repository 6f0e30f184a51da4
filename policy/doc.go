// Package policy writes the least-privilege Kubernetes NetworkPolicies a
// graph's flows call for: per namespace a default deny of ingress and
// egress, DNS to kube-dns, and per workload one allow for each flow found,
// each naming the flows it allows and their evidence. What a
// NetworkPolicy cannot say (a workload without labels, a hostNetwork pod,
// a host known only by name, a reference that resolved to nothing) is
// returned as a note rather than allowed or dropped in silence.
//
// It reads a graph only, so it runs on a stored scan; controls'
// PolicyEvaluator is what checks the result.
package policy
