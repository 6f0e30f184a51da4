package model

import "strings"

// PodPort is the port a flow reaches on its destination pod, which is what
// NetworkPolicies name and what a flow seen between pods is dialled on: a
// Service's port translated to its targetPort.
type PodPort struct {
	Number   int32
	Name     string // the container port's name, "" when it has none
	Protocol string // TCP, UDP or SCTP
}

// addTargetPorts records, on each flow through a Service to a workload,
// or to a hostPort from the node's address, the pod port it reaches when
// that is not the port dialled.
func (b *builder) addTargetPorts() {
	byID := make(map[string]*IndexedWorkload, len(b.workloads))
	for _, w := range b.workloads {
		byID[w.ID] = w
	}
	for i := range b.graph.Edges {
		e := &b.graph.Edges[i]
		dst := byID[e.To]
		if dst == nil || (e.Via != "" && !strings.HasPrefix(e.Via, "Service ")) {
			continue
		}
		if p, ok := b.podPortOf(e, dst); ok && p.Number != 0 && p.Number != e.Port {
			e.TargetPort = p.Number
		}
	}
}

// podPortOf finds the pod port a flow reaches: the targetPort of the
// Service port the edge dials, or the container port of the hostPort a
// flow through no Service dials, resolved against the destination's
// container ports so that both numbered and named policy ports match.
func (b *builder) podPortOf(e *Edge, dst *IndexedWorkload) (PodPort, bool) {
	if e.Port == 0 {
		return PodPort{}, false
	}
	fp := PodPort{Number: e.Port, Protocol: "TCP"}
	if ref, ok := strings.CutPrefix(e.Via, "Service "); ok {
		ns, name, _ := strings.Cut(ref, "/")
		if s := b.services[nsName{ns, name}]; s != nil {
			for _, sp := range s.Service.Spec.Ports {
				if sp.Port != e.Port {
					continue
				}
				if sp.Protocol != "" {
					fp.Protocol = string(sp.Protocol)
				}
				switch {
				case sp.TargetPort.StrVal != "":
					fp.Name, fp.Number = sp.TargetPort.StrVal, 0
				case sp.TargetPort.IntVal != 0:
					fp.Number = sp.TargetPort.IntVal
				}
				break
			}
		}
	}
	for _, c := range dst.Template.Spec.Containers {
		for _, cp := range c.Ports {
			if (fp.Name != "" && cp.Name == fp.Name) || (fp.Name == "" && cp.ContainerPort == fp.Number) {
				fp.Name, fp.Number = cp.Name, cp.ContainerPort
				return fp, true
			}
		}
	}
	for _, c := range dst.Template.Spec.Containers {
		for _, cp := range c.Ports {
			if e.Via == "" && cp.HostPort != 0 && cp.HostPort == fp.Number {
				fp.Name, fp.Number = cp.Name, cp.ContainerPort
				if cp.Protocol != "" {
					fp.Protocol = string(cp.Protocol)
				}
				return fp, true
			}
		}
	}
	if fp.Number == 0 {
		return PodPort{}, false // a named targetPort no container declares
	}
	return fp, true
}
