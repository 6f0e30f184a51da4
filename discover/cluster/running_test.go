package cluster

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/stridemap/stridemap/discover"
)

// listed is one object as a list returns it, and the kind it was listed as.
type listed struct {
	kind Kind
	yaml string
}

var (
	deployment = Kind{Group: "apps", Kind: "Deployment"}
	replicaSet = Kind{Group: "apps", Kind: "ReplicaSet"}
	statefulSt = Kind{Group: "apps", Kind: "StatefulSet"}
	cronJob    = Kind{Group: "batch", Kind: "CronJob"}
	job        = Kind{Group: "batch", Kind: "Job"}
	pod        = Kind{Kind: "Pod"}
)

// owned is the metadata of an object its controller made.
func owned(name, apiVersion, kind, owner string) string {
	return fmt.Sprintf("metadata: {name: %s, namespace: shop, ownerReferences: [{apiVersion: %s, kind: %s, name: %s, controller: true}]}", name, apiVersion, kind, owner)
}

// webPod is a pod of ReplicaSet rs running web at image (imageID) with an
// injected istio-proxy.
func webPod(name, rs, image, imageID string) listed {
	return listed{pod, owned(name, "apps/v1", "ReplicaSet", rs) + `
spec: {containers: [{name: web, image: ` + image + `}, {name: istio-proxy, image: "docker.io/istio/proxyv2:1.24.0"}]}
status:
  containerStatuses:
  - {name: web, imageID: "` + imageID + `"}
  - {name: istio-proxy, imageID: "docker.io/istio/proxyv2@sha256:aaa"}`}
}

func webReplicaSet(name, image string) listed {
	return listed{replicaSet, owned(name, "apps/v1", "Deployment", "web") + `
spec: {template: {spec: {containers: [{name: web, image: ` + image + `}]}}}`}
}

const webDeployment = `metadata: {name: web, namespace: shop}
spec: {template: {spec: {containers: [{name: web, image: "nginx:1.27"}]}}}`

// TestRunningOwnership: what pods run reaches the workload at the top of
// their ownerReferences, whatever order the lists came in; each distinct
// image and digest is reported once; a container the pod's own
// controller's template does not declare is injected.
func TestRunningOwnership(t *testing.T) {
	for _, tc := range []struct {
		name    string
		objects []listed
		want    map[string][]string // object ref → its Running, as runningText writes it
	}{{
		name: "a rollout: the pods of two ReplicaSets of one Deployment",
		objects: []listed{
			webPod("web-new-1", "web-new", "nginx:1.27", "docker.io/library/nginx@sha256:new"),
			webPod("web-new-2", "web-new", "nginx:1.27", "docker.io/library/nginx@sha256:new"),
			webPod("web-old-1", "web-old", "nginx:1.26", "docker-pullable://nginx@sha256:old"),
			{deployment, webDeployment},
			webReplicaSet("web-new", "nginx:1.27"),
			webReplicaSet("web-old", "nginx:1.26"),
		},
		want: map[string][]string{"Deployment shop/web": {
			"istio-proxy docker.io/istio/proxyv2:1.24.0 docker.io/istio/proxyv2@sha256:aaa injected",
			"web nginx:1.26 docker-pullable://nginx@sha256:old",
			"web nginx:1.27 docker.io/library/nginx@sha256:new",
		}},
	}, {
		name: "a pod not started yet runs what its started twin runs; a new image not started is reported",
		objects: []listed{
			{deployment, webDeployment},
			webReplicaSet("web-1", "nginx:1.27"),
			webPod("web-1-a", "web-1", "nginx:1.27", "nginx@sha256:one"),
			webPod("web-1-b", "web-1", "nginx:1.27", ""),
			webPod("web-1-c", "web-1", "nginx:1.28", ""),
		},
		want: map[string][]string{"Deployment shop/web": {
			"istio-proxy docker.io/istio/proxyv2:1.24.0 docker.io/istio/proxyv2@sha256:aaa injected",
			"web nginx:1.27 nginx@sha256:one",
			"web nginx:1.28 -",
		}},
	}, {
		name: "CronJob, Job, Pod; a StatefulSet's pods with a native sidecar",
		objects: []listed{
			{pod, owned("backup-1-x", "batch/v1", "Job", "backup-1") + `
spec: {containers: [{name: dump, image: "pg:16"}]}
status: {containerStatuses: [{name: dump, imageID: "pg@sha256:d"}]}`},
			{job, owned("backup-1", "batch/v1", "CronJob", "backup") + `
spec: {template: {spec: {containers: [{name: dump, image: "pg:16"}]}}}`},
			{cronJob, `metadata: {name: backup, namespace: shop}
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: dump, image: "pg:16"}]}}}}}`},
			{statefulSt, `metadata: {name: db, namespace: shop}
spec: {template: {spec: {containers: [{name: db, image: "pg:16"}]}}}`},
			{pod, owned("db-0", "apps/v1", "StatefulSet", "db") + `
spec:
  initContainers: [{name: linkerd-proxy, image: "cr.l5d.io/linkerd/proxy:edge"}]
  containers: [{name: db, image: "pg:16"}]
status:
  initContainerStatuses: [{name: linkerd-proxy, imageID: "cr.l5d.io/linkerd/proxy@sha256:l"}]
  containerStatuses: [{name: db, imageID: "pg@sha256:d"}]`},
		},
		want: map[string][]string{
			"CronJob shop/backup": {"dump pg:16 pg@sha256:d"},
			"StatefulSet shop/db": {"init linkerd-proxy cr.l5d.io/linkerd/proxy:edge cr.l5d.io/linkerd/proxy@sha256:l injected", "db pg:16 pg@sha256:d"},
		},
	}, {
		name: "a pod of its own is what it runs; one whose controller was not read is left out",
		objects: []listed{
			{pod, `metadata: {name: debug, namespace: shop}
spec: {containers: [{name: shell, image: "busybox:1.37"}]}
status: {containerStatuses: [{name: shell, imageID: "busybox@sha256:b"}]}`},
			// ReplicaSets are read, but not the one that made this pod
			// (deleted since), nor Deployments.
			webReplicaSet("web-2", "nginx:1.27"),
			webPod("web-1-a", "web-1", "nginx:1.27", "nginx@sha256:one"),
		},
		want: map[string][]string{"Pod shop/debug": {"shell busybox:1.37 busybox@sha256:b"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scanner{reading: map[Kind]bool{}, running: newRunning()}
			for _, o := range tc.objects {
				s.reading[o.kind] = true
			}
			var objects []*discover.Object
			for _, o := range tc.objects {
				var item map[string]any
				if err := yaml.Unmarshal([]byte(o.yaml), &item); err != nil {
					t.Fatalf("%s: %v", o.yaml, err)
				}
				meta := item["metadata"].(map[string]any)
				if s.readThroughController(target{served: served{kind: o.kind}}, item, meta) {
					continue
				}
				ns, _ := meta["namespace"].(string)
				objects = append(objects, &discover.Object{APIVersion: apiVersionOf(o.kind), Kind: o.kind.Kind, Namespace: ns, Name: meta["name"].(string)})
			}
			s.running.attach(objects)
			got := map[string][]string{}
			for _, o := range objects {
				if o.Running != nil {
					got[o.Ref()] = runningText(o.Running)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("running:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func apiVersionOf(k Kind) string {
	if k.Group == "" {
		return "v1"
	}
	return k.Group + "/v1"
}

func runningText(running []discover.RunningContainer) []string {
	var out []string
	for _, c := range running {
		words := []string{c.Name, c.Image, c.ImageID}
		if c.ImageID == "" {
			words[2] = "-"
		}
		if c.Init {
			words = append([]string{"init"}, words...)
		}
		if c.Injected {
			words = append(words, "injected")
		}
		out = append(out, strings.Join(words, " "))
	}
	return out
}

// TestControllerOf: only the controller among the owners counts, and the
// core group's apiVersion has no group.
func TestControllerOf(t *testing.T) {
	var meta map[string]any
	err := yaml.Unmarshal([]byte(`ownerReferences:
- {apiVersion: example.com/v1, kind: Widget, name: w}
- {apiVersion: v1, kind: ReplicationController, name: rc, controller: true}`), &meta)
	if err != nil {
		t.Fatal(err)
	}
	kind, name, ok := controllerOf(meta)
	if !ok || kind != (Kind{Kind: "ReplicationController"}) || name != "rc" {
		t.Errorf("controller: %v %q %v", kind, name, ok)
	}
	if _, _, ok := controllerOf(map[string]any{}); ok {
		t.Errorf("an object without owners has a controller")
	}
}
