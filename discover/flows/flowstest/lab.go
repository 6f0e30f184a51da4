//go:build linux

// Package flowstest builds small networks of "pods" for tests that observe
// real connections: each pod is a network namespace with one veth link to a
// bridge, which lives in a namespace of its own, so no address or link of
// the test ever exists in the host's namespace. Everything is removed by
// name when the test ends, failed or not.
//
// Sockets are created inside a pod's namespace from the test process
// itself (Pod.Listen, Pod.Dial), so servers and clients are goroutines, not
// processes to reap.
package flowstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Subnet and Subnet6 are the pods' subnets. They exist only inside the
// lab's namespaces, so labs of concurrent tests do not collide.
var (
	Subnet  = netip.MustParsePrefix("10.200.0.0/24")
	Subnet6 = netip.MustParsePrefix("fd00:200::/64")
)

// NeedRoot skips the test when it cannot create namespaces: not root and
// not in CI. In CI (env CI set) the test runs and fails loudly instead.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 && os.Getenv("CI") == "" {
		t.Skip("needs root for network namespaces and eBPF (runs in CI)")
	}
	for _, tool := range []string{"ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install iproute2 (.ci/deps.sh)", tool)
		}
	}
}

// Lab is a bridge and the pods attached to it.
type Lab struct {
	t      testing.TB
	id     string
	bridge string // namespace holding the bridge
	pods   []*Pod
}

// Pod is one network namespace with an address on the lab's bridge.
type Pod struct {
	Name  string
	NS    string     // namespace name, under /run/netns
	IP    netip.Addr // IPv4 address of eth0
	IP6   netip.Addr // IPv6 address of eth0
	Inode uint32     // namespace inode, as the observer reports it
	lab   *Lab
}

// NewLab creates the bridge namespace. Cleanup removes it and every pod.
func NewLab(t testing.TB) *Lab {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	l := &Lab{t: t, id: hex.EncodeToString(b)}
	l.bridge = "smt-" + l.id + "-br"
	l.ip("netns", "add", l.bridge)
	t.Cleanup(func() { l.deleteNS(l.bridge) })
	l.ipIn(l.bridge, "link", "add", "br0", "type", "bridge")
	l.ipIn(l.bridge, "link", "set", "br0", "up")
	return l
}

// AddPod creates a pod namespace with eth0 on the bridge and the next free
// addresses of Subnet and Subnet6. Its default route is eth0, so addresses outside the
// subnet (ClusterIPs) can be dialled and DNATed.
func (l *Lab) AddPod(name string) *Pod {
	l.t.Helper()
	addr, addr6 := Subnet.Addr(), Subnet6.Addr()
	for range len(l.pods) + 2 {
		addr, addr6 = addr.Next(), addr6.Next()
	}
	p := &Pod{Name: name, NS: fmt.Sprintf("smt-%s-%d", l.id, len(l.pods)), IP: addr, IP6: addr6, lab: l}
	l.ip("netns", "add", p.NS)
	l.t.Cleanup(func() { l.deleteNS(p.NS) })
	var st unix.Stat_t
	if err := unix.Stat("/run/netns/"+p.NS, &st); err != nil {
		l.t.Fatal(err)
	}
	p.Inode = uint32(st.Ino)
	peer := fmt.Sprintf("v%s%d", l.id, len(l.pods)) // at most 15 bytes
	l.ipIn(p.NS, "link", "add", "eth0", "type", "veth", "peer", "name", peer, "netns", l.bridge)
	l.ipIn(p.NS, "addr", "add", netip.PrefixFrom(addr, Subnet.Bits()).String(), "dev", "eth0")
	l.ipIn(p.NS, "-6", "addr", "add", netip.PrefixFrom(addr6, Subnet6.Bits()).String(), "dev", "eth0", "nodad")
	l.ipIn(p.NS, "link", "set", "lo", "up")
	l.ipIn(p.NS, "link", "set", "eth0", "up")
	l.ipIn(p.NS, "route", "add", "default", "dev", "eth0")
	l.ipIn(l.bridge, "link", "set", peer, "master", "br0")
	l.ipIn(l.bridge, "link", "set", peer, "up")
	l.pods = append(l.pods, p)
	return p
}

// Pods lists the pods in the order they were added.
func (l *Lab) Pods() []*Pod { return l.pods }

func (l *Lab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (l *Lab) ipIn(ns string, args ...string) {
	l.t.Helper()
	l.ip(append([]string{"-n", ns}, args...)...)
}

func (l *Lab) deleteNS(ns string) {
	if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
		l.t.Errorf("remove network namespace %s: %v\n%s", ns, err, out)
	}
}

// Exec runs a command inside the pod's namespace and fails the test if it
// fails.
func (p *Pod) Exec(name string, args ...string) {
	p.lab.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", p.NS, name}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.lab.t.Fatalf("in %s: %s %s: %v\n%s", p.Name, name, strings.Join(args, " "), err, out)
	}
}

// DNAT makes connections from this pod to from (a ClusterIP and port) go
// to to (a pod address), as kube-proxy's iptables rules do: the client's
// socket keeps seeing from.
func (p *Pod) DNAT(from, to netip.AddrPort) {
	p.lab.t.Helper()
	if _, err := exec.LookPath("iptables"); err != nil {
		p.lab.t.Fatal("iptables not found: install it (.ci/deps.sh)")
	}
	p.Exec("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", from.Addr().String(), "--dport", fmt.Sprint(from.Port()),
		"-j", "DNAT", "--to-destination", to.String())
}

// Do runs fn on an OS thread that has entered the pod's namespace, so the
// sockets fn creates belong to the pod. The thread is discarded if it cannot
// return to the original namespace.
func (p *Pod) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked on failure: the thread dies with the goroutine
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + p.NS)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), syscall.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter network namespace %s: %w", p.NS, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), syscall.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("leave network namespace %s: %w", p.NS, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Listen listens on TCP port of the pod's address (all addresses when
// dualStack, as Go servers usually do: IPv4 peers then appear
// IPv4-mapped to the kernel). The listener is closed when the test ends.
func (p *Pod) Listen(port uint16, dualStack bool) net.Listener {
	p.lab.t.Helper()
	var ln net.Listener
	err := p.Do(func() (err error) {
		if dualStack {
			ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		} else {
			ln, err = net.Listen("tcp4", netip.AddrPortFrom(p.IP, port).String())
		}
		return err
	})
	if err != nil {
		p.lab.t.Fatalf("listen in %s: %v", p.Name, err)
	}
	p.lab.t.Cleanup(func() { ln.Close() })
	return ln
}

// DialContext connects from inside the pod; it fits http.Transport.
func (p *Pod) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := p.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}
