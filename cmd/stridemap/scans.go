package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) scansCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "scans",
		Short: "List stored scans, newest first",
		Long: `List the scans kept in the store, newest first, with their sources and what
each found. Every scan is kept, so any two can be compared.`,
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
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tFINISHED\tOBJECTS\tNODES\tEDGES\tEXPOSED\tDANGLING\tSTATUS\tSOURCES")
			for _, sc := range scans {
				status := "complete"
				if sc.Partial {
					status = fmt.Sprintf("partial (%d errors)", sc.Counts.Errors)
				}
				var sources []string
				for _, src := range sc.Sources {
					sources = append(sources, src.Path)
				}
				fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", sc.ID, sc.FinishedAt.Local().Format(time.DateTime),
					sc.Counts.Objects, sc.Counts.Nodes, sc.Counts.Edges, sc.Counts.Exposed, sc.Counts.Dangling, status, strings.Join(sources, " "))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}
