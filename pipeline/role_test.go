package pipeline_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/pipeline"
)

// update rewrites the files tests compare with: deploy/stridemap-reader.yaml
// from the kinds a live scan reads, and the expected lists of
// testdata/precision (read every change before committing it).
var update = flag.Bool("update", false, "rewrite deploy/stridemap-reader.yaml and testdata/precision/*/expected.yaml")

const readerFile = "../deploy/stridemap-reader.yaml"

// readerTemplate is deploy/stridemap-reader.yaml with its ClusterRole's
// rules left out (%s): TestReaderRole writes them from the kinds a live
// scan reads.
const readerTemplate = `# stridemap-reader: what "stridemap scan --live" needs to read a whole cluster, and
# nothing more, for the ServiceAccount stridemap/stridemap that the CronJob in
# stridemap-cronjob.yaml runs as. Apply it first:
#   kubectl apply -f deploy/stridemap-reader.yaml
# To scan from outside the cluster with the same rights, bind the ClusterRole to
# your own user or group instead.
#
# GENERATED from the kinds a live scan reads; do not edit the rules by hand. After a
# change to those kinds: go test ./pipeline -run TestReaderRole -update
#
# Verbs: list, and only list. A scan reads each kind with paged lists, so it never
# needs get (one object by name) or watch (it does not follow changes), and it
# writes nothing. The kinds of API groups a cluster does not serve (Istio, Cilium,
# Gatekeeper ... when they are not installed) are listed all the same: a rule for a
# resource that does not exist grants nothing, and the role keeps working once
# they are installed. constraints.gatekeeper.sh has "*" because Gatekeeper makes one
# kind per ConstraintTemplate, named by whoever writes the template.
#
# Not in the role: discovery (GET /api, /apis: the default ClusterRole
# system:discovery) and SelfSubjectAccessReview (create on
# selfsubjectaccessreviews.authorization.k8s.io: the default ClusterRole
# system:basic-user), which the scan makes once per kind to learn whether it may
# list it before it does. Kubernetes grants both to every authenticated user.
# Where a cluster has taken the review away, the scan tries each list instead.
#
# Secrets: the scan asks only for their metadata (names, labels, annotations; a
# PartialObjectMetadataList) and never for their data; the audit-log test
# TestScanLiveLeastPrivilege shows that. But an RBAC rule cannot grant a list of
# metadata only: whoever holds this ServiceAccount's token could list the Secrets'
# values. If you will not grant that, delete "secrets" from the first rule's
# resources: the scan then reports Secrets as a coverage gap (forbidden), what
# depends on them as not assessed, and reads everything else.
apiVersion: v1
kind: Namespace
metadata:
  name: stridemap
  labels:
    # The scan's pod meets the restricted Pod Security Standard; anything else
    # started here is refused.
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: stridemap
  namespace: stridemap
# Only the pod that scans mounts the token; it says so itself.
automountServiceAccountToken: false
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: stridemap-reader
rules:
%s---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: stridemap-reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: stridemap-reader
subjects:
  - kind: ServiceAccount
    name: stridemap
    namespace: stridemap
`

// readerYAML is deploy/stridemap-reader.yaml as the kinds a live scan reads
// make it.
func readerYAML() []byte {
	var rules strings.Builder
	for _, r := range cluster.Rules(pipeline.LiveKinds()) {
		fmt.Fprintf(&rules, "  - apiGroups: %s\n    resources: %s\n    verbs: %s\n", flowList(r.APIGroups), flowList(r.Resources), flowList(r.Verbs))
	}
	return fmt.Appendf(nil, readerTemplate, rules.String())
}

// plainScalar is what YAML reads as that string without quotes.
var plainScalar = regexp.MustCompile(`^[a-z][a-z0-9.-]*$`)

// flowList writes strings as a one-line YAML list, quoting those YAML
// would read otherwise ("" and "*").
func flowList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = s
		if !plainScalar.MatchString(s) {
			quoted[i] = strconv.Quote(s)
		}
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// TestReaderRole: the committed deploy/stridemap-reader.yaml grants list
// on exactly the kinds a live scan reads, and nothing else: no other verb,
// no get on Secrets.
func TestReaderRole(t *testing.T) {
	want := readerYAML()
	if *update {
		if err := os.WriteFile(readerFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(readerFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the kinds a live scan reads make it (first difference: %s): regenerate it with\n  go test ./pipeline -run TestReaderRole -update\nand review the diff", readerFile, firstDifference(got, want))
	}

	role := objectOf[*rbacv1.ClusterRole](t, got, "ClusterRole")
	if bytes.Equal(got, want) && !reflect.DeepEqual(role.Rules, cluster.Rules(pipeline.LiveKinds())) {
		t.Errorf("the ClusterRole's rules read back from YAML are not those written: flowList quotes wrongly")
	}
	listsSecrets := false
	for _, r := range role.Rules {
		if !slices.Equal(r.Verbs, []string{"list"}) {
			t.Errorf("rule %v grants %v: a scan only lists", r.Resources, r.Verbs)
		}
		if len(r.ResourceNames)+len(r.NonResourceURLs) > 0 {
			t.Errorf("rule %v names objects or URLs: %v %v", r.Resources, r.ResourceNames, r.NonResourceURLs)
		}
		if slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, "secrets") {
			listsSecrets = true
		}
		if slices.Contains(r.APIGroups, "*") || (slices.Contains(r.Resources, "*") && !slices.Equal(r.APIGroups, []string{"constraints.gatekeeper.sh"})) {
			t.Errorf("rule %v on %v grants more than the kinds a scan reads", r.Resources, r.APIGroups)
		}
	}
	if !listsSecrets {
		t.Errorf("the role does not list Secrets, which a live scan reads (as metadata)")
	}
}

// firstDifference is the first line where got and want differ.
func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d is %q, should be %q", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("%d lines, should be %d", len(g), len(w))
}

// deployObjects decodes every object of a multi-document YAML file of
// built-in kinds.
func deployObjects(t *testing.T, data []byte) []runtime.Object {
	t.Helper()
	var out []runtime.Object
	for doc := range strings.SplitSeq(string(data), "\n---\n") {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("%v in:\n%s", err, doc)
		}
		out = append(out, obj)
	}
	return out
}

// objectOf is the one object of kind in a YAML file, typed.
func objectOf[T runtime.Object](t *testing.T, data []byte, kind string) T {
	t.Helper()
	var found []T
	for _, o := range deployObjects(t, data) {
		if typed, ok := o.(T); ok && o.GetObjectKind().GroupVersionKind().Kind == kind {
			found = append(found, typed)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d objects of kind %s, want one", len(found), kind)
	}
	return found[0]
}
