package pages

import (
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/stridemap/stridemap/controls"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/tui/common"
)

// TestSuggestedPolicySection: a workload with a flow shows the rule that
// allows it with the flow and its evidence, under the selector of its
// pods; the caller shows the matching egress rule; a hostNetwork workload
// shows why no policy governs it; a label from the input is escaped.
func TestSuggestedPolicySection(t *testing.T) {
	hostNet := strings.Replace(modeltest.Deployment("shop", "agent", modeltest.Env("CART_ADDR", "cart:80")),
		"    spec:\n      containers:", "    spec:\n      hostNetwork: true\n      containers:", 1)
	web := strings.Replace(modeltest.Deployment("web", "web", modeltest.Env("CART_ADDR", "cart.shop:80")),
		"labels: {app: web}", `labels: {app: web, tier: "front\e]0;pwned\a"}`, 1)
	g := model.Build(modeltest.Decode(t,
		web,
		modeltest.Deployment("shop", "cart", "ports: [{name: http, containerPort: 8080}]"),
		modeltest.Service("shop", "cart"),
		hostNet,
	), controls.Detectors()...)
	x := common.NewGraphIndex(g, nil)
	st := common.DefaultStyles(colorprofile.ASCII)
	section := func(id string) string {
		t.Helper()
		ni, ok := x.Node(id)
		if !ok {
			t.Fatalf("no node %s", id)
		}
		return ansi.Strip(strings.Join(suggestedPolicy(&st, x, ni), "\n"))
	}

	cart := section("workload:shop/cart")
	for _, want := range []string{
		"Suggested NetworkPolicy  stridemap-cart · stridemap policy suggest -o DIR writes it",
		"  selects app=cart  with the namespace's stridemap-default-deny and stridemap-dns",
		`  ingress from pods app=web,tier=front\x1b]0;pwned\a of namespace web on TCP http` + "\n" +
			"    ← workload:web/web->workload:shop/cart:80  ",
		"note: workload:shop/agent->workload:shop/cart:80: workload:shop/agent cannot be selected",
	} {
		if !strings.Contains(cart, want) {
			t.Errorf("cart's section lacks %q:\n%s", want, cart)
		}
	}
	if strings.ContainsAny(cart, "\x1b\a") {
		t.Errorf("cart's section holds a raw control character: %q", cart)
	}
	if strings.Contains(cart, "egress") {
		t.Errorf("cart calls nothing, yet its section has an egress rule:\n%s", cart)
	}

	caller := section("workload:web/web")
	if want := "  egress to pods app=cart of namespace shop on TCP http\n    → workload:web/web->workload:shop/cart:80  "; !strings.Contains(caller, want) {
		t.Errorf("web's section lacks %q:\n%s", want, caller)
	}

	agent := section("workload:shop/agent")
	for _, want := range []string{"Suggested NetworkPolicy  none for this workload", "note: workload:shop/agent: runs in the host's network namespace (hostNetwork)"} {
		if !strings.Contains(agent, want) {
			t.Errorf("the hostNetwork workload's section lacks %q:\n%s", want, agent)
		}
	}
	if strings.Contains(agent, "ingress") || strings.Contains(agent, "egress to") {
		t.Errorf("the hostNetwork workload's section shows rules:\n%s", agent)
	}

}
