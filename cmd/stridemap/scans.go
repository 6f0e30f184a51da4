package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/discover/flows"
)

func (a *app) scansCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "scans",
		Short: "List stored scans, newest first",
		Long: `List the scans kept in the store, newest first, with their sources and what
each found, and the target each looked at (the resolved paths or kustomizations,
or the API server, context and namespaces): "stridemap diff" compares the scans
of one target. Every scan is kept, so any two can be compared.`,
		Example: `  stridemap scans
  stridemap scans --format json | jq '.[0].ID'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := choice("--format", format, "table", "json")
			if err != nil {
				return err
			}
			s, err := a.readStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			scans, err := s.Scans(cmd.Context())
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(scans)
			}
			if len(scans) == 0 {
				fmt.Fprintln(a.stdout, "No scans yet. Run: stridemap scan -f DIR")
				return nil
			}
			cwd, _ := os.Getwd() // "" when unknown: targets are then shown whole
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tFINISHED\tOBJECTS\tNODES\tEDGES\tEXPOSED\tDANGLING\tSTATUS\tTARGET\tSOURCES")
			for _, sc := range scans {
				status := "complete"
				if sc.Partial {
					status = fmt.Sprintf("partial (%d errors)", sc.Counts.Errors)
				}
				var sources []string
				for _, src := range sc.Sources {
					sources = append(sources, src.Path)
				}
				// Paths come from input: escaped for the terminal.
				fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", sc.ID, sc.FinishedAt.Local().Format(time.DateTime),
					sc.Counts.Objects, sc.Counts.Nodes, sc.Counts.Edges, sc.Counts.Exposed, sc.Counts.Dangling, status,
					flows.Graphic(shortTarget(sc.Target.Short(cwd))), flows.Graphic(strings.Join(sources, " ")))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

// targetWidth bounds the TARGET column: a long path keeps its start and
// its end (the app's directory), which tell targets apart.
const targetWidth = 48

func shortTarget(s string) string {
	r := []rune(s)
	if len(r) <= targetWidth {
		return s
	}
	half := (targetWidth - 1) / 2
	return string(r[:half]) + "…" + string(r[len(r)-(targetWidth-1-half):])
}
