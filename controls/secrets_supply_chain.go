package controls

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/fields"
	"github.com/stridemap/stridemap/internal/secretvalue"
	"github.com/stridemap/stridemap/model"
)

// Controls about secrets, storage and the software supply chain.
const (
	// ExternalSecretStore: every Secret the workload uses is synced
	// from an external store (External Secrets, a SealedSecret), or the
	// workload reads its secrets from Vault's agent or the Secrets Store
	// CSI driver, so the value lives outside the manifests.
	ExternalSecretStore = "external-secret-store"
	// SecretsAsFiles: the workload uses secrets only as mounted
	// files, never as environment variables (which leak into crash dumps,
	// child processes and /proc/PID/environ).
	SecretsAsFiles = "secrets-as-files"
	// EncryptedStorage: every persistent volume claim of the
	// workload uses a StorageClass whose parameters ask for encryption.
	EncryptedStorage = "encrypted-storage"
	// HostPathReadOnly: every hostPath volume of the workload is
	// mounted read-only by every container that mounts it.
	HostPathReadOnly = "host-path-read-only"
	// Cluster controls, on the cluster boundary.
	AdmissionPolicy            = "admission-policy"
	ImageSignatureVerification = "image-signature-verification"
	ImageRegistryAllowlist     = "image-registry-allowlist"
)

// Weaknesses recorded the way controls are, so that a rule asks for them by
// name and the finding and the model cannot disagree. Unlike the controls
// above they mark a risk, not a mitigation; their evidence points at it.
const (
	// WeaknessConfigMapCredentials: a ConfigMap the workload reads has a
	// key that looks like a credential with a value, or a value that
	// embeds one (a URL with a password, "password=…" in a config file).
	// The value itself is never kept.
	WeaknessConfigMapCredentials = "configmap-holds-credentials"
	// WeaknessSecretInManifests: a Secret the workload reads is itself in
	// the scanned manifests with its values (data or stringData), so the
	// credential is wherever the manifests are: a repository, a CI log, a
	// rendered chart. The collector drops the values; the keys remain.
	WeaknessSecretInManifests = "secret-in-manifests"
	// WeaknessSharedWritableVolume: another workload mounts the same
	// persistent volume claim or NFS export writable.
	WeaknessSharedWritableVolume = "shared-writable-volume"
)

// Annotations and drivers that deliver secrets from an external store.
const (
	vaultInjectAnnotation = "vault.hashicorp.com/agent-inject"
	secretsStoreCSIDriver = "secrets-store.csi.k8s.io"
	defaultClassAnnot     = "storageclass.kubernetes.io/is-default-class"
)

// addSecretAndSupplyChainControls detects how workloads get their secrets
// and storage, and which admission controls guard what the cluster runs.
func addSecretAndSupplyChainControls(ix *model.Index) {
	external := externallyManagedSecrets(ix)
	configMaps := map[nsName]*discover.Object{}
	for _, obj := range ix.TypedObjects() {
		if _, ok := obj.Typed.(*corev1.ConfigMap); ok {
			configMaps[nsName{obj.Namespace, obj.Name}] = obj
		}
	}
	declared := declaredSecrets(ix)
	for _, w := range ix.Workloads() {
		addSecretControls(ix, w, external)
		addSecretsInManifests(ix, w, declared)
		addConfigMapCredentials(ix, w, configMaps)
		addHostPathReadOnly(ix, w)
	}
	addSharedWritableVolumes(ix)
	addEncryptedStorage(ix)
	addAdmissionControls(ix)
}

// externallyManagedSecrets maps the Secrets an ExternalSecret or a
// SealedSecret produces to the evidence of the object that produces them.
func externallyManagedSecrets(ix *model.Index) map[nsName]model.Evidence {
	out := map[nsName]model.Evidence{}
	for _, obj := range ix.Unstructured("external-secrets.io/ExternalSecret") {
		name := fields.String(obj.Fields, "spec", "target", "name")
		if name == "" {
			name = obj.Name
		}
		out[nsName{obj.Namespace, name}] = model.Evidence{File: obj.Location.File, Line: obj.LineOf("spec.secretStoreRef"), Object: obj.Ref(), Field: "spec.secretStoreRef",
			Detail: fmt.Sprintf("Secret %s synced from %s %s", name, fields.String(obj.Fields, "spec", "secretStoreRef", "kind"), fields.String(obj.Fields, "spec", "secretStoreRef", "name"))}
	}
	for _, obj := range ix.Unstructured("bitnami.com/SealedSecret") {
		name := fields.String(obj.Fields, "spec", "template", "metadata", "name")
		if name == "" {
			name = obj.Name
		}
		out[nsName{obj.Namespace, name}] = model.Evidence{File: obj.Location.File, Line: obj.Location.Line, Object: obj.Ref(),
			Detail: "Secret " + name + " decrypted in the cluster from a SealedSecret; the manifests hold only ciphertext"}
	}
	return out
}

// declaredSecrets indexes the Secrets of the manifests that carry values.
// Service account token Secrets are filled in by the cluster, not written
// by anyone, and are left out.
func declaredSecrets(ix *model.Index) map[nsName]*discover.Object {
	out := map[nsName]*discover.Object{}
	for _, obj := range ix.TypedObjects() {
		s, ok := obj.Typed.(*corev1.Secret)
		if !ok || s.Type == corev1.SecretTypeServiceAccountToken || len(s.Data)+len(s.StringData) == 0 {
			continue
		}
		out[nsName{obj.Namespace, obj.Name}] = obj
	}
	return out
}

// addSecretsInManifests marks a workload that reads a Secret whose values
// are in the manifests, pointing at the first key it reads that holds a
// secret. Keys whose value the collector found to be only public material
// (a CA certificate, a public key) are not secrets and are left out, so a
// Secret holding only those is not a weakness.
func addSecretsInManifests(ix *model.Index, w *model.IndexedWorkload, declared map[nsName]*discover.Object) {
	var order []string
	read := map[string][]string{}    // Secret → keys read; nil for every key
	summaries := map[string]string{} // Secret → how it is first read
	for _, u := range append(secretUses(w.Template), sidecarSecretUses(w.Template, declared)...) {
		if u.secret == "" || declared[nsName{w.Template.Object.Namespace, u.secret}] == nil {
			continue
		}
		keys, seen := read[u.secret]
		if !seen {
			order = append(order, u.secret)
			summaries[u.secret] = u.summary
			read[u.secret] = u.keys
		} else if keys != nil {
			if u.keys == nil {
				read[u.secret] = nil
			} else {
				read[u.secret] = append(keys, u.keys...)
			}
		}
	}
	for _, name := range order {
		obj := declared[nsName{w.Template.Object.Namespace, name}]
		s := obj.Typed.(*corev1.Secret)
		// The collector keeps the keys of data and stringData under data.
		var keys []string
		for _, k := range sortedKeys(s.Data) {
			if string(s.Data[k]) == discover.PublicSecretValue || (read[name] != nil && !slices.Contains(read[name], k)) {
				continue
			}
			keys = append(keys, k)
		}
		if len(keys) == 0 {
			continue
		}
		field := discover.PathKey("data", keys[0])
		ix.AddControl(WeaknessSecretInManifests, w.ID, model.Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field,
			Detail: fmt.Sprintf("Secret %s/%s holds the value of %s in the manifests (%s)", obj.Namespace, obj.Name, strings.Join(keys, ", "), summaries[name])})
	}
}

// secretUse is one way a workload reads a Secret.
type secretUse struct {
	secret  string   // the Secret's name; "" for Vault and CSI
	keys    []string // the keys it reads; nil for all of them
	asEnv   bool
	field   string
	summary string
}

// secretUses lists how a pod template reads secrets.
func secretUses(t model.PodTemplate) []secretUse {
	var out []secretUse
	for _, cr := range t.Containers() {
		for i, e := range cr.Container.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				out = append(out, secretUse{secret: e.ValueFrom.SecretKeyRef.Name, keys: []string{e.ValueFrom.SecretKeyRef.Key}, asEnv: true, field: fmt.Sprintf("%s.env[%d]", cr.Path, i),
					summary: fmt.Sprintf("container %s env %s from Secret %s", cr.Container.Name, e.Name, e.ValueFrom.SecretKeyRef.Name)})
			}
		}
		for i, ef := range cr.Container.EnvFrom {
			if ef.SecretRef != nil {
				out = append(out, secretUse{secret: ef.SecretRef.Name, asEnv: true, field: fmt.Sprintf("%s.envFrom[%d]", cr.Path, i),
					summary: fmt.Sprintf("container %s envFrom Secret %s", cr.Container.Name, ef.SecretRef.Name)})
			}
		}
	}
	for i, v := range t.Spec.Volumes {
		field := fmt.Sprintf("%s.volumes[%d]", t.SpecPath, i)
		switch {
		case v.Secret != nil:
			out = append(out, secretUse{secret: v.Secret.SecretName, keys: itemKeys(v.Secret.Items), field: field, summary: "volume " + v.Name + " from Secret " + v.Secret.SecretName})
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.Secret != nil {
					out = append(out, secretUse{secret: src.Secret.Name, keys: itemKeys(src.Secret.Items), field: field, summary: "projected volume " + v.Name + " from Secret " + src.Secret.Name})
				}
			}
		case v.CSI != nil && v.CSI.Driver == secretsStoreCSIDriver:
			out = append(out, secretUse{field: field, summary: "volume " + v.Name + " from the Secrets Store CSI driver"})
		}
	}
	if t.Annotations[vaultInjectAnnotation] == "true" {
		field := "spec.template.metadata.annotations[" + vaultInjectAnnotation + "]"
		if t.SpecPath == "spec" {
			field = "metadata.annotations[" + vaultInjectAnnotation + "]"
		}
		out = append(out, secretUse{field: field, summary: "Vault agent injects secrets as files"})
	}
	return out
}

// sidecarSecretUses lists the Secrets of the workload's namespace that a
// config-loader sidecar (model.ConfigLoader) copies into the pod by label:
// a datasource Secret committed with its password is then a secret in the
// manifests like a mounted one.
func sidecarSecretUses(t model.PodTemplate, declared map[nsName]*discover.Object) []secretUse {
	var out []secretUse
	for _, cr := range t.Containers() {
		l, ok := model.ConfigLoaderOf(cr)
		if !ok || !l.LoadsSecrets() {
			continue
		}
		var names []string
		for key, obj := range declared {
			if key.ns == t.Object.Namespace && l.Selects(model.LabelsOf(obj)) {
				names = append(names, key.name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			out = append(out, secretUse{secret: name, field: l.ResourceField,
				summary: fmt.Sprintf("container %s loads Secret %s by its label %s", cr.Container.Name, name, l.Label)})
		}
	}
	return out
}

// itemKeys are the keys a Secret volume projects; nil, all of them, when
// it names none.
func itemKeys(items []corev1.KeyToPath) []string {
	var keys []string
	for _, it := range items {
		keys = append(keys, it.Key)
	}
	return keys
}

// addSecretControls records external-secret-store when every secret the
// workload reads comes from outside the manifests, and secrets-as-files
// when none is read into an environment variable.
func addSecretControls(ix *model.Index, w *model.IndexedWorkload, external map[nsName]model.Evidence) {
	uses := secretUses(w.Template)
	if len(uses) == 0 {
		return
	}
	obj := w.Template.Object
	var storeEvidence, fileEvidence []model.Evidence
	allExternal, allFiles := true, true
	for _, u := range uses {
		ev := model.Evidence{File: obj.Location.File, Line: obj.LineOf(u.field), Object: obj.Ref(), Field: u.field, Detail: u.summary}
		if u.asEnv {
			allFiles = false
		} else {
			fileEvidence = append(fileEvidence, ev)
		}
		if u.secret == "" {
			storeEvidence = append(storeEvidence, ev)
			continue
		}
		src, ok := external[nsName{obj.Namespace, u.secret}]
		if !ok {
			allExternal = false
			continue
		}
		storeEvidence = append(storeEvidence, ev, src)
	}
	if allExternal {
		ix.AddControl(ExternalSecretStore, w.ID, storeEvidence...)
	}
	if allFiles {
		ix.AddControl(SecretsAsFiles, w.ID, fileEvidence...)
	}
}

// addConfigMapCredentials marks a workload that reads a ConfigMap holding
// something that looks like a credential. Only key names and positions are
// recorded.
func addConfigMapCredentials(ix *model.Index, w *model.IndexedWorkload, configMaps map[nsName]*discover.Object) {
	ns := w.Template.Object.Namespace
	type ref struct {
		name string
		key  string // "" for the whole ConfigMap
	}
	var refs []ref
	for _, cr := range w.Template.Containers() {
		for _, e := range cr.Container.Env {
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				refs = append(refs, ref{e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Key})
			}
		}
		for _, ef := range cr.Container.EnvFrom {
			if ef.ConfigMapRef != nil {
				refs = append(refs, ref{name: ef.ConfigMapRef.Name})
			}
		}
	}
	for _, v := range w.Template.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			refs = append(refs, ref{name: v.ConfigMap.Name})
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.ConfigMap != nil {
					refs = append(refs, ref{name: src.ConfigMap.Name})
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range refs {
		obj := configMaps[nsName{ns, r.name}]
		if obj == nil {
			continue
		}
		cm := obj.Typed.(*corev1.ConfigMap)
		for _, key := range sortedKeys(cm.Data) {
			if r.key != "" && key != r.key {
				continue
			}
			what, at := credentialIn(key, cm.Data[key])
			if what == "" || seen[r.name+"\x00"+key] {
				continue
			}
			seen[r.name+"\x00"+key] = true
			field := discover.PathKey("data", key)
			line := obj.LineOf(field)
			if l, ok := obj.ValueLine(field, at); ok && at >= 0 {
				line = l
			}
			ix.AddControl(WeaknessConfigMapCredentials, w.ID, model.Evidence{File: obj.Location.File, Line: line, Object: obj.Ref(), Field: field,
				Detail: fmt.Sprintf("ConfigMap %s/%s key %s %s", ns, r.name, key, what)})
		}
	}
}

// credentialIn says how a ConfigMap entry holds a credential, or "" when it
// does not seem to: a credential-like key with a value, a URL or a
// key=value connection string with a password, or a "password = …" line
// in a config file. at is the line of the value (0-based) that holds it,
// -1 when it is the value as a whole.
func credentialIn(key, value string) (what string, at int) {
	if strings.TrimSpace(value) == "" {
		return "", -1
	}
	if !strings.Contains(strings.TrimSpace(value), "\n") && model.IsLiteralSecret(key, value) {
		if model.HasPassword(value) {
			return "embeds a password (in a URL or a connection string)", -1
		}
		return "looks like a credential", -1
	}
	lines := strings.Split(value, "\n")
	for i, line := range lines {
		if model.HasPassword(line) {
			return fmt.Sprintf("embeds a password (in a URL or a connection string) on line %d of its value", i+1), i
		}
	}
	for i, line := range lines {
		name, v, ok := strings.Cut(line, "=")
		if !ok {
			name, v, ok = strings.Cut(line, ":")
		}
		name, v = strings.TrimSpace(name), strings.Trim(strings.TrimSpace(v), `"',`)
		if !ok || secretvalue.Of(v) != secretvalue.Secret || strings.HasPrefix(name, "#") {
			continue
		}
		if dot := strings.LastIndexAny(name, ".\""); dot >= 0 {
			name = strings.Trim(name[dot:], `."`)
		}
		if model.IsSensitiveName(name) && !strings.ContainsAny(name, " \t") {
			return fmt.Sprintf("sets %s on line %d of its value", name, i+1), i
		}
	}
	return "", -1
}

// addHostPathReadOnly records the control when every hostPath volume is
// mounted read-only wherever it is mounted. A hostPath volume that no
// container mounts cannot be written and does not count against it.
func addHostPathReadOnly(ix *model.Index, w *model.IndexedWorkload) {
	hostPaths := map[string]int{}
	for i, v := range w.Template.Spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = i
		}
	}
	if len(hostPaths) == 0 {
		return
	}
	obj := w.Template.Object
	var evidence []model.Evidence
	for _, cr := range w.Template.Containers() {
		for i, m := range cr.Container.VolumeMounts {
			if _, ok := hostPaths[m.Name]; !ok {
				continue
			}
			if !m.ReadOnly {
				return
			}
			field := fmt.Sprintf("%s.volumeMounts[%d].readOnly", cr.Path, i)
			evidence = append(evidence, model.Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field,
				Detail: fmt.Sprintf("container %s mounts hostPath volume %s read-only", cr.Container.Name, m.Name)})
		}
	}
	if len(evidence) > 0 {
		ix.AddControl(HostPathReadOnly, w.ID, evidence...)
	}
}

// addSharedWritableVolumes marks workloads that mount a persistent volume
// claim (in the same namespace) or an NFS export writable while another
// workload does too: one can corrupt what the other reads.
func addSharedWritableVolumes(ix *model.Index) {
	type mount struct {
		w     *model.IndexedWorkload
		field string
	}
	shared := map[string][]mount{}
	for _, w := range ix.Workloads() {
		for i, v := range w.Template.Spec.Volumes {
			var key string
			switch {
			case v.PersistentVolumeClaim != nil && !v.PersistentVolumeClaim.ReadOnly:
				key = "claim " + w.Template.Object.Namespace + "/" + v.PersistentVolumeClaim.ClaimName
			case v.NFS != nil && !v.NFS.ReadOnly:
				key = "NFS export " + v.NFS.Server + ":" + v.NFS.Path
			default:
				continue
			}
			if mountedWritable(w.Template, v.Name) {
				shared[key] = append(shared[key], mount{w, fmt.Sprintf("%s.volumes[%d]", w.Template.SpecPath, i)})
			}
		}
	}
	keys := sortedKeys(shared)
	for _, key := range keys {
		mounts := shared[key]
		if len(mounts) < 2 {
			continue
		}
		for _, m := range mounts {
			var others []string
			for _, o := range mounts {
				if o.w != m.w {
					others = append(others, o.w.ID)
				}
			}
			sort.Strings(others)
			obj := m.w.Template.Object
			ix.AddControl(WeaknessSharedWritableVolume, m.w.ID, model.Evidence{File: obj.Location.File, Line: obj.LineOf(m.field), Object: obj.Ref(), Field: m.field,
				Detail: key + " is also mounted writable by " + strings.Join(others, ", ")})
		}
	}
}

// mountedWritable reports whether some container mounts the volume without
// readOnly.
func mountedWritable(t model.PodTemplate, volume string) bool {
	for _, cr := range t.Containers() {
		for _, m := range cr.Container.VolumeMounts {
			if m.Name == volume && !m.ReadOnly {
				return true
			}
		}
	}
	return false
}

// encryptionParams are StorageClass parameters that ask the provisioner to
// encrypt volumes: AWS EBS (encrypted, kmsKeyId), Ceph RBD and Longhorn
// (encrypted), Portworx (secure), GCE PD (disk-encryption-kms-key), Azure
// Disk (diskEncryptionSetID, diskEncryptionType).
var encryptionParams = map[string]bool{
	"encrypted": true, "secure": true, "kmskeyid": true, "disk-encryption-kms-key": true,
	"diskencryptionsetid": true, "diskencryptiontype": true, "encryption": true,
}

// addEncryptedStorage records encrypted-storage on workloads whose every
// persistent volume claim (referenced, or from volumeClaimTemplates) uses
// a StorageClass that asks for encryption. A claim without a class uses
// the class annotated as the default.
func addEncryptedStorage(ix *model.Index) {
	encrypted := map[string]model.Evidence{}
	defaultClass := ""
	claims := map[nsName]*corev1.PersistentVolumeClaim{}
	for _, obj := range ix.Unstructured("storage.k8s.io/StorageClass") {
		if model.AnnotationsOf(obj)[defaultClassAnnot] == "true" {
			defaultClass = obj.Name
		}
		params := fields.StringMap(obj.Fields, "parameters")
		for _, k := range sortedKeys(params) {
			v := strings.ToLower(strings.TrimSpace(params[k]))
			if encryptionParams[strings.ToLower(k)] && v != "" && v != "false" {
				field := discover.PathKey("parameters", k)
				encrypted[obj.Name] = model.Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field, Detail: "parameter " + k + ": " + params[k]}
				break
			}
		}
	}
	for _, obj := range ix.TypedObjects() {
		if o, ok := obj.Typed.(*corev1.PersistentVolumeClaim); ok {
			claims[nsName{obj.Namespace, obj.Name}] = o
		}
	}
	if len(encrypted) == 0 {
		return
	}
	classOf := func(name *string) string {
		if name == nil || *name == "" {
			return defaultClass
		}
		return *name
	}
	for _, w := range ix.Workloads() {
		var classes []string
		for _, v := range w.Template.Spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			claim := claims[nsName{w.Template.Object.Namespace, v.PersistentVolumeClaim.ClaimName}]
			if claim == nil {
				classes = append(classes, "") // not in the manifests: unknown
				continue
			}
			classes = append(classes, classOf(claim.Spec.StorageClassName))
		}
		if sts, ok := w.Template.Object.Typed.(*appsv1.StatefulSet); ok {
			for _, t := range sts.Spec.VolumeClaimTemplates {
				classes = append(classes, classOf(t.Spec.StorageClassName))
			}
		}
		if len(classes) == 0 {
			continue
		}
		var evidence []model.Evidence
		for _, c := range classes {
			ev, ok := encrypted[c]
			if !ok {
				evidence = nil
				break
			}
			evidence = append(evidence, ev)
		}
		if len(evidence) > 0 {
			ix.AddControl(EncryptedStorage, w.ID, evidence...)
		}
	}
}

// admissionKinds are the policy kinds whose presence means an admission
// controller checks what the cluster runs, by "group/Kind".
var admissionKinds = []string{
	"templates.gatekeeper.sh/ConstraintTemplate",
	"kyverno.io/ClusterPolicy", "kyverno.io/Policy",
	"policies.kyverno.io/ValidatingPolicy", "policies.kyverno.io/ImageValidatingPolicy",
	"admissionregistration.k8s.io/ValidatingAdmissionPolicy",
	"policy.sigstore.dev/ClusterImagePolicy",
}

// registryAllowlistKinds are Gatekeeper constraints from the community
// library that restrict where images may come from.
var registryAllowlistKinds = []string{"K8sAllowedRepos", "K8sAllowedReposv2"}

// addAdmissionControls attaches admission-policy, image-signature-
// verification and image-registry-allowlist to the cluster boundary.
func addAdmissionControls(ix *model.Index) {
	var objects []*discover.Object
	for _, gk := range admissionKinds {
		objects = append(objects, ix.Unstructured(gk)...)
	}
	objects = append(objects, ix.UnstructuredOfGroup("constraints.gatekeeper.sh")...)
	sort.SliceStable(objects, func(i, j int) bool { return objects[i].Ref() < objects[j].Ref() })
	for _, obj := range objects {
		ev := model.Evidence{File: obj.Location.File, Line: obj.Location.Line, Object: obj.Ref(), Detail: obj.Group() + " " + obj.Kind}
		ix.AddControl(AdmissionPolicy, model.ClusterBoundaryID, ev)
		switch {
		case obj.Kind == "ClusterImagePolicy" || obj.Kind == "ImageValidatingPolicy":
			ix.AddControl(ImageSignatureVerification, model.ClusterBoundaryID, ev)
		case obj.Group() == "kyverno.io":
			for i, r := range fields.List(obj.Fields, "spec", "rules") {
				if len(fields.List(fields.AsMap(r), "verifyImages")) > 0 {
					field := fmt.Sprintf("spec.rules[%d].verifyImages", i)
					ix.AddControl(ImageSignatureVerification, model.ClusterBoundaryID, model.Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field,
						Detail: "Kyverno rule " + fields.String(fields.AsMap(r), "name") + " verifies image signatures"})
				}
			}
		case obj.Group() == "constraints.gatekeeper.sh" && isOneOf(obj.Kind, registryAllowlistKinds):
			ix.AddControl(ImageRegistryAllowlist, model.ClusterBoundaryID, model.Evidence{File: obj.Location.File, Line: obj.LineOf("spec.parameters"), Object: obj.Ref(), Field: "spec.parameters",
				Detail: "Gatekeeper " + obj.Kind + " restricts image repositories"})
		}
	}
}

func isOneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}
