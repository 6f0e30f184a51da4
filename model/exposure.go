package model

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/stridemap/stridemap/discover"
)

// internalLoadBalancer lists the annotations cloud providers use to keep a
// LoadBalancer off the internet.
var internalLoadBalancer = map[string]string{
	"service.beta.kubernetes.io/aws-load-balancer-internal":       "true",
	"service.beta.kubernetes.io/aws-load-balancer-scheme":         "internal",
	"networking.gke.io/load-balancer-type":                        "Internal",
	"cloud.google.com/load-balancer-type":                         "Internal",
	"service.beta.kubernetes.io/azure-load-balancer-internal":     "true",
	"service.beta.kubernetes.io/oci-load-balancer-internal":       "true",
	"service.beta.kubernetes.io/openstack-internal-load-balancer": "true",
}

func isInternalLoadBalancer(annotations map[string]string) (string, bool) {
	for key, want := range internalLoadBalancer {
		if strings.EqualFold(annotations[key], want) {
			return key, true
		}
	}
	return "", false
}

// addServiceExposure adds internet edges for LoadBalancer and NodePort
// Services.
func (b *builder) addServiceExposure() {
	for _, s := range b.servicesSorted {
		kind := s.Service.Spec.Type
		if kind != corev1.ServiceTypeLoadBalancer && kind != corev1.ServiceTypeNodePort {
			continue
		}
		ev := Evidence{File: s.Object.Location.File, Line: s.Object.LineOf("spec.type"), Object: s.Ref(), Field: "spec.type", Detail: "type " + string(kind)}
		if kind == corev1.ServiceTypeLoadBalancer {
			if key, internal := isInternalLoadBalancer(s.Service.Annotations); internal {
				for _, w := range s.Backends {
					n := b.node(w.ID)
					n.Exposure = append(n.Exposure, Exposure{Kind: "InternalLoadBalancer", Via: s.Ref(), Evidence: Evidence{
						File: ev.File, Line: s.Object.LineOf("metadata.annotations"), Object: s.Ref(), Field: "metadata.annotations", Detail: key,
					}})
				}
				continue
			}
			if len(s.Service.Spec.LoadBalancerSourceRanges) > 0 {
				ev.Detail += ", source ranges " + strings.Join(s.Service.Spec.LoadBalancerSourceRanges, ",")
			}
		}
		if len(s.Backends) == 0 {
			b.addDangling(DanglingRef{From: InternetID, Target: s.Ref(), Reason: s.Ref() + " is exposed but selects no workload in the scanned manifests", Evidence: ev})
			continue
		}
		internet := b.externalNode("internet")
		for i := range s.Service.Spec.Ports {
			p := &s.Service.Spec.Ports[i]
			port := p.Port
			pev := ev
			if kind == corev1.ServiceTypeNodePort {
				if p.NodePort != 0 {
					port = p.NodePort
				}
				pev.Detail = fmt.Sprintf("type NodePort, port %d on every node", port)
			}
			for _, w := range s.Backends {
				n := b.node(w.ID)
				n.Exposure = append(n.Exposure, Exposure{Kind: string(kind), Via: s.Ref(), Port: port, Evidence: pev})
				f := flow{from: internet, to: w.ID, port: port, via: s.Ref(), evidence: []Evidence{pev}}
				f.protocol, f.protocolSource = resolveProtocol(protocolClues{servicePort: p, target: w, targetNode: n})
				f.encryption, f.encryptionSource = encryptionOf(address{}, p, f.protocol)
				b.addFlow(f)
			}
		}
	}
}

// addHostExposure adds internet edges for containers reachable on the
// node's own address: hostPort and hostNetwork.
func (b *builder) addHostExposure() {
	for _, w := range b.workloads {
		t := w.Template
		for _, cr := range t.Containers() {
			for i, p := range cr.Container.Ports {
				field := fmt.Sprintf("%s.ports[%d]", cr.Path, i)
				kind, port := "", int32(0)
				switch {
				case t.Spec.HostNetwork:
					kind, port = "hostNetwork", p.ContainerPort
					field = t.SpecPath + ".hostNetwork"
				case p.HostPort != 0:
					kind, port = "hostPort", p.HostPort
					field += ".hostPort"
				default:
					continue
				}
				ev := Evidence{File: t.Object.Location.File, Line: t.Object.LineOf(field), Object: t.Object.Ref(), Field: field, Detail: fmt.Sprintf("%s %d", kind, port)}
				n := b.node(w.ID)
				n.Exposure = append(n.Exposure, Exposure{Kind: kind, Via: t.Object.Ref(), Port: port, Evidence: ev})
				f := flow{from: b.externalNode("internet"), to: w.ID, port: port, evidence: []Evidence{ev}}
				f.protocol, f.protocolSource, f.encryption, f.encryptionSource = b.hostPortProtocol(n, p, port)
				b.addFlow(f)
			}
		}
	}
}

// hostPortProtocol decides the protocol and encryption of a container port
// reached on the node's address. The clues are those of a Service port:
// the appProtocol of a Service port that forwards to it, the container
// port's name ("https" on node-exporter's kube-rbac-proxy), the port.
func (b *builder) hostPortProtocol(n *Node, p corev1.ContainerPort, port int32) (string, string, Encryption, string) {
	appProtocol := ""
	for _, ref := range n.Services {
		ns, name, _ := strings.Cut(ref, "/")
		s := b.services[nsName{ns, name}]
		if s == nil {
			continue
		}
		for _, sp := range s.Service.Spec.Ports {
			if sp.AppProtocol != nil && targetsContainerPort(sp, p) {
				appProtocol = *sp.AppProtocol
			}
		}
	}
	protocol, source := "", ""
	switch {
	case protocolFromName(appProtocol) != "":
		protocol, source = normaliseProtocol(protocolFromName(appProtocol)), "app-protocol"
	case protocolFromName(p.Name) != "" && protocolFromName(p.Name) != "tcp":
		protocol, source = normaliseProtocol(protocolFromName(p.Name)), "port-name"
	default:
		protocol, source = resolveProtocol(protocolClues{port: port, targetNode: n})
	}
	if enc, ok := encryptionOfProtocol(protocolFromName(appProtocol)); ok {
		return protocol, source, enc, "appProtocol " + appProtocol
	}
	if enc, ok := encryptionOfProtocol(protocolFromName(p.Name)); ok {
		return protocol, source, enc, "port name " + p.Name
	}
	enc, why := encryptionOf(address{Port: port}, nil, protocol)
	return protocol, source, enc, why
}

// targetsContainerPort reports whether a Service port forwards to a
// container port, by the targetPort's name or number.
func targetsContainerPort(sp corev1.ServicePort, p corev1.ContainerPort) bool {
	switch {
	case sp.TargetPort.StrVal != "":
		return sp.TargetPort.StrVal == p.Name
	case sp.TargetPort.IntVal != 0:
		return sp.TargetPort.IntVal == p.ContainerPort
	}
	return sp.Port == p.ContainerPort
}

// addGatewayNode adds a gateway element exposed to the internet.
func (b *builder) addGatewayNode(obj *discover.Object) string {
	return b.addNode(Node{
		ID: "gateway:" + obj.Namespace + "/" + obj.Name, Type: Gateway, Name: obj.Name, Namespace: obj.Namespace, Kind: obj.Kind, Origin: obj.Origin,
		Labels: screenedLabels(LabelsOf(obj)), Annotations: keptAnnotations(AnnotationsOf(obj)),
		Evidence: []Evidence{{File: obj.Location.File, Line: obj.Location.Line, Object: obj.Ref()}},
	}, obj.Group())
}

// listener is one port a gateway accepts traffic on from the internet.
type listener struct {
	port             int32
	protocol         string
	encryption       Encryption
	encryptionSource string
	evidence         Evidence
}

func (b *builder) exposeGateway(id string, kind string, via string, listeners []listener) {
	internet := b.externalNode("internet")
	n := b.node(id)
	for _, l := range listeners {
		n.Exposure = append(n.Exposure, Exposure{Kind: kind, Via: via, Port: l.port, Evidence: l.evidence})
		b.addFlow(flow{
			from: internet, to: id, port: l.port, protocol: l.protocol, protocolSource: "listener",
			encryption: l.encryption, encryptionSource: l.encryptionSource, evidence: []Evidence{l.evidence},
		})
	}
}

// backendProtocol reads the ingress-nginx annotation that makes the
// controller speak TLS or gRPC to backends.
const backendProtocolAnnotation = "nginx.ingress.kubernetes.io/backend-protocol"

// addIngresses adds a gateway per Ingress, internet edges to it, and edges
// from it to the workloads behind each backend Service.
func (b *builder) addIngresses() {
	for _, obj := range b.typed {
		ing, ok := obj.Typed.(*networkingv1.Ingress)
		if !ok {
			continue
		}
		id := b.addGatewayNode(obj)
		tlsHosts := map[string]bool{}
		for _, t := range ing.Spec.TLS {
			for _, h := range t.Hosts {
				tlsHosts[h] = true
			}
		}
		plaintext := len(ing.Spec.TLS) == 0
		for _, r := range ing.Spec.Rules {
			if len(ing.Spec.TLS) > 0 && len(tlsHosts) > 0 && !tlsHosts[r.Host] {
				plaintext = true
			}
		}
		var listeners []listener
		if len(ing.Spec.TLS) > 0 {
			listeners = append(listeners, listener{port: 443, protocol: "http", encryption: EncryptionTLS, encryptionSource: "Ingress spec.tls",
				evidence: Evidence{File: obj.Location.File, Line: obj.LineOf("spec.tls"), Object: obj.Ref(), Field: "spec.tls", Detail: "TLS for " + strings.Join(sortedSet(tlsHosts), ", ")}})
		}
		if plaintext {
			listeners = append(listeners, listener{port: 80, protocol: "http", encryption: EncryptionPlaintext, encryptionSource: "Ingress without TLS for this host",
				evidence: Evidence{File: obj.Location.File, Line: obj.LineOf("spec"), Object: obj.Ref(), Field: "spec", Detail: "HTTP on port 80"}})
		}
		b.exposeGateway(id, "Ingress", obj.Ref(), listeners)

		hints := routeHints{defaultProtocol: "http", encryption: EncryptionPlaintext, encryptionSource: "Ingress controllers proxy plain HTTP to backends by default"}
		switch bp := strings.ToUpper(ing.Annotations[backendProtocolAnnotation]); bp {
		case "HTTPS", "GRPCS":
			hints.encryption, hints.encryptionSource = EncryptionTLS, backendProtocolAnnotation+": "+bp
		case "GRPC":
			hints.defaultProtocol = "grpc"
		}
		if d := ing.Spec.DefaultBackend; d != nil && d.Service != nil {
			b.ingressBackend(id, obj, d.Service, "spec.defaultBackend", hints)
		}
		for i, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for j, p := range r.HTTP.Paths {
				if p.Backend.Service != nil {
					b.ingressBackend(id, obj, p.Backend.Service, fmt.Sprintf("spec.rules[%d].http.paths[%d].backend", i, j), hints)
				}
			}
		}
	}
}

func (b *builder) ingressBackend(from string, obj *discover.Object, backend *networkingv1.IngressServiceBackend, field string, hints routeHints) {
	target := backend.Name
	if backend.Port.Name != "" {
		target += ":" + backend.Port.Name
	} else if backend.Port.Number != 0 {
		target += ":" + itoa(backend.Port.Number)
	}
	ev := Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field, Detail: "backend " + target}
	s := b.services[nsName{obj.Namespace, backend.Name}]
	if s == nil {
		b.addDangling(DanglingRef{From: from, Target: target, Reason: fmt.Sprintf("no Service named %q in namespace %q", backend.Name, obj.Namespace), Evidence: ev})
		return
	}
	a := address{Host: backend.Name, Port: backend.Port.Number, Shown: target, Encryption: EncryptionUnknown}
	if backend.Port.Name != "" {
		if a.Port = servicePortByName(s.Service, backend.Port.Name); a.Port == 0 {
			b.addDangling(DanglingRef{From: from, Target: target, Reason: fmt.Sprintf("%s has no port named %q", s.Ref(), backend.Port.Name), Evidence: ev})
			return
		}
	}
	b.flowToService(from, s, a, ev, hints)
}

func servicePortByName(svc *corev1.Service, name string) int32 {
	for _, p := range svc.Spec.Ports {
		if p.Name == name {
			return p.Port
		}
	}
	return 0
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k == "" {
			k = "*"
		}
		out = append(out, k)
	}
	sortStrings(out)
	return out
}
