//go:build linux

package main

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/stridemap/stridemap/discover/manifests"
)

// TestDaemonSetManifest keeps deploy/observer-daemonset.yaml honest: its
// arguments are flags this binary has, and it asks for the least
// privilege the observer needs.
func TestDaemonSetManifest(t *testing.T) {
	inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{"../../deploy/observer-daemonset.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Problems) > 0 {
		t.Fatalf("problems: %v", inv.Problems)
	}
	var ds *appsv1.DaemonSet
	for _, o := range inv.Objects {
		if d, ok := o.Typed.(*appsv1.DaemonSet); ok {
			ds = d
		}
	}
	if ds == nil {
		t.Fatal("no DaemonSet")
	}
	spec := ds.Spec.Template.Spec
	// hostPID: the iterator that adopts servers already listening sees
	// only the processes of its own PID namespace (flow.c, adopt_listeners).
	if len(spec.Containers) != 1 || spec.HostNetwork || !spec.HostPID || spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("pod spec: %d containers, hostNetwork %v, hostPID %v, automount %v", len(spec.Containers), spec.HostNetwork, spec.HostPID, spec.AutomountServiceAccountToken)
	}
	c := spec.Containers[0]
	var opts options
	args := strings.Split(strings.ReplaceAll(strings.Join(c.Args, "\n"), "$(NODE_NAME)", "node-a"), "\n")
	fs := flagSet(&opts, io.Discard)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		t.Errorf("the DaemonSet's args %q do not parse: %v", c.Args, err)
	}
	if opts.duration != 0 || opts.output != "" || opts.cgroupRoot == "" || opts.cgroup != opts.cgroupRoot || opts.node != "node-a" || opts.keepRoot {
		t.Errorf("options %+v: want observing until stopped, nothing on standard output, naming cgroups from the host", opts)
	}
	if err := checkExportFlags(fs, opts); err != nil || opts.exportDir == "" || opts.keep == 0 {
		t.Errorf("options %+v: want periodic exports, a bounded number kept: %v", opts, err)
	}
	exportsOnNode := false
	for _, m := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.HostPath != nil && !m.ReadOnly && strings.HasPrefix(opts.exportDir+"/", strings.TrimSuffix(m.MountPath, "/")+"/") {
				exportsOnNode = true
			}
		}
	}
	if !exportsOnNode {
		t.Errorf("--export-dir %s is on no writable hostPath volume: the exports would not outlive the pod", opts.exportDir)
	}
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("no security context")
	}
	if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || !slices.Equal(sc.Capabilities.Add, []corev1.Capability{"BPF", "PERFMON", "NET_ADMIN"}) {
		t.Errorf("capabilities drop %v add %v, want ALL and BPF, PERFMON, NET_ADMIN", sc.Capabilities.Drop, sc.Capabilities.Add)
	}
	if sc.Privileged != nil && *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("security context %+v", sc)
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath == opts.cgroupRoot && !m.ReadOnly {
			t.Errorf("the host's cgroups must be mounted read-only")
		}
	}
}
