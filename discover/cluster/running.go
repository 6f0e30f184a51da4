package cluster

import (
	"cmp"
	"slices"
	"sync"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/fields"
)

// running gathers, while lists run, what the pods of each workload run,
// and attaches it to the workload once everything is read. It keeps
// object keys and distinct containers only, never the pods themselves, so
// a cluster of many replicas costs what its few distinct images cost.
type running struct {
	mu sync.Mutex
	// controllers maps an object read through its controller (a
	// ReplicaSet, a Job) to that controller, both as Object.Key names them.
	controllers map[string]string
	// templates holds, for each object with a pod template, the
	// containers it declares.
	templates map[string]map[containerName]bool
	// pods holds, for each pod's controller (or a pod without one read),
	// the distinct containers its pods run.
	pods map[string]map[podContainer]bool
}

type containerName struct {
	name string
	init bool
}

type podContainer struct {
	containerName
	image, imageID string
}

func newRunning() *running {
	return &running{controllers: map[string]string{}, templates: map[string]map[containerName]bool{}, pods: map[string]map[podContainer]bool{}}
}

// objectKey names an object as discover.Object.Key does.
func objectKey(group, kind, namespace, name string) string {
	return group + "/" + kind + " " + namespace + "/" + name
}

// templatePaths are where workload kinds hold their pod spec.
var templatePaths = [][]string{{"spec", "template", "spec"}, {"spec", "jobTemplate", "spec", "template", "spec"}}

// controlled records that the object key was made by controller.
func (r *running) controlled(key, controller string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.controllers[key] = controller
}

// template records the containers of an object's pod template, if it has
// one.
func (r *running) template(key string, item map[string]any) {
	for _, path := range templatePaths {
		spec := fields.Map(item, path...)
		if spec == nil {
			continue
		}
		declared := map[containerName]bool{}
		for _, init := range []bool{false, true} {
			for _, c := range fields.List(spec, containersField(init)) {
				declared[containerName{name: fields.String(fields.AsMap(c), "name"), init: init}] = true
			}
		}
		r.mu.Lock()
		r.templates[key] = declared
		r.mu.Unlock()
		return
	}
}

func containersField(init bool) string {
	if init {
		return "initContainers"
	}
	return "containers"
}

// pod records what one pod runs, for runner: the controller that made it,
// or the pod itself. Each container's image is the spec's; its imageID is
// the status's, matched by name.
func (r *running) pod(runner string, pod map[string]any) {
	found := map[podContainer]bool{}
	for _, init := range []bool{false, true} {
		ids := map[string]string{}
		statuses := "containerStatuses"
		if init {
			statuses = "initContainerStatuses"
		}
		for _, s := range fields.List(pod, "status", statuses) {
			status := fields.AsMap(s)
			ids[fields.String(status, "name")] = fields.String(status, "imageID")
		}
		for _, c := range fields.List(pod, "spec", containersField(init)) {
			spec := fields.AsMap(c)
			name := fields.String(spec, "name")
			found[podContainer{containerName: containerName{name: name, init: init}, image: fields.String(spec, "image"), imageID: ids[name]}] = true
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.pods[runner]
	if set == nil {
		set = map[podContainer]bool{}
		r.pods[runner] = set
	}
	for c := range found {
		set[c] = true
	}
}

// maxOwnerChain bounds the walk up ownerReferences (Pod → ReplicaSet →
// Deployment is two steps), so that a cycle cannot hang a scan.
const maxOwnerChain = 8

// attach gives each object what its pods run: the pods of its own, and
// those of the objects it controls (a Deployment's ReplicaSets, a
// CronJob's Jobs), walked up ownerReferences. A container is injected
// when the template of the pod's own controller does not declare it.
// Pods whose controllers are not among the objects are left out.
func (r *running) attach(objects []*discover.Object) {
	byKey := make(map[string]*discover.Object, len(objects))
	for _, o := range objects {
		byKey[o.Key()] = o
	}
	touched := map[*discover.Object]bool{}
	for runner, set := range r.pods {
		top := runner
		for range maxOwnerChain {
			next, ok := r.controllers[top]
			if byKey[top] != nil || !ok {
				break
			}
			top = next
		}
		obj := byKey[top]
		if obj == nil {
			continue
		}
		declared, known := r.templates[runner]
		for c := range set {
			obj.Running = append(obj.Running, discover.RunningContainer{
				Name: c.name, Init: c.init, Injected: known && !declared[c.containerName], Image: c.image, ImageID: c.imageID,
			})
		}
		touched[obj] = true
	}
	for obj := range touched {
		obj.Running = distinctRunning(obj.Running)
	}
}

// distinctRunning sorts containers (init containers first, as a pod
// starts them) and drops repeats, and an entry without an imageID where
// the same container and image has one: a pod that has not started yet
// runs nothing else.
func distinctRunning(in []discover.RunningContainer) []discover.RunningContainer {
	slices.SortFunc(in, func(a, b discover.RunningContainer) int {
		if a.Init != b.Init {
			if a.Init {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Image, b.Image), cmp.Compare(a.ImageID, b.ImageID),
			boolCompare(a.Injected, b.Injected))
	})
	in = slices.Compact(in)
	started := map[podContainer]bool{}
	for _, c := range in {
		if c.ImageID != "" {
			started[podContainer{containerName: containerName{name: c.Name, init: c.Init}, image: c.Image}] = true
		}
	}
	return slices.DeleteFunc(in, func(c discover.RunningContainer) bool {
		return c.ImageID == "" && started[podContainer{containerName: containerName{name: c.Name, init: c.Init}, image: c.Image}]
	})
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
