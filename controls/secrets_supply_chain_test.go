package controls_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
)

// withPod inserts lines into a deployment's pod spec, before containers.
func withPod(doc string, lines ...string) string {
	return strings.Replace(doc, "      containers:", modeltest.Indent(strings.Join(lines, "\n"), "      ")+"\n      containers:", 1)
}

func TestSecretControls(t *testing.T) {
	const api = "workload:shop/api"
	externalSecret := `apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata: {name: db, namespace: shop}
spec:
  secretStoreRef: {kind: ClusterSecretStore, name: vault}
  target: {name: db-credentials}`
	tests := []struct {
		name       string
		docs       []string
		store      bool
		files      bool
		configMaps bool
	}{
		{"no secrets at all", []string{modeltest.Deployment("shop", "api")}, false, false, false},
		{"Secret as env", []string{modeltest.Deployment("shop", "api", "env: [{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db-credentials, key: password}}}]")}, false, false, false},
		{"Secret as env, synced by ExternalSecret", []string{externalSecret,
			modeltest.Deployment("shop", "api", "env: [{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db-credentials, key: password}}}]")}, true, false, false},
		{"Secret mounted, synced by ExternalSecret", []string{externalSecret,
			withPod(modeltest.Deployment("shop", "api", "volumeMounts: [{name: creds, mountPath: /etc/creds}]"), "volumes: [{name: creds, secret: {secretName: db-credentials}}]")}, true, true, false},
		{"one Secret of two is synced", []string{externalSecret,
			withPod(modeltest.Deployment("shop", "api", "envFrom: [{secretRef: {name: other}}]"), "volumes: [{name: creds, secret: {secretName: db-credentials}}]")}, false, false, false},
		{"Secrets Store CSI", []string{withPod(modeltest.Deployment("shop", "api"),
			"volumes: [{name: creds, csi: {driver: secrets-store.csi.k8s.io, readOnly: true, volumeAttributes: {secretProviderClass: vault}}}]")}, true, true, false},
		{"Vault agent injection", []string{strings.Replace(modeltest.Deployment("shop", "api"), "labels: {app: api}",
			"labels: {app: api}\n      annotations: {vault.hashicorp.com/agent-inject: \"true\"}", 1)}, true, true, false},
		{"ConfigMap key that looks like a credential", []string{
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: shop}\ndata: {LOG_LEVEL: debug, DB_PASSWORD: hunter2}",
			modeltest.Deployment("shop", "api", "envFrom: [{configMapRef: {name: app}}]")}, false, false, true},
		{"ConfigMap config file with a password", []string{
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: shop}\ndata:\n  application.properties: |\n    server.port=8080\n    spring.datasource.password=hunter2",
			withPod(modeltest.Deployment("shop", "api"), "volumes: [{name: cfg, configMap: {name: app}}]")}, false, false, true},
		{"ConfigMap with a URL holding a password", []string{
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: shop}\ndata: {DATABASE_URL: 'postgres://app:hunter2@db:5432/app'}",
			modeltest.Deployment("shop", "api", "env: [{name: DATABASE_URL, valueFrom: {configMapKeyRef: {name: app, key: DATABASE_URL}}}]")}, false, false, true},
		{"ConfigMap with placeholders and names only", []string{
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: shop}\ndata: {DB_PASSWORD_FILE: /run/secrets/db, API_TOKEN: '${API_TOKEN}', TOKEN_URL: 'https://auth.example.com/token'}",
			modeltest.Deployment("shop", "api", "envFrom: [{configMapRef: {name: app}}]")}, false, false, false},
		{"configMapKeyRef reads only its key", []string{
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: shop}\ndata: {LOG_LEVEL: debug, DB_PASSWORD: hunter2}",
			modeltest.Deployment("shop", "api", "env: [{name: LOG_LEVEL, valueFrom: {configMapKeyRef: {name: app, key: LOG_LEVEL}}}]")}, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, tc.docs...)
			if got := hasControl(g, controls.ExternalSecretStore, api); got != tc.store {
				t.Errorf("external-secret-store = %v, want %v", got, tc.store)
			}
			if got := hasControl(g, controls.SecretsAsFiles, api); got != tc.files {
				t.Errorf("secrets-as-files = %v, want %v", got, tc.files)
			}
			if got := hasControl(g, controls.WeaknessConfigMapCredentials, api); got != tc.configMaps {
				t.Errorf("configmap-holds-credentials = %v, want %v", got, tc.configMaps)
			}
			if blob, _ := json.Marshal(g); strings.Contains(string(blob), "hunter2") {
				t.Error("a credential value reached the graph")
			}
		})
	}
}

func TestConfigMapCredentialEvidence(t *testing.T) {
	g := build(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: shop}\ndata:\n  LOG_LEVEL: debug\n  DB_PASSWORD: hunter2",
		modeltest.Deployment("shop", "api", "envFrom: [{configMapRef: {name: app}}]"))
	for _, c := range g.Controls {
		if c.Type != controls.WeaknessConfigMapCredentials {
			continue
		}
		if ev := c.Evidence[0]; ev.Line != 6 || ev.Object != "ConfigMap shop/app" || !strings.Contains(ev.Detail, "key DB_PASSWORD") {
			t.Errorf("evidence should point at the key: %+v", ev)
		}
		return
	}
	t.Fatal("no configmap-holds-credentials control")
}

func TestHostPathAndSharedVolumes(t *testing.T) {
	hostPath := func(readOnly string) string {
		return withPod(modeltest.Deployment("shop", "agent", "volumeMounts: [{name: logs, mountPath: /var/log, readOnly: "+readOnly+"}]"),
			"volumes: [{name: logs, hostPath: {path: /var/log}}]")
	}
	if g := build(t, hostPath("true")); !hasControl(g, controls.HostPathReadOnly, "workload:shop/agent") {
		t.Error("read-only hostPath mount should give host-path-read-only")
	}
	if g := build(t, hostPath("false")); hasControl(g, controls.HostPathReadOnly, "workload:shop/agent") {
		t.Error("writable hostPath mount should not give host-path-read-only")
	}
	claim := func(name, readOnly string) string {
		return withPod(modeltest.Deployment("shop", name, "volumeMounts: [{name: data, mountPath: /data, readOnly: "+readOnly+"}]"),
			"volumes: [{name: data, persistentVolumeClaim: {claimName: shared}}]")
	}
	g := build(t, claim("a", "false"), claim("b", "false"), claim("c", "true"))
	for id, want := range map[string]bool{"workload:shop/a": true, "workload:shop/b": true, "workload:shop/c": false} {
		if got := hasControl(g, controls.WeaknessSharedWritableVolume, id); got != want {
			t.Errorf("%s: shared-writable-volume = %v, want %v", id, got, want)
		}
	}
	if g := build(t, claim("a", "false"), claim("c", "true")); hasControl(g, controls.WeaknessSharedWritableVolume, "workload:shop/a") {
		t.Error("a claim only one workload writes is not shared writable")
	}
}

func TestEncryptedStorage(t *testing.T) {
	class := func(name, params string, isDefault bool) string {
		annot := ""
		if isDefault {
			annot = ", annotations: {storageclass.kubernetes.io/is-default-class: \"true\"}"
		}
		return "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: " + name + annot + "}\nprovisioner: ebs.csi.aws.com\nparameters: {" + params + "}"
	}
	sts := func(className string) string {
		doc := strings.Replace(modeltest.Deployment("data", "db"), "kind: Deployment", "kind: StatefulSet", 1)
		doc = strings.Replace(doc, "image: example/db:1.0", "image: postgres:16", 1)
		spec := "  volumeClaimTemplates:\n  - metadata: {name: data}\n    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}"
		if className != "" {
			spec += ", storageClassName: " + className
		}
		return strings.Replace(doc, "spec:\n  selector:", "spec:\n  serviceName: db\n"+spec+"}\n  selector:", 1)
	}
	tests := []struct {
		name string
		docs []string
		want bool
	}{
		{"encrypted class", []string{class("secure", "type: gp3, encrypted: \"true\"", false), sts("secure")}, true},
		{"unencrypted class", []string{class("plain", "type: gp3", false), class("secure", "encrypted: \"true\"", false), sts("plain")}, false},
		{"encrypted: false", []string{class("plain", "encrypted: \"false\"", false), sts("plain")}, false},
		{"default class is encrypted", []string{class("secure", "encrypted: \"true\"", true), sts("")}, true},
		{"PVC referenced by a Deployment", []string{class("secure", "kmsKeyId: arn:aws:kms:eu-west-1:1:key/x", false),
			"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: data}\nspec: {storageClassName: secure, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}",
			withPod(modeltest.Deployment("data", "db"), "volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]")}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, tc.docs...)
			if got := hasControl(g, controls.EncryptedStorage, "workload:data/db"); got != tc.want {
				t.Errorf("encrypted-storage = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAdmissionControls(t *testing.T) {
	tests := []struct {
		name                  string
		doc                   string
		admission, signatures bool
		registries            bool
	}{
		{"nothing", modeltest.Deployment("shop", "api"), false, false, false},
		{"Gatekeeper template", "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata: {name: k8srequiredlabels}\nspec: {crd: {spec: {names: {kind: K8sRequiredLabels}}}}", true, false, false},
		{"Gatekeeper allowed repos", "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sAllowedRepos\nmetadata: {name: repos}\nspec: {parameters: {repos: [registry.example.com/]}}", true, false, true},
		{"Kyverno without verifyImages", "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: labels}\nspec:\n  rules:\n  - name: require-labels\n    validate: {message: x, pattern: {metadata: {labels: {app: '?*'}}}}", true, false, false},
		{"Kyverno verifyImages", "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: sign}\nspec:\n  rules:\n  - name: check\n    verifyImages: [{imageReferences: ['*'], attestors: []}]", true, true, false},
		{"ValidatingAdmissionPolicy", "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {name: replicas}\nspec: {validations: [{expression: 'object.spec.replicas <= 5'}]}", true, false, false},
		{"Sigstore ClusterImagePolicy", "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: signed}\nspec: {images: [{glob: '**'}], authorities: [{keyless: {url: 'https://fulcio.sigstore.dev'}}]}", true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(t, tc.doc)
			for kind, want := range map[string]bool{controls.AdmissionPolicy: tc.admission, controls.ImageSignatureVerification: tc.signatures, controls.ImageRegistryAllowlist: tc.registries} {
				if got := hasControl(g, kind, model.ClusterBoundaryID); got != want {
					t.Errorf("%s = %v, want %v", kind, got, want)
				}
			}
		})
	}
}

func TestSecretInManifests(t *testing.T) {
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\ntype: Opaque\ndata: {password: aHVudGVyMg==}"
	uses := modeltest.Deployment("shop", "api", "env: [{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}]")
	g := build(t, secret, uses)
	if !hasControl(g, controls.WeaknessSecretInManifests, "workload:shop/api") {
		t.Fatal("a Secret with data in the manifests should be marked on the workload that reads it")
	}
	for _, c := range g.Controls {
		if c.Type == controls.WeaknessSecretInManifests && (c.Evidence[0].Line == 0 || c.Evidence[0].Object != "Secret shop/db" || !strings.Contains(c.Evidence[0].Detail, "password")) {
			t.Errorf("evidence should point at the Secret and name its keys: %+v", c.Evidence[0])
		}
	}
	if blob, _ := json.Marshal(g); strings.Contains(string(blob), "aHVudGVyMg") {
		t.Error("a Secret value reached the graph")
	}
	if g := build(t, uses); hasControl(g, controls.WeaknessSecretInManifests, "workload:shop/api") {
		t.Error("a Secret that is not in the manifests is not a leak in them")
	}
}

// TestSidecarLoadedSecretInManifests: a config-loader sidecar that loads
// Secrets by label (RESOURCE secret or both) reads the labelled Secrets of
// its namespace as a mount would; one that loads ConfigMaps only, another
// label, or another namespace's Secret does not.
func TestSidecarLoadedSecretInManifests(t *testing.T) {
	secret := func(ns, labels string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata: {name: ds, namespace: " + ns + ", labels: {" + labels + "}}\ntype: Opaque\nstringData: {ds.yaml: \"password: x\"}"
	}
	grafana := func(resource string) string {
		return modeltest.Deployment("monitoring", "grafana", `env: [{name: LABEL, value: grafana_datasource}, {name: LABEL_VALUE, value: "1"}, {name: FOLDER, value: /etc/grafana/provisioning/datasources}, {name: RESOURCE, value: `+resource+`}]`)
	}
	for _, tc := range []struct {
		name string
		docs []string
		want bool
	}{
		{"labelled Secret, RESOURCE both", []string{secret("monitoring", `grafana_datasource: "1"`), grafana("both")}, true},
		{"labelled Secret, RESOURCE secret", []string{secret("monitoring", `grafana_datasource: "1"`), grafana("secret")}, true},
		{"ConfigMaps only", []string{secret("monitoring", `grafana_datasource: "1"`), grafana("configmap")}, false},
		{"another label value", []string{secret("monitoring", `grafana_datasource: "0"`), grafana("both")}, false},
		{"another namespace", []string{secret("logging", `grafana_datasource: "1"`), grafana("both")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hasControl(build(t, tc.docs...), controls.WeaknessSecretInManifests, "workload:monitoring/grafana"); got != tc.want {
				t.Errorf("secret in manifests on grafana: %v, want %v", got, tc.want)
			}
		})
	}
}
