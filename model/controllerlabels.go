package model

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
)

// Labels that workload controllers put on the pods they create, which no
// pod template declares. A selector on them still picks the controller's
// pods: a per-pod Service of a StatefulSet selects
// statefulset.kubernetes.io/pod-name.
const (
	labelPodName         = "statefulset.kubernetes.io/pod-name"
	labelPodIndex        = "apps.kubernetes.io/pod-index"
	labelRevisionHash    = "controller-revision-hash"
	labelPodTemplateHash = "pod-template-hash"
	labelJobName         = "batch.kubernetes.io/job-name"
	labelJobNameLegacy   = "job-name"
	labelJobUID          = "batch.kubernetes.io/controller-uid"
	labelJobUIDLegacy    = "controller-uid"
)

// selectsPodsOf reports whether a label selector (a Service's) picks pods
// of w: the template's labels, plus the labels w's controller adds to each
// pod, where the selector asks for them and the template does not set them.
func selectsPodsOf(selector map[string]string, w *IndexedWorkload) bool {
	var declared map[string]string
	for k, v := range selector {
		if _, set := w.Template.Labels[k]; set || !IsControllerLabel(k) {
			continue
		}
		if !controllerSets(w, k, v) {
			return false
		}
		if declared == nil {
			declared = make(map[string]string, len(selector))
			for k2, v2 := range selector {
				declared[k2] = v2
			}
		}
		delete(declared, k)
	}
	if declared == nil {
		declared = selector
	}
	return labels.SelectorFromSet(declared).Matches(labels.Set(w.Template.Labels))
}

func hasControllerLabel(selector map[string]string) bool {
	for k := range selector {
		if IsControllerLabel(k) {
			return true
		}
	}
	return false
}

// IsControllerLabel reports whether a controller, not the pod template,
// sets the label: it differs from pod to pod or from rollout to rollout,
// so a policy that means the workload must not select by it.
func IsControllerLabel(key string) bool {
	switch key {
	case labelPodName, labelPodIndex, labelRevisionHash, labelPodTemplateHash,
		labelJobName, labelJobNameLegacy, labelJobUID, labelJobUIDLegacy:
		return true
	}
	return false
}

// controllerSets reports whether w's controller gives some pod the label
// key=value. Pod names and indexes are checked against the StatefulSet's
// name and replicas; hashes cannot be known from manifests, so any value
// counts for the kinds whose controller writes them.
func controllerSets(w *IndexedWorkload, key, value string) bool {
	kind := w.Template.Controller()
	switch key {
	case labelPodName:
		ordinal, ok := strings.CutPrefix(value, w.Template.Name()+"-")
		return kind == "StatefulSet" && ok && ordinalBelowReplicas(ordinal, w.Template.Replicas)
	case labelPodIndex:
		return kind == "StatefulSet" && ordinalBelowReplicas(value, w.Template.Replicas)
	case labelRevisionHash:
		return kind == "StatefulSet" || kind == "DaemonSet"
	case labelPodTemplateHash:
		return kind == "Deployment" || kind == "ReplicaSet"
	}
	return false
}

// ordinalBelowReplicas reports whether s is the ordinal of a pod that a
// StatefulSet of that many replicas (1 when unset) runs.
func ordinalBelowReplicas(s string, replicas *int32) bool {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || strconv.Itoa(n) != s {
		return false
	}
	want := int32(1)
	if replicas != nil {
		want = *replicas
	}
	return int32(n) < want
}
