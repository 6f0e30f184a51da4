package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

type diffOptions struct {
	format    string
	output    string
	failOn    string
	anyTarget bool
}

func (a *app) diffCommand() *cobra.Command {
	var opts diffOptions
	cmd := &cobra.Command{
		Use:   "diff [OLD] [NEW]",
		Short: "Show what changed between two scans of the same target",
		Long: `Show the drift between two scans: elements added, removed and changed (type,
images and digests, exposure to the internet, service account, security
context, data classification), flows added, removed and changed (declared or
observed, port, protocol, encryption, NetworkPolicy verdict), trust boundaries
and their members, controls gained and lost with their evidence, findings new,
fixed, changed in severity or no longer assessed (a coverage gap of the later
scan hides them: not fixed, not known), with their triage, and attack paths
new and closed.

With no arguments, the latest scan is compared with the previous scan of the
same target (the same resolved paths or kustomizations, or the same API server,
context and namespaces). OLD and NEW are each a scan number, latest, previous
(the scan before the other side, of its target) or a date YYYY-MM-DD (the last
scan started on or before that day, of the other side's target when it has
one). Scans of different targets are compared only with --any-target.

  --format table  for reading in a terminal: the default when stdout is one
  --format json   versioned JSON, schema in docs/diff-json.md: the default
                  when stdout is not a terminal
  --format md     Markdown, for a pull request

For CI: with --fail-on SEVERITY the command exits 1 when a new open
(untriaged) finding is at or above SEVERITY. Exit codes: 0 ok, 1 new
findings at or above --fail-on, 2 usage error or nothing to compare.`,
		Example: `  stridemap diff                   # the latest scan against the previous one of its target
  stridemap diff 3                 # scan 3 against the latest
  stridemap diff 3 7 --format md > changes.md
  stridemap diff 2026-01-31 latest --fail-on high`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.format == "" {
				opts.format = "json"
				if opts.output == "" && a.isTerminal(a.stdout) {
					opts.format = "table"
				}
			}
			var err error
			if opts.format, err = choice("--format", opts.format, "table", "json", "md"); err != nil {
				return err
			}
			if opts.failOn != "" {
				if _, err := threats.ParseSeverity(opts.failOn); err != nil {
					return fmt.Errorf("--fail-on: %w", err)
				}
			}
			return a.runDiff(cmd.Context(), args, opts)
		},
	}
	cmd.Flags().StringVar(&opts.format, "format", "", "output format: table, json or md (default table on a terminal, else json)")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "write to this file instead of stdout")
	cmd.Flags().StringVar(&opts.failOn, "fail-on", "", "exit 1 when a new open finding is at or above this severity: low, medium, high, critical")
	cmd.Flags().BoolVar(&opts.anyTarget, "any-target", false, "compare scans of different targets (two apps, two clusters)")
	return cmd
}

func (a *app) runDiff(ctx context.Context, args []string, opts diffOptions) error {
	s, err := a.readStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	scans, err := s.Scans(ctx)
	if err != nil {
		return err
	}
	if len(scans) == 0 {
		return &exitError{code: exitUsage, message: "no scans in " + safetext.Text(s.Path()) + " yet; run `stridemap scan -f DIR` first"}
	}
	old, new, err := pickPair(scans, args)
	if err != nil {
		return &exitError{code: exitUsage, message: safetext.Text(err.Error())}
	}
	if err := comparable(old, new, opts.anyTarget); err != nil {
		return err
	}
	drift, err := threats.CompareStored(ctx, s, old.ID, new.ID)
	if err != nil {
		return err
	}
	diff := export.BuildDiff(old, new, drift)
	err = writeOutput(a.stdout, opts.output, func(w io.Writer) error {
		switch opts.format {
		case "table":
			return export.WriteDiffText(w, diff)
		case "md":
			return export.WriteDiffMarkdown(w, diff)
		}
		return export.WriteDiffJSON(w, diff)
	})
	if err != nil {
		return err
	}
	if opts.failOn != "" {
		min, _ := threats.ParseSeverity(opts.failOn)
		if found := drift.NewAtOrAbove(min); len(found) > 0 {
			ids := make([]string, len(found))
			for i, f := range found {
				ids[i] = f.ID
			}
			return &exitError{code: exitFindings, message: safetext.Text(fmt.Sprintf("%d new open finding(s) at or above %s since scan %d (--fail-on): %s",
				len(found), min, old.ID, wordList(ids, "and")))}
		}
	}
	return nil
}

// comparable refuses a pair of scans that has no drift worth showing: a
// scan with itself, or scans of different targets unless anyTarget.
func comparable(old, new store.ScanInfo, anyTarget bool) error {
	if old.ID == new.ID {
		return &exitError{code: exitUsage, message: fmt.Sprintf("scan %d diffed with itself: name two different scans (`stridemap scans` lists them)", old.ID)}
	}
	known := !old.Target.IsZero() && !new.Target.IsZero()
	if known && !old.Target.Same(new.Target) && !anyTarget {
		return &exitError{code: exitUsage, message: safetext.Text(fmt.Sprintf("scans %d and %d are of different targets (%s; %s): pass --any-target to compare them anyway",
			old.ID, new.ID, old.Target, new.Target))}
	}
	return nil
}

// pickPair resolves OLD and NEW. Names that stand alone (numbers, latest)
// are resolved first, then those relative to the other side (previous, a
// date); NEW defaults to latest and OLD to previous.
func pickPair(scans []store.ScanInfo, args []string) (old, new store.ScanInfo, err error) {
	names := []string{"previous", "latest"}
	copy(names, args)
	if len(args) == 1 {
		names[1] = "latest"
	}
	var picked [2]*store.ScanInfo
	order := []int{1, 0}
	if !isAbsolute(names[1]) && isAbsolute(names[0]) {
		order = []int{0, 1}
	}
	for _, i := range order {
		other := picked[1-i]
		sc, err := store.Pick(scans, names[i], other)
		if err != nil {
			return old, new, err
		}
		picked[i] = &sc
	}
	return *picked[0], *picked[1], nil
}

// isAbsolute reports whether a scan name names one scan whatever the other
// side: a number or latest.
func isAbsolute(name string) bool {
	if name == "latest" {
		return true
	}
	return name != "" && !slices.ContainsFunc([]rune(name), func(r rune) bool { return r < '0' || r > '9' })
}
