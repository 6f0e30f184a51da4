// Package policy writes the least-privilege network policies a graph's
// flows call for: per namespace a default deny of ingress and egress, DNS
// to kube-dns, and per workload one allow for each flow found, each
// naming the flows it allows and their evidence. What a policy cannot
// express (a workload without labels, a hostNetwork pod, a reference that
// resolved to nothing) is returned as a note rather than allowed or
// dropped in silence.
//
// Suggest decides every flow once; the decisions are then written in two
// formats: Kubernetes NetworkPolicies (Suggestion.Policies, YAML) and
// CiliumNetworkPolicies (Suggestion.CiliumPolicies, CiliumYAML). They say
// different things: a host known by name only is a note in the first and
// a toFQDNs rule in the second, so notes name their format
// (Suggestion.NotesFor).
//
// It reads a graph only, so it runs on a stored scan; controls'
// PolicyEvaluator is what checks the result, in both formats.
package policy
