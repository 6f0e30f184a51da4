package policy

import (
	"bytes"
	"encoding/json"
	"fmt"

	yaml "go.yaml.in/yaml/v2"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// YAML renders policies as one multi-document YAML stream, ready for
// kubectl apply or a kustomization.
func YAML(policies []*networkingv1.NetworkPolicy) ([]byte, error) {
	return yamlStream("NetworkPolicy", policies)
}

// CiliumYAML renders CiliumNetworkPolicies as YAML does NetworkPolicies.
func CiliumYAML(policies []*CiliumNetworkPolicy) ([]byte, error) {
	return yamlStream("CiliumNetworkPolicy", policies)
}

func yamlStream[P metav1.Object](kind string, policies []P) ([]byte, error) {
	var buf bytes.Buffer
	for i, p := range policies {
		// Through a map, to leave out the empty creationTimestamp and
		// status the typed object would print.
		data, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("%s %s/%s: %w", kind, p.GetNamespace(), p.GetName(), err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		if meta, ok := m["metadata"].(map[string]any); ok {
			delete(meta, "creationTimestamp")
		}
		delete(m, "status")
		// yaml.v2 directly, as sigs.k8s.io/yaml ends: its Marshal would
		// encode m to JSON and decode it again first, a third of a large
		// report's appendix.
		out, err := yaml.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("%s %s/%s: %w", kind, p.GetNamespace(), p.GetName(), err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(out)
	}
	return buf.Bytes(), nil
}

// InNamespace picks the policies of one namespace, of either format.
func InNamespace[P metav1.Object](policies []P, ns string) []P {
	var out []P
	for _, p := range policies {
		if p.GetNamespace() == ns {
			out = append(out, p)
		}
	}
	return out
}
