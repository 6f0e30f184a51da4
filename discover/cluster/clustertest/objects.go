package clustertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
)

// Client is a client for the administrator.
func (s *Server) Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	cfg, err := s.Config()
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	cfg.QPS, cfg.Burst = 200, 400 // tests create many objects quickly
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	return c
}

// CreateNamespace creates a namespace.
func (s *Server) CreateNamespace(t testing.TB, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := s.Client(t).CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("clustertest: create namespace %s: %v", name, err)
	}
}

// CreatePod creates a pod, then writes its status through the status
// subresource, as the kubelet would once it runs: a pod's IP can be set no
// other way.
func (s *Server) CreatePod(t testing.TB, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pods := s.Client(t).CoreV1().Pods(pod.Namespace)
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("clustertest: create pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	created.Status = pod.Status
	updated, err := pods.UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("clustertest: set the status of pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return updated
}

// CreateService creates a service; the server allocates its ClusterIP from
// ServiceCIDR unless the service names one.
func (s *Server) CreateService(t testing.TB, svc *corev1.Service) *corev1.Service {
	t.Helper()
	created, err := s.Client(t).CoreV1().Services(svc.Namespace).Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("clustertest: create service %s/%s: %v", svc.Namespace, svc.Name, err)
	}
	return created
}

// DeploymentPod is a running pod of Deployment ns/app as its ReplicaSet
// makes it: named app-<hash>-<suffix>, labelled app=<app> and with the
// pod-template-hash, owned by ReplicaSet app-<hash>, listening on port.
func DeploymentPod(ns, app, suffix, ip string, port int32) *corev1.Pod {
	const hash = "5d8f9c7b6"
	controller := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns,
			Name:      app + "-" + hash + "-" + suffix,
			Labels:    map[string]string{"app": app, "pod-template-hash": hash},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: app + "-" + hash,
				UID: uuid.NewUUID(), Controller: &controller,
			}},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: app, Image: "example/" + app + ":1",
			Ports: []corev1.ContainerPort{{ContainerPort: port, Protocol: corev1.ProtocolTCP}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}},
	}
}

// SelectorService is a ClusterIP Service selecting app=<app>, port to
// targetPort.
func SelectorService(ns, app string, port, targetPort int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": app},
			Ports:    []corev1.ServicePort{{Port: port, TargetPort: intstr.FromInt32(targetPort), Protocol: corev1.ProtocolTCP}},
		},
	}
}

// InjectedRollout is Deployment ns/name in the middle of a rollout, as a
// cluster with Istio's injector and running controllers holds it: for
// each image, a ReplicaSet of the Deployment and a Pod of that ReplicaSet
// whose spec has the istio-proxy container the template does not declare,
// and whose status says which digest each container runs. The Deployment
// names the last image. It returns the imageID of each image, and of
// IstioProxyImage.
func (s *Server) InjectedRollout(t testing.TB, ns, name string, images ...string) map[string]string {
	t.Helper()
	ctx := context.Background()
	client := s.Client(t)
	labels := map[string]string{"app": name}
	template := func(image string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: image}}}}
	}
	deployment, err := client.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template(images[len(images)-1])},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("clustertest: create deployment %s/%s: %v", ns, name, err)
	}
	imageIDs := map[string]string{IstioProxyImage: "docker.io/istio/proxyv2@" + digestOf(IstioProxyImage)}
	controller := true
	for i, image := range images {
		imageIDs[image] = "docker.io/library/" + strings.Split(image, ":")[0] + "@" + digestOf(image)
		rs, err := client.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", name, i), Labels: labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, UID: deployment.UID, Controller: &controller}}},
			Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template(image)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("clustertest: create replicaset of %s/%s: %v", ns, name, err)
		}
		running := func(container, image string) corev1.ContainerStatus {
			return corev1.ContainerStatus{Name: container, Image: image, ImageID: imageIDs[image], Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
		}
		s.CreatePod(t, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: rs.Name + "-x", Labels: labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &controller}}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: image}, {Name: "istio-proxy", Image: IstioProxyImage}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				ContainerStatuses: []corev1.ContainerStatus{running(name, image), running("istio-proxy", IstioProxyImage)}},
		})
	}
	return imageIDs
}

// IstioProxyImage is the image of the sidecar InjectedRollout injects.
const IstioProxyImage = "docker.io/istio/proxyv2:1.24.0"

// digestOf is a made-up but well-formed digest of an image name.
func digestOf(image string) string {
	sum := sha256.Sum256([]byte(image))
	return "sha256:" + hex.EncodeToString(sum[:])
}
