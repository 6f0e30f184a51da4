package model

import (
	"encoding/json"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/fields"
)

const monitoringGroup = "monitoring.coreos.com"

// operatedKind describes a custom resource that the Prometheus operator
// turns into a StatefulSet: the pods it runs are what the graph shows,
// named as the operator names the StatefulSet ("prometheus-k8s").
type operatedKind struct {
	prefix    string // StatefulSet name prefix
	container string // the main container's name
	image     string // the image the operator uses when spec.image is unset
	ports     []corev1.ContainerPort
	// nameLabel is the label the operator sets to the resource's name
	// ("prometheus: k8s"), besides the app.kubernetes.io ones.
	nameLabel string
}

// operatedKinds are the Prometheus operator's kinds that run pods.
var operatedKinds = map[string]operatedKind{
	monitoringGroup + "/Prometheus": {prefix: "prometheus-", container: "prometheus", image: "quay.io/prometheus/prometheus", nameLabel: "prometheus",
		ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 9090, Protocol: corev1.ProtocolTCP}}},
	monitoringGroup + "/PrometheusAgent": {prefix: "prom-agent-", container: "prometheus", image: "quay.io/prometheus/prometheus", nameLabel: "prometheus",
		ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 9090, Protocol: corev1.ProtocolTCP}}},
	monitoringGroup + "/Alertmanager": {prefix: "alertmanager-", container: "alertmanager", image: "quay.io/prometheus/alertmanager", nameLabel: "alertmanager",
		ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 9093, Protocol: corev1.ProtocolTCP}, {Name: "mesh-tcp", ContainerPort: 9094, Protocol: corev1.ProtocolTCP}}},
	monitoringGroup + "/ThanosRuler": {prefix: "thanos-ruler-", container: "thanos-ruler", image: "quay.io/thanos/thanos", nameLabel: "thanos-ruler",
		ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 10902, Protocol: corev1.ProtocolTCP}, {Name: "grpc", ContainerPort: 10901, Protocol: corev1.ProtocolTCP}}},
}

// isOperated reports whether obj is a custom resource the Prometheus
// operator runs pods for.
func isOperated(obj *discover.Object) bool {
	_, ok := operatedKinds[obj.Group()+"/"+obj.Kind]
	return ok
}

// operatorSettings is what the Prometheus operator's own flags decide for
// every pod it creates: the config-reloader sidecar's image, which the
// operator releases with the same version tag as itself (never latest),
// and its resources.
type operatorSettings struct {
	reloaderImage     string // "" while no operator was read: its tag is then unknown
	reloaderResources corev1.ResourceRequirements
}

// reloaderRepository is the config-reloader image without a tag.
const reloaderRepository = "quay.io/prometheus-operator/prometheus-config-reloader"

// defaultOperatorSettings are the operator's flag defaults: the
// config-reloader requests and is limited to 10m CPU and 50Mi memory.
func defaultOperatorSettings() operatorSettings {
	list := func() corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("50Mi")}
	}
	return operatorSettings{reloaderResources: corev1.ResourceRequirements{Requests: list(), Limits: list()}}
}

// read takes the settings from a container of the operator's Deployment
// (its --prometheus-config-reloader and --config-reloader-* flags, else
// its own image's tag); other containers leave them as they are. A
// resource flag of "0" sets no request or limit, as the operator does.
func (s *operatorSettings) read(c corev1.Container) {
	operatorImage := strings.HasPrefix(c.Image, "quay.io/prometheus-operator/prometheus-operator:")
	if !operatorImage && !slices.ContainsFunc(c.Args, func(a string) bool { return strings.Contains(a, "prometheus-config-reloader=") }) {
		return // every container of every workload passes here: most are not the operator
	}
	flags := map[string]string{}
	for _, arg := range c.Args {
		if name, value, ok := strings.Cut(strings.TrimLeft(arg, "-"), "="); ok {
			flags[name] = value
		}
	}
	image, named := flags["prometheus-config-reloader"]
	if !operatorImage && !named {
		return
	}
	switch {
	case named:
		s.reloaderImage = image
	case s.reloaderImage == "":
		s.reloaderImage = reloaderRepository + ":" + strings.SplitN(c.Image, ":", 2)[1]
	}
	for _, f := range []struct {
		flag string
		into corev1.ResourceList
		name corev1.ResourceName
	}{
		{"config-reloader-cpu-request", s.reloaderResources.Requests, corev1.ResourceCPU},
		{"config-reloader-cpu-limit", s.reloaderResources.Limits, corev1.ResourceCPU},
		{"config-reloader-memory-request", s.reloaderResources.Requests, corev1.ResourceMemory},
		{"config-reloader-memory-limit", s.reloaderResources.Limits, corev1.ResourceMemory},
	} {
		v, set := flags[f.flag]
		if !set {
			continue
		}
		q, err := resource.ParseQuantity(v)
		switch {
		case err != nil:
		case q.IsZero():
			delete(f.into, f.name)
		default:
			f.into[f.name] = q
		}
	}
}

// operatedTemplate builds the pod template the operator would give the
// StatefulSet of a custom resource: its image (spec.image, else the
// operator's default at spec.version), service account, pod security
// context, resources, replicas and pod labels, with spec.containers merged
// by name as the operator does. What the operator adds regardless is
// modelled too: its config-reloader sidecar, the probes it sets, the
// hardened container security context it writes (no privilege escalation,
// read-only root filesystem, all capabilities dropped) and, when the
// resource gives none, its default pod security context (non-root user
// 1000); the config-reloader's image and resources come from the
// operator's settings. ok is false for other kinds.
func operatedTemplate(obj *discover.Object, operator operatorSettings) (PodTemplate, bool) {
	kind, ok := operatedKinds[obj.Group()+"/"+obj.Kind]
	if !ok || obj.Fields == nil {
		return PodTemplate{}, false
	}
	spec := fields.Map(obj.Fields, "spec")
	image := fields.String(spec, "image")
	if image == "" {
		image = kind.image
		if v := fields.String(spec, "version"); v != "" {
			if v[0] != 'v' {
				v = "v" + v
			}
			image += ":" + v
		}
	}
	hardened := func() *corev1.SecurityContext {
		no, yes := false, true
		return &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	}
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("web")}}}
	}
	main := corev1.Container{Name: kind.container, Image: image, Ports: kind.ports, SecurityContext: hardened(),
		LivenessProbe: probe("/-/healthy"), ReadinessProbe: probe("/-/ready")}
	decodeInto(spec["resources"], &main.Resources)
	reloader := corev1.Container{Name: "config-reloader", Image: operator.reloaderImage,
		Ports: []corev1.ContainerPort{{Name: "reloader-web", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}, SecurityContext: hardened(),
		Resources: *operator.reloaderResources.DeepCopy()}
	if reloader.Image == "" {
		reloader.Image = reloaderRepository
	}
	defaults := []corev1.Container{main, reloader}

	// The resource's own containers come first, so that their indexes are
	// the indexes of spec.containers and evidence finds their lines.
	var given []corev1.Container
	decodeInto(spec["containers"], &given)
	var containers []corev1.Container
	used := map[string]bool{}
	for _, c := range given {
		for _, d := range defaults {
			if d.Name == c.Name {
				c = mergeContainer(d, c)
				used[d.Name] = true
			}
		}
		containers = append(containers, c)
	}
	for _, d := range defaults {
		if !used[d.Name] {
			containers = append(containers, d)
		}
	}

	ps := &corev1.PodSpec{ServiceAccountName: fields.String(spec, "serviceAccountName"), Containers: containers}
	decodeInto(spec["initContainers"], &ps.InitContainers)
	decodeInto(spec["volumes"], &ps.Volumes)
	if sc, ok := spec["securityContext"].(map[string]any); ok {
		decodeInto(sc, &ps.SecurityContext)
	} else {
		user, group, nonRoot := int64(1000), int64(2000), true
		ps.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &user, RunAsNonRoot: &nonRoot, FSGroup: &group}
	}
	if v, ok := spec["automountServiceAccountToken"].(bool); ok {
		ps.AutomountServiceAccountToken = &v
	}
	replicas := int32(1)
	if _, set := spec["replicas"]; set {
		replicas = fields.Number(spec, "replicas")
	}
	podLabels := map[string]string{}
	for k, v := range fields.StringMap(spec, "podMetadata", "labels") {
		podLabels[k] = v
	}
	for k, v := range map[string]string{
		"app.kubernetes.io/name":       kind.container,
		"app.kubernetes.io/instance":   obj.Name,
		"app.kubernetes.io/managed-by": "prometheus-operator",
		kind.nameLabel:                 obj.Name,
	} {
		podLabels[k] = v
	}
	if kind.prefix == "prometheus-" {
		podLabels["operator.prometheus.io/name"] = obj.Name
		podLabels["operator.prometheus.io/shard"] = "0"
	}
	return PodTemplate{
		Object: obj, Spec: ps, Labels: podLabels, Annotations: fields.StringMap(spec, "podMetadata", "annotations"),
		SpecPath: "spec", Replicas: &replicas, WorkloadName: kind.prefix + obj.Name, ControllerKind: "StatefulSet",
	}, true
}

// mergeContainer applies what a resource's spec.containers entry sets to
// the operator's container of the same name, as a strategic merge would
// for the fields the graph reads.
func mergeContainer(base, over corev1.Container) corev1.Container {
	out := base
	if over.Image != "" {
		out.Image = over.Image
	}
	if over.SecurityContext != nil {
		out.SecurityContext = over.SecurityContext
	}
	if over.Resources.Limits != nil || over.Resources.Requests != nil {
		out.Resources = over.Resources
	}
	if over.LivenessProbe != nil {
		out.LivenessProbe = over.LivenessProbe
	}
	if over.ReadinessProbe != nil {
		out.ReadinessProbe = over.ReadinessProbe
	}
	out.Args = append(out.Args, over.Args...)
	out.Env = append(out.Env, over.Env...)
	out.EnvFrom = append(out.EnvFrom, over.EnvFrom...)
	out.Ports = append(out.Ports, over.Ports...)
	out.VolumeMounts = append(out.VolumeMounts, over.VolumeMounts...)
	return out
}

// decodeInto converts decoded JSON (an unstructured field) to a typed
// value; what does not fit is left as it was.
func decodeInto(v any, into any) {
	if v == nil {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	_ = json.Unmarshal(data, into) // a malformed field only costs what it would have told
}
