package model

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/secretvalue"
)

// PodTemplate is the part of a workload object the graph is built from:
// where its pod spec is, so evidence can point into it.
type PodTemplate struct {
	Object      *discover.Object // the Deployment, CronJob, Pod … that holds the template
	Spec        *corev1.PodSpec
	Labels      map[string]string
	Annotations map[string]string
	SpecPath    string // field path of the pod spec, e.g. "spec.template.spec"
	Replicas    *int32
	Schedule    string // a CronJob's schedule
	// WorkloadName and ControllerKind are set for a custom resource an
	// operator turns into a workload: the name and kind of what it
	// creates ("prometheus-k8s", "StatefulSet"). Empty means the object's.
	WorkloadName   string
	ControllerKind string

	// containers, once listed, is what Containers returns: the graph
	// builder and every detector ask for a workload's containers, some
	// twenty times each.
	containers []ContainerRef
}

// Name is the name of the workload the template's pods belong to.
func (t PodTemplate) Name() string {
	if t.WorkloadName != "" {
		return t.WorkloadName
	}
	return t.Object.Name
}

// Controller is the kind of controller that creates the template's pods.
func (t PodTemplate) Controller() string {
	if t.ControllerKind != "" {
		return t.ControllerKind
	}
	return t.Object.Kind
}

// podTemplateOf extracts the pod template of a workload kind; ok is false
// for objects that run no pods.
func podTemplateOf(obj *discover.Object) (PodTemplate, bool) {
	t := PodTemplate{Object: obj, SpecPath: "spec.template.spec"}
	switch o := obj.Typed.(type) {
	case *appsv1.Deployment:
		t.Spec, t.Labels, t.Annotations, t.Replicas = &o.Spec.Template.Spec, o.Spec.Template.Labels, o.Spec.Template.Annotations, o.Spec.Replicas
	case *appsv1.StatefulSet:
		t.Spec, t.Labels, t.Annotations, t.Replicas = &o.Spec.Template.Spec, o.Spec.Template.Labels, o.Spec.Template.Annotations, o.Spec.Replicas
	case *appsv1.DaemonSet:
		t.Spec, t.Labels, t.Annotations = &o.Spec.Template.Spec, o.Spec.Template.Labels, o.Spec.Template.Annotations
	case *appsv1.ReplicaSet:
		t.Spec, t.Labels, t.Annotations, t.Replicas = &o.Spec.Template.Spec, o.Spec.Template.Labels, o.Spec.Template.Annotations, o.Spec.Replicas
	case *batchv1.Job:
		t.Spec, t.Labels, t.Annotations = &o.Spec.Template.Spec, o.Spec.Template.Labels, o.Spec.Template.Annotations
	case *batchv1.CronJob:
		tmpl := &o.Spec.JobTemplate.Spec.Template
		t.Spec, t.Labels, t.Annotations, t.Schedule = &tmpl.Spec, tmpl.Labels, tmpl.Annotations, o.Spec.Schedule
		t.SpecPath = "spec.jobTemplate.spec.template.spec"
	case *corev1.Pod:
		t.Spec, t.Labels, t.Annotations = &o.Spec, o.Labels, o.Annotations
		t.SpecPath = "spec"
	default:
		return PodTemplate{}, false
	}
	return t, true
}

// ContainerRef is one container with the field path it lives at.
type ContainerRef struct {
	Container *corev1.Container
	Path      string // "spec.template.spec.containers[0]"
	Init      bool
}

// Containers lists the init containers, then the containers. The list of
// a workload's template is made once and shared: do not change it.
func (t PodTemplate) Containers() []ContainerRef {
	if t.containers != nil {
		return t.containers
	}
	return t.listContainers()
}

func (t PodTemplate) listContainers() []ContainerRef {
	if t.Spec == nil {
		return nil
	}
	out := make([]ContainerRef, 0, len(t.Spec.InitContainers)+len(t.Spec.Containers))
	for i := range t.Spec.InitContainers {
		out = append(out, ContainerRef{Container: &t.Spec.InitContainers[i], Path: t.SpecPath + ".initContainers[" + strconv.Itoa(i) + "]", Init: true})
	}
	for i := range t.Spec.Containers {
		out = append(out, ContainerRef{Container: &t.Spec.Containers[i], Path: t.SpecPath + ".containers[" + strconv.Itoa(i) + "]"})
	}
	return out
}

// secretWords appear in the names of environment variables that usually
// hold credentials; secretSuffixes end such names. Names that announce an
// address (TOKEN_URL, AUTH_ENDPOINT) are not credentials: their values are
// parsed for peers, with any user information removed before they are shown.
var (
	secretWords = []string{"password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "privatekey", "private_key",
		"credential", "accesskey", "access_key", "signingkey", "signing_key", "encryptionkey", "encryption_key"}
	secretSuffixes = []string{"pass", "pwd", "_key", "-key", ".key"}
)

// IsSensitiveName reports whether a variable of this name holds a secret.
// It runs for every variable of every container, so it avoids regexps.
func IsSensitiveName(name string) bool {
	lower := strings.ToLower(name)
	found := false
	for _, w := range secretWords {
		if strings.Contains(lower, w) {
			found = true
			break
		}
	}
	for _, suffix := range secretSuffixes {
		if found {
			break
		}
		found = strings.HasSuffix(lower, suffix)
	}
	return found && !isAddressName(name)
}

// HasPassword reports whether a literal value embeds a password in a URL
// ("postgres://app:hunter2@db/app") or a key=value connection string
// ("Host=db;Username=app;Password=hunter2"): a secret in the manifest too.
func HasPassword(value string) bool {
	if cs, ok := parseConnectionString(value); ok && cs.hasPassword {
		return true
	}
	return secretvalue.HasURLPassword(value)
}

// IsLiteralSecret reports whether a variable's literal value is a
// credential: its name says so and its value could be one (not a number,
// a duration, a boolean, a path, a reference or a URL without
// credentials), or the value embeds a password in a URL or a connection
// string.
func IsLiteralSecret(name, value string) bool {
	return (IsSensitiveName(name) && secretvalue.Of(value) == secretvalue.Secret) || HasPassword(value)
}

// summarise builds the Workload summary a reviewer and the catalog read.
func (t PodTemplate) summarise() *Workload {
	spec := t.Spec
	w := &Workload{
		Replicas:                     t.Replicas,
		PodLabels:                    screenedLabels(t.Labels),
		ServiceAccount:               spec.ServiceAccountName,
		AutomountServiceAccountToken: spec.AutomountServiceAccountToken,
		HostNetwork:                  spec.HostNetwork,
		HostPID:                      spec.HostPID,
		HostIPC:                      spec.HostIPC,
		Schedule:                     t.Schedule,
		MeshSidecar:                  meshSidecar(t.Annotations, t.Labels, spec),
		Containers:                   []Container{},
	}
	if w.ServiceAccount == "" {
		w.ServiceAccount = "default"
	}
	for _, cr := range t.Containers() {
		w.Containers = append(w.Containers, t.summariseContainer(cr))
	}
	for _, c := range t.Object.Running {
		w.Running = append(w.Running, RunningContainer{Name: c.Name, Init: c.Init, Injected: c.Injected, Image: c.Image, Digest: RunningDigest(c.ImageID)})
	}
	if mesh := w.RunningMesh(); mesh != "" {
		w.MeshSidecar = mesh
	}
	for _, v := range spec.Volumes {
		w.Volumes = append(w.Volumes, summariseVolume(v))
	}
	return w
}

func (t PodTemplate) summariseContainer(cr ContainerRef) Container {
	c := cr.Container
	out := Container{
		Name:  c.Name,
		Init:  cr.Init,
		Image: ParseImage(c.Image),
		Probes: Probes{
			Liveness:  c.LivenessProbe != nil,
			Readiness: c.ReadinessProbe != nil,
			Startup:   c.StartupProbe != nil,
		},
		Security: effectiveSecurity(t.Spec.SecurityContext, c.SecurityContext),
	}
	for _, p := range c.Ports {
		out.Ports = append(out.Ports, ContainerPort{Name: p.Name, Port: p.ContainerPort, Protocol: string(p.Protocol), HostPort: p.HostPort})
	}
	for i, e := range c.Env {
		v := EnvVar{Name: e.Name, Source: EnvLiteral, Line: t.Object.LineOf(fmt.Sprintf("%s.env[%d]", cr.Path, i))}
		switch {
		case e.ValueFrom == nil:
			v.Sensitive = IsLiteralSecret(e.Name, e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			v.Source, v.From = EnvSecret, "secret/"+e.ValueFrom.SecretKeyRef.Name+":"+e.ValueFrom.SecretKeyRef.Key
		case e.ValueFrom.ConfigMapKeyRef != nil:
			v.Source, v.From = EnvConfigMap, "configmap/"+e.ValueFrom.ConfigMapKeyRef.Name+":"+e.ValueFrom.ConfigMapKeyRef.Key
		case e.ValueFrom.FieldRef != nil:
			v.Source, v.From = EnvField, e.ValueFrom.FieldRef.FieldPath
		case e.ValueFrom.ResourceFieldRef != nil:
			v.Source, v.From = EnvResource, e.ValueFrom.ResourceFieldRef.Resource
		}
		out.Env = append(out.Env, v)
	}
	for i, ef := range c.EnvFrom {
		line := t.Object.LineOf(fmt.Sprintf("%s.envFrom[%d]", cr.Path, i))
		switch {
		case ef.SecretRef != nil:
			out.Env = append(out.Env, EnvVar{Name: ef.Prefix + "*", Source: EnvSecret, From: "secret/" + ef.SecretRef.Name, Line: line})
		case ef.ConfigMapRef != nil:
			out.Env = append(out.Env, EnvVar{Name: ef.Prefix + "*", Source: EnvConfigMap, From: "configmap/" + ef.ConfigMapRef.Name, Line: line})
		}
	}
	if r := c.Resources.Requests; r != nil {
		out.Resources.CPURequest = quantity(r, corev1.ResourceCPU)
		out.Resources.MemoryRequest = quantity(r, corev1.ResourceMemory)
	}
	if l := c.Resources.Limits; l != nil {
		out.Resources.CPULimit = quantity(l, corev1.ResourceCPU)
		out.Resources.MemoryLimit = quantity(l, corev1.ResourceMemory)
	}
	return out
}

func quantity(list corev1.ResourceList, name corev1.ResourceName) string {
	if q, ok := list[name]; ok {
		return q.String()
	}
	return ""
}

// effectiveSecurity applies the Kubernetes precedence: a container's
// security context overrides the pod's for the fields both have.
func effectiveSecurity(pod *corev1.PodSecurityContext, c *corev1.SecurityContext) Security {
	var s Security
	if pod != nil {
		s.RunAsNonRoot, s.RunAsUser = pod.RunAsNonRoot, pod.RunAsUser
		if pod.SeccompProfile != nil {
			s.SeccompProfile = string(pod.SeccompProfile.Type)
		}
	}
	if c == nil {
		return s
	}
	if c.RunAsNonRoot != nil {
		s.RunAsNonRoot = c.RunAsNonRoot
	}
	if c.RunAsUser != nil {
		s.RunAsUser = c.RunAsUser
	}
	if c.SeccompProfile != nil {
		s.SeccompProfile = string(c.SeccompProfile.Type)
	}
	s.Privileged = c.Privileged != nil && *c.Privileged
	s.AllowPrivilegeEscalation = c.AllowPrivilegeEscalation
	s.ReadOnlyRootFilesystem = c.ReadOnlyRootFilesystem != nil && *c.ReadOnlyRootFilesystem
	if c.Capabilities != nil {
		for _, cap := range c.Capabilities.Add {
			s.CapabilitiesAdd = append(s.CapabilitiesAdd, string(cap))
		}
		for _, cap := range c.Capabilities.Drop {
			s.CapabilitiesDrop = append(s.CapabilitiesDrop, string(cap))
		}
	}
	return s
}

func summariseVolume(v corev1.Volume) Volume {
	out := Volume{Name: v.Name, Type: "other"}
	switch {
	case v.ConfigMap != nil:
		out.Type, out.Source = "configMap", v.ConfigMap.Name
	case v.Secret != nil:
		out.Type, out.Source = "secret", v.Secret.SecretName
	case v.HostPath != nil:
		out.Type, out.Source = "hostPath", v.HostPath.Path
	case v.PersistentVolumeClaim != nil:
		out.Type, out.Source, out.ReadOnly = "persistentVolumeClaim", v.PersistentVolumeClaim.ClaimName, v.PersistentVolumeClaim.ReadOnly
	case v.EmptyDir != nil:
		out.Type = "emptyDir"
	case v.Projected != nil:
		out.Type = "projected"
	case v.CSI != nil:
		out.Type, out.Source = "csi", v.CSI.Driver
	case v.NFS != nil:
		out.Type, out.Source = "nfs", v.NFS.Server+":"+v.NFS.Path
	case v.DownwardAPI != nil:
		out.Type = "downwardAPI"
	case v.Ephemeral != nil:
		out.Type = "ephemeral"
	}
	return out
}

// meshProxies are the container names of mesh sidecars, by mesh.
var meshProxies = map[string]string{"istio-proxy": "istio", "linkerd-proxy": "linkerd"}

// meshSidecar says which service mesh injects a sidecar into the pod, as far
// as the manifests declare it.
func meshSidecar(annots, labels map[string]string, spec *corev1.PodSpec) string {
	if annots["sidecar.istio.io/inject"] == "true" || labels["sidecar.istio.io/inject"] == "true" {
		return "istio"
	}
	if annots["linkerd.io/inject"] == "enabled" {
		return "linkerd"
	}
	for _, c := range spec.Containers {
		if mesh := meshProxies[c.Name]; mesh != "" {
			return mesh
		}
	}
	return ""
}

// RunningMesh is the mesh whose proxy the workload's pods run ("istio",
// "linkerd"), or "" when none does or no pod was read. Running pods are
// what the injector actually did, whatever the template's annotations
// say. A proxy that runs as a native sidecar is an init container, so
// both kinds count.
func (w *Workload) RunningMesh() string {
	for _, c := range w.Running {
		if mesh := meshProxies[c.Name]; mesh != "" {
			return mesh
		}
	}
	return ""
}

// RunningDigest is the digest in a pod status's imageID, which runtimes
// write as "docker.io/library/nginx@sha256:…", "docker-pullable://…@sha256:…"
// or, for an image known only locally, "sha256:…".
func RunningDigest(imageID string) string {
	if _, digest, ok := strings.Cut(imageID, "@"); ok {
		return digest
	}
	if _, id, ok := strings.Cut(imageID, "://"); ok {
		return id
	}
	return imageID
}

// ParseImage splits an image reference into registry, repository, tag and
// digest, following the Docker reference grammar closely enough for review:
// the first path component is a registry when it has a dot or a port or is
// "localhost".
func ParseImage(ref string) Image {
	img := Image{Ref: ref}
	rest := ref
	if name, digest, ok := strings.Cut(rest, "@"); ok {
		rest, img.Digest = name, digest
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		rest, img.Tag = rest[:i], rest[i+1:]
	}
	if first, remainder, ok := strings.Cut(rest, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		img.Registry, rest = first, remainder
	}
	img.Repository = rest
	return img
}
