package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

func (a *app) triageCommand() *cobra.Command {
	var status, reason, by string
	cmd := &cobra.Command{
		Use:   "triage FINDING-ID --status STATUS --reason TEXT",
		Short: "Record a decision on a finding: accepted, mitigated, false-positive or open",
		Long: `Record a triage decision on a finding, by its stable ID (RULE@ELEMENT, as
"stridemap findings" prints it). The decision is stored with who made it and
when, and follows the finding into every later scan. Only open findings count
for "scan --fail-on".

  accepted        the risk is known and accepted (say why, and until when)
  mitigated       a control the scan cannot see handles it (say which)
  false-positive  the rule is wrong about this element (say why)
  open            reopen a finding

Decisions can be kept in git: "triage export" writes them as YAML and
"triage import" reads them back into another store.`,
		Example: `  stridemap triage container-privileged@workload:logging/log-shipper \
      --status accepted --reason "needs host logs; reviewed in SEC-42"
  stridemap triage list
  stridemap triage export -o stridemap-triage.yaml
  stridemap triage import stridemap-triage.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := threats.ParseStatus(status)
			if err != nil {
				return fmt.Errorf("--status: %w", err)
			}
			if reason == "" && st != threats.Open {
				return fmt.Errorf("--reason is required: say why the finding is %s", st)
			}
			return a.runTriage(cmd.Context(), args[0], st, reason, by)
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "accepted, mitigated, false-positive or open")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required unless reopening)")
	cmd.Flags().StringVar(&by, "by", "", "who decides (default: $STRIDEMAP_USER, else the login name)")
	_ = cmd.MarkFlagRequired("status")
	cmd.AddCommand(a.triageListCommand(), a.triageExportCommand(), a.triageImportCommand())
	return cmd
}

func (a *app) runTriage(ctx context.Context, id string, status threats.Status, reason, by string) error {
	s, err := a.readStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	scan, err := scanIDArg(ctx, s, nil)
	if err != nil {
		return err
	}
	records, err := s.Findings(ctx, scan)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(records, func(r store.Finding) bool { return r.ID == id }) {
		return fmt.Errorf("no finding %q in the latest scan (#%d); stridemap findings lists their IDs", id, scan)
	}
	d := store.Decision{Subject: id, Status: string(status), Reason: reason, Who: threats.CurrentUser(by), At: time.Now()}
	if err := s.AddTriage(ctx, d); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: %s by %s\n", safetext.Cell(id), status, safetext.Text(d.Who))
	return nil
}

func (a *app) triageListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the triage decisions in force",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.readStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			decisions, err := s.Triage(cmd.Context())
			if err != nil {
				return err
			}
			if len(decisions) == 0 {
				fmt.Fprintln(a.stdout, "No triage decisions yet. Record one with: stridemap triage FINDING-ID --status accepted --reason …")
				return nil
			}
			ids := make([]string, 0, len(decisions))
			for id := range decisions {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "FINDING\tSTATUS\tBY\tWHEN\tREASON")
			for _, id := range ids {
				d := decisions[id]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", safetext.Cell(id), safetext.Cell(d.Status), safetext.Cell(d.Who), d.At.Local().Format(time.DateTime), safetext.Text(d.Reason))
			}
			return tw.Flush()
		},
	}
}

func (a *app) triageExportCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "export",
		Short:   "Write the decisions in force as YAML, to keep in git",
		Example: "  stridemap triage export -o stridemap-triage.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.readStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			decisions, err := s.Triage(cmd.Context())
			if err != nil {
				return err
			}
			return writeOutput(a.stdout, output, func(w io.Writer) error { return threats.WriteTriageFile(w, decisions) })
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	return cmd
}

func (a *app) triageImportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "Read decisions from a YAML file written by triage export",
		Long: `Read triage decisions from a file written by "triage export" (or by hand) and
record those that differ from the decisions in force. Importing the same file
twice changes nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			entries, err := threats.ReadTriageFile(f, args[0])
			if err != nil {
				return err
			}
			s, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			current, err := s.Triage(cmd.Context())
			if err != nil {
				return err
			}
			changed := 0
			for _, e := range entries {
				if c, ok := current[e.Finding]; ok && c.Status == string(e.Status) && c.Reason == e.Reason {
					continue
				}
				at := e.At
				if at.IsZero() {
					at = time.Now()
				}
				d := store.Decision{Subject: e.Finding, Status: string(e.Status), Reason: e.Reason, Who: threats.CurrentUser(e.By), At: at}
				if err := s.AddTriage(cmd.Context(), d); err != nil {
					return err
				}
				changed++
			}
			fmt.Fprintf(a.stdout, "%d decision(s) read from %s, %d recorded (the rest were already in force)\n", len(entries), safetext.Text(args[0]), changed)
			return nil
		},
	}
}
