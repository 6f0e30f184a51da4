package catalog

import (
	"slices"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/model"
)

// nativeRule compiles condition as a built-in rule of the given targets,
// so that it gets a native check.
func nativeRule(t testing.TB, e *envs, condition string, targets ...Target) *Rule {
	t.Helper()
	r := &Rule{ID: "native-test", AppliesTo: targets, Condition: condition}
	if err := e.compile(r, false); err != nil {
		t.Fatalf("%s: %v", condition, err)
	}
	return r
}

// interpreted is what CEL alone says of r's condition on v.
func interpreted(r *Rule, v *Vars) (bool, error) {
	out, _, err := r.condition.Eval(v)
	if err != nil {
		return false, err
	}
	matched, _ := out.Value().(bool)
	return matched, nil
}

// sampleNodes are elements that take the native checks down their
// different paths: a workload with containers and settings, a data store
// without a workload, a node with nothing set.
func sampleNodes() map[string]*Vars {
	truth := true
	cart := &model.Node{
		ID: "workload:shop/cart", Type: model.Process, Kind: "Deployment", Namespace: "shop", Name: "cart",
		Services:    []string{"shop/cart"},
		Annotations: model.Annotations{"nginx.ingress.kubernetes.io/enable-cors": "true"},
		Workload: &model.Workload{
			ServiceAccount: "default",
			Containers: []model.Container{{
				Name:  "app",
				Image: model.Image{Repository: "shop/cart", Tag: "latest"},
				Security: model.Security{
					AllowPrivilegeEscalation: &truth,
					CapabilitiesAdd:          []string{"cap_net_admin"},
				},
				Settings: []model.Setting{
					{Key: "CORS_ORIGINS", Value: " https://a.example, * "},
					{Key: "GF_AUTH_ANONYMOUS_ENABLED", Value: "false"},
					{Key: "GF_AUTH_ANONYMOUS_ENABLED", Value: "TRUE"},
				},
			}, {Name: "init", Init: true, Image: model.Image{Repository: "busybox", Digest: "sha256:0"}}},
		},
	}
	redis := &model.Node{ID: "workload:shop/redis", Type: model.DataStore, Kind: "StatefulSet", Namespace: "shop", Name: "redis",
		DataStore: &model.DataStoreInfo{Engine: "redis"}}
	bare := &model.Node{ID: "workload:x/y", Type: model.Process}
	return map[string]*Vars{
		"cart": {Node: cart, Ctx: &Context{
			Controls: []string{"run-as-non-root"}, Callers: []string{"external:internet", "workload:shop/frontend"},
			Data: []string{"pii"},
		}},
		"redis": {Node: redis, Ctx: &Context{Callers: []string{"workload:shop/cart"}, Data: []string{"session"}}},
		"bare":  {Node: bare, Ctx: &Context{}},
	}
}

// TestNativeChecks: each form a native check understands decides what it
// should, as CEL does; what it does not understand, or cannot read, is
// left to CEL.
func TestNativeChecks(t *testing.T) {
	e, err := newEnvs()
	if err != nil {
		t.Fatal(err)
	}
	nodes := sampleNodes()
	// want: one letter per element of nodes in the order cart, redis,
	// bare: h holds, f fails, ? unknown.
	for _, tc := range []struct{ condition, want string }{
		{`node.kind == "Deployment"`, "hff"},
		{`"Deployment" != node.kind`, "fhh"},
		{`node.kind in ["StatefulSet", "DaemonSet"]`, "fhf"},
		{`"run-as-non-root" in ctx.controls`, "hff"},
		{`!("run-as-non-root" in ctx.controls)`, "fhh"},
		{`ctx.callers.size() > 0`, "hhf"},
		{`0 < size(ctx.callers)`, "hhf"},
		{`node.services.size() == 1`, "hff"},
		{`ctx.callers.size() >= 2 && ctx.data.size() != 0`, "hff"},
		// A nil pointer on the way: CEL's business.
		{`node.datastore.engine == "redis"`, "?h?"},
		{`node.workload.containers.size() > 0`, "h??"},
		// One decisive side decides; the other side may be unknown.
		{`node.datastore.engine == "redis" || ctx.callers.size() > 1`, "hh?"},
		{`node.datastore.engine == "redis" && ctx.callers.size() > 1`, "?ff"},
		{`ctx.callers.size() > 1 && node.datastore.engine == "redis"`, "?ff"},
		{`node.kind == "Deployment" || ctx.data.exists(d, d.size() > 1)`, "h?f"},
		{`node.workload.containers.exists(c, c.init)`, "h??"},
		{`node.workload.containers.all(c, c.init)`, "f??"},
		{`node.workload.containers.exists(c, !c.init && c.image.tag == "latest" && c.security.capabilitiesAdd.exists(k, k.upperAscii().replace("CAP_", "") == "NET_ADMIN"))`, "h??"},
		{`node.workload.containers.exists(c, c.image.digest.startsWith("sha256:"))`, "h??"},
		{`node.workload.containers.exists(c, c.image.repository.endsWith("/cart") && c.image.repository.contains("shop"))`, "h??"},
		{`node.workload.containers.exists(c, c.image.repository.matches("^shop/[a-z]+$"))`, "h??"},
		// Settings: the last occurrence wins, in the order of the keys.
		{`node.workload.containers.exists(c, c.settings.lookup(["NONE", "GF_AUTH_ANONYMOUS_ENABLED"]).value.lowerAscii() == "true")`, "h??"},
		{`node.workload.containers.exists(c, c.settings.lookup(["NONE"]).key == "")`, "h??"},
		{`node.workload.containers.exists(c, c.settings.exists(s, s.value.split(",").exists(o, o.trim() == "*")))`, "h??"},
		// An empty list needs no predicate; a predicate CEL alone
		// evaluates leaves a list with elements unknown.
		{`node.workload.containers.exists(c, c.settings.exists(s, s.value.reverse() == "x"))`, "???"},
		{`node.workload.containers.exists(c, c.ports.exists(p, p.name.reverse() == "x"))`, "f??"},
		{`ctx.data.exists(d, d.reverse() == "iip")`, "??f"},
		// Maps: a key that is not there is CEL's error, not ours.
		{`"nginx.ingress.kubernetes.io/enable-cors" in node.annotations`, "hff"},
		{`node.annotations["nginx.ingress.kubernetes.io/enable-cors"] == "true"`, "h??"},
		{`ctx.callers.exists(w, w.startsWith("workload:" + node.namespace + "/"))`, "hhf"},
		// has() is not a read.
		{`has(node.workload.replicas)`, "???"},
	} {
		r := nativeRule(t, e, tc.condition, TargetProcess)
		var got strings.Builder
		for _, name := range []string{"cart", "redis", "bare"} {
			v := nodes[name]
			d := unknown
			if r.native != nil {
				d = r.native(v)
			}
			got.WriteByte("?hf"[d])
			if d == unknown {
				continue
			}
			matched, err := interpreted(r, v)
			if err != nil || matched != (d == holds) {
				t.Errorf("%s on %s: native %c, CEL %v, %v", tc.condition, name, "?hf"[d], matched, err)
			}
		}
		if got.String() != tc.want {
			t.Errorf("%s: %s, want %s", tc.condition, got.String(), tc.want)
		}
	}
}

// TestNativeEvidence: evidence built in Go is the list CEL builds; what
// a native check cannot decide inside it leaves it to CEL.
func TestNativeEvidence(t *testing.T) {
	e, err := newEnvs()
	if err != nil {
		t.Fatal(err)
	}
	cart := sampleNodes()["cart"]
	for _, tc := range []struct {
		evidence string
		want     []string // nil: left to CEL
	}{
		{`["kind " + node.kind]`, []string{"kind Deployment"}},
		{`node.workload.containers.filter(c, !c.init).map(c, "container " + c.name + " runs " + c.image.repository)`, []string{"container app runs shop/cart"}},
		{`node.workload.containers.map(c, c.init, c.name) + ctx.callers.filter(w, w.startsWith("workload:"))`, []string{"init", "workload:shop/frontend"}},
		{`[ctx.callers.join(", "), ctx.data.join()]`, []string{"external:internet, workload:shop/frontend", "pii"}},
		{`[ctx.callers.size() > 1 ? "callers: " + string(ctx.callers.size()) : "alone"]`, []string{"callers: 2"}},
		{`node.workload.containers.map(c, c.settings.filter(s, s.key.startsWith("GF_")).map(s, s.value)).flatten().distinct()`, []string{"false", "TRUE"}},
		{`node.workload.containers.filter(c, c.init).map(c, located(c.evidence, "init " + c.name))`, []string{Located(model.Evidence{}, "init init")}},
		{`node.services + ["x"]`, []string{"shop/cart", "x"}},
		// The condition inside is CEL's: a nil pointer.
		{`[node.datastore.engine == "redis" ? "redis" : "other"]`, nil},
		// has() is CEL's.
		{`node.workload.containers.filter(c, has(c.security.runAsUser)).map(c, c.name)`, nil},
	} {
		r := &Rule{ID: "native-test", AppliesTo: []Target{TargetProcess}, Condition: "true", Evidence: tc.evidence}
		if err := e.compile(r, false); err != nil {
			t.Fatalf("%s: %v", tc.evidence, err)
		}
		var got []string
		ok := false
		if r.nativeEvidence != nil {
			got, ok = r.nativeEvidence(cart)
		}
		if !ok {
			got = nil
		}
		if !slices.Equal(got, tc.want) || (ok != (tc.want != nil)) {
			t.Errorf("%s: %q (%v), want %q", tc.evidence, got, ok, tc.want)
		}
		if !ok {
			continue
		}
		out, _, err := r.evidence.Eval(cart)
		if err != nil || !slices.Equal(stringList(out), got) {
			t.Errorf("%s: native %q, CEL %q, %v", tc.evidence, got, stringList(out), err)
		}
	}
}

// TestUserRulesAreInterpreted: a user's rule runs under the cost limit,
// which a native check would escape.
func TestUserRulesAreInterpreted(t *testing.T) {
	r := userRule(t, "x", `- id: x
  title: t
  stride: T
  appliesTo: [process]
  condition: 'node.kind == "Deployment"'
  missingControl: m
  likelihood: low
  impact: high
  description: d
  mitigation: m
`)
	if r.native != nil {
		t.Error("a user rule got a native check")
	}
}

// TestBuiltinRulesHaveNativeChecks: every built-in rule is decided at least
// in part natively, so that a change to the rules or to nativeOf that
// sends them back to the interpreter is seen here, not only in
// BenchmarkEvaluate.
func TestBuiltinRulesHaveNativeChecks(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var evidence, interpreted []string
	for _, r := range c.Rules {
		if r.native == nil {
			t.Errorf("rule %s has no native check", r.ID)
		}
		if r.Evidence != "" {
			evidence = append(evidence, r.ID)
			if r.nativeEvidence == nil {
				interpreted = append(interpreted, r.ID)
			}
		}
	}
	// Some evidence asks what only CEL answers (has()), but little.
	if len(interpreted) > len(evidence)/10 {
		t.Errorf("the evidence of %d rules of %d is left to CEL: %v", len(interpreted), len(evidence), interpreted)
	}
}

// FuzzNativeCheck: for any condition that compiles, on every sample
// element, a native check that decides agrees with CEL, which then
// evaluates without error; so does evidence built natively.
func FuzzNativeCheck(f *testing.F) {
	c, err := Load()
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range c.Rules {
		if r.AppliesTo[0].IsNode() {
			f.Add(r.Condition)
			f.Add(r.Evidence)
		}
	}
	f.Add(`node.annotations["a"] == "b" || node.kind.size() > 1`)
	e, err := newEnvs()
	if err != nil {
		f.Fatal(err)
	}
	nodes := sampleNodes()
	f.Fuzz(func(t *testing.T, expr string) {
		// The expression as evidence: a list of strings.
		r := &Rule{ID: "fuzz", AppliesTo: []Target{TargetProcess}, Condition: "true", Evidence: expr}
		if e.compile(r, false) == nil && r.nativeEvidence != nil {
			for name, v := range nodes {
				got, ok := r.nativeEvidence(v)
				if !ok {
					continue
				}
				out, _, err := r.evidence.Eval(v)
				if err != nil || !slices.Equal(stringList(out), got) {
					t.Fatalf("%s on %s: native %q, CEL %q, %v", expr, name, got, stringList(out), err)
				}
			}
		}
		// The expression as a condition.
		condition := expr
		r = &Rule{ID: "fuzz", AppliesTo: []Target{TargetProcess}, Condition: condition}
		if e.compile(r, false) != nil || r.native == nil {
			return
		}
		for name, v := range nodes {
			d := r.native(v)
			if d == unknown {
				continue
			}
			matched, err := interpreted(r, v)
			if err != nil || matched != (d == holds) {
				t.Fatalf("%s on %s: native %s, CEL %v, %v", condition, name, map[verdict]string{holds: "holds", fails: "fails"}[d], matched, err)
			}
		}
	})
}
