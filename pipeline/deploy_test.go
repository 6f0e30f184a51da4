package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/cluster/clustertest"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/pipeline"
)

const cronJobFile = "../deploy/stridemap-cronjob.yaml"

// customResource is a CRD that accepts any content, under the resource name
// its project gives it.
func customResource(group, kind, plural string) string {
	approval := ""
	if strings.HasSuffix(group, ".k8s.io") {
		approval = "\n  annotations: {api-approved.kubernetes.io: 'unapproved, a test''s stand-in'}"
	}
	return fmt.Sprintf(`---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: %[3]s.%[1]s%[4]s
spec:
  group: %[1]s
  scope: Namespaced
  names: {kind: %[2]s, listKind: %[2]sList, plural: %[3]s}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`, group, kind, plural, approval)
}

// shopManifests are objects of kinds a live scan reads, custom kinds among
// them whose resource names a guessed plural would miss (gatewaies,
// ruleses), and a Secret.
var shopManifests = customResource("networking.istio.io", "Gateway", "gateways") +
	customResource("gateway.networking.k8s.io", "Gateway", "gateways") +
	customResource("gateway.networking.k8s.io", "HTTPRoute", "httproutes") +
	customResource("monitoring.googleapis.com", "Rules", "rules") +
	"---\n" + modeltest.Deployment("shop", "web") + "\n---\n" + modeltest.Service("shop", "web") + `
---
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: not-for-the-scan}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shop}
spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shop}
spec: {gatewayClassName: example, listeners: [{name: http, port: 80, protocol: HTTP}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec: {parentRefs: [{name: shop}], rules: [{backendRefs: [{name: web, port: 80}]}]}
---
apiVersion: monitoring.googleapis.com/v1
kind: Rules
metadata: {name: web}
spec: {groups: [{name: web, rules: [{alert: Down, expr: up == 0}]}]}
`

// TestReaderRoleGrantsTheLiveScan applies deploy/stridemap-reader.yaml to a
// real API server and scans as its ServiceAccount, with a token the server
// issues for it, as the CronJob's pod would: the scan reads what an
// administrator's reads, with no gap. Without Secrets in the role, as its
// comment offers, Secrets are the one gap and the rest is still read.
func TestReaderRoleGrantsTheLiveScan(t *testing.T) {
	srv, reader := withReaderRole(t)
	if _, skipped := srv.Apply(t, "shop", []byte(shopManifests)); len(skipped) != 0 {
		t.Fatalf("not applied: %v", skipped)
	}
	binding := objectOf[*rbacv1.ClusterRoleBinding](t, reader, "ClusterRoleBinding")
	subject := binding.Subjects[0]
	scanner := serviceAccountKubeconfig(t, srv, subject.Namespace, subject.Name)

	ctx := context.Background()
	scan := func(kubeconfig string) *discover.Inventory {
		t.Helper()
		inv, err := cluster.Scan(ctx, cluster.ScanRequest{Request: cluster.Request{Kubeconfig: kubeconfig}, Kinds: pipeline.LiveKinds()})
		if err != nil {
			t.Fatal(err)
		}
		if len(inv.Problems) != 0 {
			t.Errorf("problems: %v", inv.Problems)
		}
		return inv
	}
	admin := scan(srv.Kubeconfig)
	everything := refsOf(admin.Objects)
	for _, want := range []string{"Secret shop/db", "Gateway.networking.istio.io shop/shop", "Gateway.gateway.networking.k8s.io shop/shop",
		"HTTPRoute.gateway.networking.k8s.io shop/web", "Rules.monitoring.googleapis.com shop/web", "ClusterRole.rbac.authorization.k8s.io /stridemap-reader"} {
		if !slices.Contains(everything, want) {
			t.Errorf("the administrator's scan did not read %s", want)
		}
	}

	waitForAccess(t, scanner, "secrets", true)
	withRole := scan(scanner)
	if len(withRole.Gaps) != 0 {
		t.Errorf("with %s the scan has gaps: %v", readerFile, withRole.Gaps)
	}
	if missing, extra := difference(everything, refsOf(withRole.Objects)); len(missing)+len(extra) > 0 {
		t.Errorf("with %s the scan read\n  not: %v\n  more: %v", readerFile, missing, extra)
	}

	roles := srv.Client(t).RbacV1().ClusterRoles()
	role, err := roles.Get(ctx, binding.RoleRef.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range role.Rules {
		if slices.Equal(r.APIGroups, []string{""}) {
			role.Rules[i].Resources = slices.DeleteFunc(r.Resources, func(s string) bool { return s == "secrets" })
		}
	}
	if _, err := roles.Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForAccess(t, scanner, "secrets", false)
	withoutSecrets := scan(scanner)
	if want := []discover.Gap{{Kind: "Secret", Reason: "forbidden"}}; !reflect.DeepEqual(withoutSecrets.Gaps, want) {
		t.Errorf("without secrets in the role, gaps are %v, want %v", withoutSecrets.Gaps, want)
	}
	notSecrets := slices.DeleteFunc(slices.Clone(everything), func(ref string) bool { return strings.HasPrefix(ref, "Secret ") })
	if missing, extra := difference(notSecrets, refsOf(withoutSecrets.Objects)); len(missing)+len(extra) > 0 {
		t.Errorf("without secrets in the role, the scan read\n  not: %v\n  more: %v", missing, extra)
	}
}

// withReaderRole starts an API server and applies
// deploy/stridemap-reader.yaml to it, which it returns too.
func withReaderRole(t *testing.T) (*clustertest.Server, []byte) {
	t.Helper()
	reader, err := os.ReadFile(readerFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := clustertest.Start(t)
	if _, skipped := srv.Apply(t, "", reader); len(skipped) != 0 {
		t.Fatalf("%s was not applied: %v", readerFile, skipped)
	}
	return srv, reader
}

// refsOf names objects as kubectl does, "Kind.group namespace/name".
func refsOf(objects []*discover.Object) []string {
	out := make([]string, 0, len(objects))
	for _, o := range objects {
		out = append(out, cluster.Kind{Group: o.Group(), Kind: o.Kind}.String()+" "+o.Namespace+"/"+o.Name)
	}
	return out
}

// serviceAccountKubeconfig writes a kubeconfig that authenticates as a
// ServiceAccount with a token the server issues for it, the kind of token
// a pod is given, in the ServiceAccount's namespace as a pod would be.
func serviceAccountKubeconfig(t *testing.T, srv *clustertest.Server, namespace, name string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(srv.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	user := "system:serviceaccount:" + namespace + ":" + name
	cfg.AuthInfos = map[string]*clientcmdapi.AuthInfo{user: {Token: srv.ServiceAccountToken(t, namespace, name)}}
	context := cfg.Contexts[cfg.CurrentContext]
	context.AuthInfo, context.Namespace = user, namespace
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitForAccess is clustertest.WaitForAccess for the kubeconfig's identity.
func waitForAccess(t *testing.T, kubeconfig, resource string, allowed bool) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	clustertest.WaitForAccess(t, cfg, resource, allowed)
}

// TestCronJobExample: the server accepts deploy/stridemap-cronjob.yaml
// after the reader role, its pod runs as the ServiceAccount the role is
// bound to with that account's token, meets the restricted Pod Security
// Standard its namespace enforces, and keeps the store on the claim.
func TestCronJobExample(t *testing.T) {
	example, err := os.ReadFile(cronJobFile)
	if err != nil {
		t.Fatal(err)
	}
	srv, reader := withReaderRole(t)
	applied, skipped := srv.Apply(t, "", example)
	if len(skipped) != 0 || len(applied) != 2 {
		t.Fatalf("%s: applied %v, not applied %v", cronJobFile, applied, skipped)
	}

	subject := objectOf[*rbacv1.ClusterRoleBinding](t, reader, "ClusterRoleBinding").Subjects[0]
	job := objectOf[*batchv1.CronJob](t, example, "CronJob")
	pod := job.Spec.JobTemplate.Spec.Template
	if subject.Kind != "ServiceAccount" || subject.Name != pod.Spec.ServiceAccountName || subject.Namespace != job.Namespace {
		t.Errorf("the CronJob runs as ServiceAccount %s/%s; the reader role is bound to %s %s/%s",
			job.Namespace, pod.Spec.ServiceAccountName, subject.Kind, subject.Namespace, subject.Name)
	}
	if mount := pod.Spec.AutomountServiceAccountToken; mount == nil || !*mount {
		t.Errorf("the CronJob's pod does not mount its ServiceAccount's token, which the scan reads the API with")
	}
	if job.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("concurrencyPolicy %s: two scans would write the store at once", job.Spec.ConcurrencyPolicy)
	}
	args := pod.Spec.Containers[0].Args
	if !slices.Contains(args, "scan") || !slices.Contains(args, "--live") {
		t.Errorf("the CronJob does not run scan --live: %v", args)
	}
	store := ""
	if i := slices.Index(args, "--db"); i >= 0 && i+1 < len(args) {
		store = args[i+1]
	}
	if claim := claimAt(pod.Spec, pod.Spec.Containers[0], filepath.Dir(store)); claim == "" {
		t.Errorf("the store %q is not on a PersistentVolumeClaim: scans would not accumulate", store)
	} else if _, err := srv.Client(t).CoreV1().PersistentVolumeClaims(job.Namespace).Get(context.Background(), claim, metav1.GetOptions{}); err != nil {
		t.Errorf("the store's claim: %v", err)
	}

	// Pod Security admission checks pods, not their templates: a pod made
	// from the template, not stored (dry run), is what a run would start.
	run := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "stridemap-scan-run", Namespace: job.Namespace}, Spec: pod.Spec}
	if _, err := srv.Client(t).CoreV1().Pods(job.Namespace).Create(context.Background(), run, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("a pod of the CronJob is refused: %v", err)
	}
}

// claimAt is the PersistentVolumeClaim mounted at dir in the container.
func claimAt(spec corev1.PodSpec, c corev1.Container, dir string) string {
	for _, m := range c.VolumeMounts {
		if m.MountPath != dir {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.PersistentVolumeClaim != nil {
				return v.PersistentVolumeClaim.ClaimName
			}
		}
	}
	return ""
}
