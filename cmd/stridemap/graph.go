package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/model/store"
)

func (a *app) graphCommand() *cobra.Command {
	var format, output string
	cmd := &cobra.Command{
		Use:   "graph [SCAN]",
		Short: "Print the architecture graph of a scan as JSON or DOT",
		Long: `Print the architecture graph of a scan (the latest unless SCAN names one):
nodes, data-flow edges with port, protocol, encryption and evidence, trust
boundaries, detected controls and dangling references.

  --format table  elements and flows, for reading in a terminal
  --format json   versioned JSON, schema in docs/graph-json.md
  --format dot    Graphviz DOT; render it with "dot -Tsvg"`,
		Example: `  stridemap graph --format table
  stridemap graph --format json > graph.json
  stridemap graph 3 --format dot | dot -Tsvg > scan3.svg`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "json" && format != "dot" && format != "table" {
				return fmt.Errorf("unknown --format %q: use table, json or dot", format)
			}
			return a.runGraph(cmd.Context(), args, format, output)
		},
	}
	cmd.Flags().StringVar(&format, "format", "json", "output format: table, json or dot")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	return cmd
}

func (a *app) runGraph(ctx context.Context, args []string, format, output string) error {
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	id, err := scanIDArg(ctx, s, args)
	if err != nil {
		return err
	}
	info, err := s.Scan(ctx, id)
	if err != nil {
		return err
	}
	g, err := s.Graph(ctx, id)
	if err != nil {
		return err
	}
	return writeOutput(a.stdout, output, func(w io.Writer) error {
		switch format {
		case "dot":
			return export.WriteDOT(w, g, fmt.Sprintf("stridemap scan #%d", id))
		case "table":
			return export.WriteTable(w, g)
		}
		return export.WriteGraphJSON(w, g, &export.ScanRef{ID: id, StartedAt: info.StartedAt, FinishedAt: info.FinishedAt, Partial: info.Partial})
	})
}

// scanIDArg reads an optional SCAN argument, defaulting to the latest scan.
func scanIDArg(ctx context.Context, s *store.Store, args []string) (int64, error) {
	if len(args) == 0 {
		id, err := s.LatestScanID(ctx)
		if err != nil {
			return 0, fmt.Errorf("%w: run stridemap scan -f DIR first", err)
		}
		return id, nil
	}
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("scan %q: a scan is named by its number (see stridemap scans)", args[0])
	}
	return id, nil
}

// writeOutput writes to path, or to stdout when path is empty. A file is
// written whole or not at all.
func writeOutput(stdout io.Writer, path string, write func(io.Writer) error) error {
	if path == "" {
		return write(stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".stridemap-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
