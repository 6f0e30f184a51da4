package model

// addNetworkPolicyVerdicts evaluates NetworkPolicies (and Cilium/Calico
// policies) for every edge, setting Edge.Policy.
func (b *builder) addNetworkPolicyVerdicts() {}
