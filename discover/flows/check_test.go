//go:build linux

package flows

import (
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover/flows/bpf"
)

// TestCheck runs the kernel check with every part, then with each optional
// part left out as a kernel that refuses it would: the required part and
// the owners must still work, the part left out must say why, and the
// others must be unaffected.
func TestCheck(t *testing.T) {
	needRoot(t)
	root := CgroupRoot()
	if root == "" {
		t.Fatal("cgroup v2 is not mounted: protocol peeking cannot be checked")
	}
	for _, tc := range []struct {
		name    string
		cfg     Config
		missing string // the part that must not work
		reason  string
	}{
		{"every part", Config{Cgroup: root}, "", ""},
		{"without listener adoption", Config{Cgroup: root, Without: []bpf.Part{bpf.ListenerAdoption}}, "listener-adoption", bpf.ErrTurnedOff.Error()},
		{"without protocol peek", Config{Cgroup: root, Without: []bpf.Part{bpf.ProtocolPeek}}, "protocol-peek", bpf.ErrTurnedOff.Error()},
		{"without aggregation", Config{Cgroup: root, Without: []bpf.Part{bpf.Aggregation}}, "aggregation", bpf.ErrTurnedOff.Error()},
		{"without a cgroup", Config{}, "protocol-peek", bpf.ErrNoCgroup.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Check(t.Context(), tc.cfg)
			if c.Kernel != bpf.Release() || !c.Usable() {
				t.Errorf("kernel %q, usable %v", c.Kernel, c.Usable())
			}
			var parts []string
			for _, p := range c.Parts {
				parts = append(parts, p.Part)
				if p.Required != (p.Part == string(bpf.Connections)) {
					t.Errorf("%s: required %v", p.Part, p.Required)
				}
				if p.Part == tc.missing {
					if p.OK || p.Detail != tc.reason {
						t.Errorf("%s should not work, because %q: got ok %v, %q", p.Part, tc.reason, p.OK, p.Detail)
					}
				} else if !p.OK {
					t.Errorf("%s does not work: %s", p.Part, p.Detail)
				}
			}
			if want := "connections owners listener-adoption protocol-peek aggregation"; strings.Join(parts, " ") != want {
				t.Errorf("rows %q, want %q", parts, want)
			}
		})
	}
}
