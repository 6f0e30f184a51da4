package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/stridemap/stridemap/discover/discovertest"
)

// targetNamespaceGrowth bounds how much faster than its input a full scan
// of one large namespace may grow, in CPU time per object from the smaller
// size to the larger: 1.0 is linear, and fixed start-up costs put a linear
// scan below it. Matching each selector against every workload of the
// namespace had it at 2.3.
const targetNamespaceGrowth = 1.5

// runOneNamespace scans copies of Online Boutique all in one namespace,
// each workload with its own Service, policies and monitor
// (discovertest.WriteBoutiqueOneNamespace), at two sizes, and checks that
// the work per object does not grow with the namespace.
func runOneNamespace(bin string, base []byte, small, large, runs int, work string) error {
	type size struct {
		copies, objects int
		u               usage
	}
	var sizes []size
	for _, copies := range []int{small, large} {
		in, err := discovertest.WriteBoutiqueOneNamespace(filepath.Join(work, fmt.Sprintf("one-namespace-%d", copies)), base, copies)
		if err != nil {
			return err
		}
		var us []usage
		for i := 0; i < runs; i++ {
			db := filepath.Join(work, fmt.Sprintf("one-namespace-%d-%d.db", copies, i))
			u, err := measureCommand(exec.Command(bin, "--db", db, "scan", "-f", in.Dir))
			if err != nil {
				return err
			}
			us = append(us, u)
		}
		sizes = append(sizes, size{copies, in.Objects, medianUsage(us)})
	}
	fmt.Printf("\none namespace (a Service, NetworkPolicy, PodDisruptionBudget, AuthorizationPolicy, PeerAuthentication and ServiceMonitor per workload), full scan, median of %d runs:\n", runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "copies\tobjects\twall\tCPU\tpeak MiB\tCPU µs/object\t")
	for _, s := range sizes {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%.0f\t%.1f\t\n", s.copies, s.objects, s.u.wall.Round(time.Millisecond), s.u.cpu.Round(time.Millisecond),
			float64(s.u.rss)/(1<<20), float64(s.u.cpu.Microseconds())/float64(s.objects))
	}
	tw.Flush()
	perObject := func(s size) float64 { return float64(s.u.cpu) / float64(s.objects) }
	growth := perObject(sizes[1]) / perObject(sizes[0])
	met := growth <= targetNamespaceGrowth
	fmt.Printf("target: CPU per object from %d to %d copies grows at most %.1f×: %.2f×: %s\n", small, large, targetNamespaceGrowth, growth, verdict(met))
	if !met {
		return fmt.Errorf("one namespace: work per object grows with the namespace")
	}
	return nil
}
