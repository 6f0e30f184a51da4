package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/tui"
)

func (a *app) tuiCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "tui [SCAN]",
		Short: "Explore a scan in the terminal: overview, map, threats with triage, questions, drift",
		Long: `Open a scan (the latest unless SCAN names one) in an interactive terminal UI,
for design reviews:

  1 Overview   the scan, a STRIDE × severity matrix, top risks, attack paths,
               what changed since the previous scan
  2 Map        every element grouped by namespace; its flows with port,
               protocol, declared/observed, encryption and policy badges, and a
               diagram of its neighbourhood (enter jumps, backspace goes back),
               then a workload's suggested NetworkPolicy (in the flows, pgdn
               and G scroll down to it)
  3 Threats    findings filtered by STRIDE letter (s t r i d e), severity (v),
               namespace (n), status (x) and text (/), sorted by o; the detail
               pane shows evidence, mitigation, attack path and triage history.
               Triage in place: a accept, m mitigated, f false positive,
               u reopen — type the reason, enter records it in the store.
  4 Questions  review questions, answered with y, p, n or x (n/a) and a note
  5 Drift      what changed since the previous scan of the same target:
               elements, flows, boundaries, controls (evidence on both sides),
               findings and attack paths, each + added, - removed, ~ changed;
               o and n pick the old and new scan (of another target only when
               picked twice), s shows one section, enter the detail, m the
               element or flow on the Map

tab switches pages, ? lists every key, q quits. Decisions are signed with
$STRIDEMAP_USER, else the login name. "stridemap" with no arguments on a
terminal opens the same UI.`,
		Example: `  stridemap tui
  stridemap tui 3
  stridemap --db ci/stridemap.db tui`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runTUI(cmd.Context(), args)
		},
	}
}

// runRoot runs the TUI when stridemap is started with no arguments on a
// terminal, and prints the help otherwise, as before.
func (a *app) runRoot(cmd *cobra.Command, args []string) error {
	if len(args) == 0 && a.isTerminal(a.stdin) && a.isTerminal(a.stdout) {
		return a.runTUI(cmd.Context(), nil)
	}
	return cmd.Help()
}

func (a *app) runTUI(ctx context.Context, args []string) error {
	if !a.isTerminal(a.stdin) || !a.isTerminal(a.stdout) {
		return errors.New("stridemap tui needs a terminal on stdin and stdout; for scripts use stridemap findings, graph or triage")
	}
	s, err := a.readStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	var id int64
	if len(args) == 1 {
		if id, err = scanIDArg(ctx, s, args); err != nil {
			return err
		}
		if _, err := s.Scan(ctx, id); err != nil { // says which scans exist
			return err
		}
	}
	if err := tui.Run(ctx, s, tui.Options{ScanID: id}, a.stdin, a.stdout); err != nil {
		return fmt.Errorf("tui: %w", err)
	}
	return nil
}

func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && (isatty.IsTerminal(file.Fd()) || isatty.IsCygwinTerminal(file.Fd()))
}
