package controls_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
)

// TestRunningProxies: a mesh proxy the pods run counts as the mesh being
// there, whatever the template declares: it is what the injector did. A
// digest that runs does not pin an image whose template names a tag.
func TestRunningProxies(t *testing.T) {
	optedOut := strings.Replace(modeltest.Deployment("shop", "legacy"), "labels: {app: legacy}",
		"labels: {app: legacy}\n      annotations: {sidecar.istio.io/inject: \"false\"}", 1)
	docs := []string{
		optedOut,
		modeltest.Deployment("shop", "api"),
		"apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\nspec: {mtls: {mode: STRICT}}",
		modeltest.Deployment("pay", "card"),
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: pay\n  annotations: {config.linkerd.io/default-inbound-policy: all-authenticated}",
	}
	istio := discover.RunningContainer{Name: "istio-proxy", Injected: true, Image: "docker.io/istio/proxyv2:1.24.0", ImageID: "docker.io/istio/proxyv2@sha256:aaa"}
	linkerd := discover.RunningContainer{Name: "linkerd-proxy", Init: true, Injected: true, Image: "cr.l5d.io/linkerd/proxy:edge", ImageID: "cr.l5d.io/linkerd/proxy@sha256:l"}
	app := discover.RunningContainer{Name: "main", Image: "example/x:1.0", ImageID: "docker.io/example/x@sha256:abc"}

	for _, tc := range []struct {
		name    string
		running map[string][]discover.RunningContainer // by object name
		mtls    []string
		meshed  []string
	}{
		{"manifests only: the opted-out workload and the unannotated one are outside", nil,
			[]string{"workload:shop/api"}, nil},
		{"proxies run where the manifests do not declare them", map[string][]discover.RunningContainer{
			"legacy": {istio, app}, "api": {app}, "card": {linkerd, app},
		}, []string{"workload:pay/card", "workload:shop/api", "workload:shop/legacy"}, []string{"workload:pay/card", "workload:shop/legacy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := modeltest.Decode(t, docs...)
			for _, o := range inv.Objects {
				o.Running = tc.running[o.Name]
			}
			g := model.Build(inv, controls.Detectors()...)
			var mtls, meshed []string
			for _, c := range g.Controls {
				if c.Type == controls.MTLSRequired {
					mtls = append(mtls, c.Target)
				}
				if c.Type == controls.ImagePinnedByDigest {
					t.Errorf("%s: a running digest pins no image: the template's tag still moves", c.ID)
				}
			}
			for _, n := range g.Nodes {
				if n.Workload != nil && n.Workload.MeshSidecar != "" {
					meshed = append(meshed, n.ID)
				}
			}
			slices.Sort(mtls)
			if !slices.Equal(mtls, tc.mtls) {
				t.Errorf("mtls-required on %v, want %v", mtls, tc.mtls)
			}
			if !slices.Equal(meshed, tc.meshed) {
				t.Errorf("mesh sidecars on %v, want %v", meshed, tc.meshed)
			}
			if tc.running == nil {
				return
			}
			legacy := g.Node("workload:shop/legacy").Workload
			if legacy.MeshSidecar != "istio" || !slices.ContainsFunc(legacy.Running, func(c model.RunningContainer) bool {
				return c.Name == "istio-proxy" && c.Injected && c.Digest == "sha256:aaa"
			}) {
				t.Errorf("legacy: sidecar %q, running %+v", legacy.MeshSidecar, legacy.Running)
			}
		})
	}
}
