package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/stridemap/stridemap/discover"

	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/pipeline"
)

// writeScanSummary prints what a scan found, in the order a reviewer asks:
// how big, what is exposed, what could not be resolved.
func writeScanSummary(w io.Writer, info store.ScanInfo, g *model.Graph, inv *discover.Inventory, dbPath string) error {
	c := info.Counts
	var b strings.Builder
	fmt.Fprintf(&b, "Scan #%d stored in %s (%s)\n", info.ID, dbPath, info.FinishedAt.Sub(info.StartedAt).Round(1e6))
	b.WriteString(readFrom(c.Objects, inv.Sources))

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Nodes\t%d\t%s\n", c.Nodes, byType(c.NodesByType))
	declared, observed := 0, 0
	for _, e := range g.Edges {
		if e.Declared {
			declared++
		}
		if e.Observed {
			observed++
		}
	}
	fmt.Fprintf(tw, "Edges\t%d\tdeclared %d, observed %d\n", c.Edges, declared, observed)
	fmt.Fprintf(tw, "Boundaries\t%d\t\n", c.Boundaries)
	fmt.Fprintf(tw, "Controls\t%d\t\n", c.Controls)
	fmt.Fprintf(tw, "Entry points\t%d\texposed to the internet\n", c.Exposed)
	fmt.Fprintf(tw, "Dangling references\t%d\t\n", c.Dangling)
	fmt.Fprintf(tw, "Skipped / problems\t%d\t%d error(s)\n", c.Problems, c.Errors)
	tw.Flush()
	if silent, workloads := silentWorkloads(g); silent*2 > workloads && workloads >= silentHintMin {
		fmt.Fprintf(&b, "\nHint: %d of %d workloads have no flow in or out: their calls are probably made in code (addresses built at run time), which manifests do not show; see them on the wire with stridemap observe (eBPF), or scan --flows FILE with Hubble flow logs (hubble observe -o json)\n", silent, workloads)
	}

	if c.Exposed > 0 {
		b.WriteString("\nEntry points:\n")
		for _, e := range g.Edges {
			if e.From != model.InternetID {
				continue
			}
			via := e.Via
			if via == "" && len(e.Evidence) > 0 {
				via = e.Evidence[0].Object
			}
			fmt.Fprintf(&b, "  internet → %s :%d %s via %s\n", safetext.Cell(e.To), e.Port, safetext.Text(string(e.Protocol)), safetext.Cell(via))
		}
	}
	if len(g.Dangling) > 0 {
		b.WriteString("\nDangling references (named but not found):\n")
		for _, d := range g.Dangling {
			fmt.Fprintf(&b, "  %s → %s: %s (%s)\n", safetext.Cell(d.From), safetext.Cell(d.Target), safetext.Text(d.Reason), safetext.Cell(d.Evidence.Location()))
		}
	}
	writeCoverageGaps(&b, info, g.Gaps)
	_, err := io.WriteString(w, b.String())
	return err
}

// readFrom is the summary's line on what was read: files, a cluster or
// both.
func readFrom(objects int, sources []discover.Source) string {
	var files, fileSources int
	var servers []string
	for _, s := range sources {
		if s.Kind == cluster.SourceAPI {
			servers = append(servers, "the cluster at "+safetext.Text(s.Path))
			continue
		}
		files += s.Files
		fileSources++
	}
	var from []string
	if fileSources > 0 || len(servers) == 0 {
		from = append(from, fmt.Sprintf("%s in %s", plural(files, "file"), plural(fileSources, "source")))
	}
	from = append(from, servers...)
	return fmt.Sprintf("Read %s from %s\n\n", plural(objects, "object"), strings.Join(from, " and "))
}

// writeLiveSummary lists what a scan of files and a cluster found on one
// side only: applied by hand or by an operator, or declared and never
// applied. Long lists are cut, the count is not.
func writeLiveSummary(w io.Writer, live *pipeline.Live) {
	for _, side := range []struct {
		title string
		refs  []string
	}{
		{"Only in the cluster (running, declared in no manifest read)", live.OnlyInCluster},
		{"Only in the repository (declared, not running in the namespaces read)", live.OnlyInRepository},
	} {
		if len(side.refs) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: %d\n", side.title, len(side.refs))
		for i, ref := range side.refs {
			if i == onlyInShown {
				fmt.Fprintf(w, "  … and %d more (stridemap graph --format json lists every element with its origin)\n", len(side.refs)-i)
				break
			}
			fmt.Fprintf(w, "  %s\n", safetext.Cell(ref))
		}
	}
}

// onlyInShown is how many objects of a one-side list the summary prints.
const onlyInShown = 10

// writeCoverageGaps lists the kinds a live scan could not read, one line
// each, and how many checks were not assessed for want of them. Kind names
// and reasons come from the API server, so they are escaped.
func writeCoverageGaps(b *strings.Builder, info store.ScanInfo, gaps []discover.Gap) {
	if len(gaps) == 0 {
		return
	}
	b.WriteString("\nCoverage gaps (could not be read; what depends on them is not assessed):\n")
	for _, gap := range gaps {
		fmt.Fprintf(b, "  %s\n", safetext.Text(gap.String()))
	}
	if n := info.Counts.NotAssessed; n > 0 {
		fmt.Fprintf(b, "%s not assessed, not counted as findings: stridemap findings %d --not-assessed lists them\n", plural(n, "check"), info.ID)
	} else {
		b.WriteString("No check depended on them.\n")
	}
}

// silentHintMin is the fewest workloads for which flows missing from most
// of them are worth a hint: a smaller system is read whole at a glance.
const silentHintMin = 5

// silentWorkloads counts the workloads no flow, declared or observed,
// starts or ends at, of all workloads. Many of them mean the manifests do
// not say who calls whom, not that nobody does.
func silentWorkloads(g *model.Graph) (silent, workloads int) {
	linked := map[string]bool{}
	for _, e := range g.Edges {
		linked[e.From], linked[e.To] = true, true
	}
	for _, n := range g.Nodes {
		if n.Workload == nil {
			continue
		}
		workloads++
		if !linked[n.ID] {
			silent++
		}
	}
	return silent, workloads
}

func byType(m map[model.NodeType]int) string {
	var parts []string
	for _, t := range []model.NodeType{model.Process, model.DataStore, model.Gateway, model.ExternalEntity} {
		if m[t] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", t, m[t]))
		}
	}
	return strings.Join(parts, ", ")
}

// plural renders "1 object", "3 objects".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
