package resolve

import (
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/flows"
)

// Declared is an object of the manifests by kind, namespace and name: all
// PodsNamedByLog needs of them, and what a stored scan keeps.
type Declared struct{ Kind, Namespace, Name string }

// Pod names as Kubernetes' controllers make them, after the workload's
// name: what follows "NAME-" for each kind.
var podSuffixes = map[string]*regexp.Regexp{
	"Deployment":  regexp.MustCompile(`^([a-z0-9]{1,10})-[a-z0-9]{5}$`), // pod-template-hash, then random
	"ReplicaSet":  regexp.MustCompile(`^[a-z0-9]{5}$`),
	"DaemonSet":   regexp.MustCompile(`^[a-z0-9]{5}$`),
	"Job":         regexp.MustCompile(`^[a-z0-9]{5}$`),
	"StatefulSet": regexp.MustCompile(`^[0-9]+$`),
	"CronJob":     regexp.MustCompile(`^([0-9]{8,})-[a-z0-9]{5}$`), // the Job's scheduled time, then random
}

// PodsNamedByLog makes Pods for the pods a flow log names (Hubble names
// both ends) that the inventory does not hold, owned by the declared
// workload whose name and kind the pod's name follows, so that a Hubble
// log resolves against the manifests without an inventory. Names that
// follow no declared workload are left to resolve by address.
func PodsNamedByLog(log *flows.Log, declared []Declared, inventory []*discover.Object) []*discover.Object {
	have := map[string]bool{}
	for _, o := range inventory {
		if o.Kind == "Pod" {
			have[o.Namespace+"/"+o.Name] = true
		}
	}
	workloads := map[string][]string{} // "namespace/name" → kinds
	for _, o := range declared {
		if o.Kind == "Pod" || podSuffixes[o.Kind] != nil {
			k := o.Namespace + "/" + o.Name
			workloads[k] = append(workloads[k], o.Kind)
		}
	}
	var out []*discover.Object
	for _, f := range log.Flows {
		for _, name := range []string{f.LocalPod, f.RemotePod} {
			if name == "" || have[name] {
				continue
			}
			have[name] = true
			if pod := declaredPod(name, workloads); pod != nil {
				out = append(out, &discover.Object{APIVersion: "v1", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Typed: pod})
			}
		}
	}
	return out
}

// declaredPod is the Pod "namespace/name" of the longest-named declared
// workload it follows, nil when it follows none.
func declaredPod(name string, workloads map[string][]string) *corev1.Pod {
	ns, podName, ok := strings.Cut(name, "/")
	if !ok {
		return nil
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: podName}}
	if slices.Contains(workloads[name], "Pod") {
		return pod
	}
	controller := true
	for i := len(podName) - 1; i > 0; i-- {
		if podName[i] != '-' {
			continue
		}
		owner, suffix := podName[:i], podName[i+1:]
		for _, kind := range workloads[ns+"/"+owner] {
			re := podSuffixes[kind]
			if re == nil {
				continue
			}
			m := re.FindStringSubmatch(suffix)
			if m == nil {
				continue
			}
			ref := metav1.OwnerReference{Kind: kind, Name: owner, Controller: &controller}
			switch kind {
			case "Deployment": // resolve walks ReplicaSet NAME-HASH up to its Deployment
				ref.Kind, ref.Name = "ReplicaSet", owner+"-"+m[1]
				pod.Labels = map[string]string{"pod-template-hash": m[1]}
			case "CronJob": // and Job NAME-TIME up to its CronJob
				ref.Kind, ref.Name = "Job", owner+"-"+m[1]
			}
			pod.OwnerReferences = []metav1.OwnerReference{ref}
			return pod
		}
	}
	return nil
}
