package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model/store"
)

func (a *app) scansCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "scans",
		Short: "List stored scans, newest first",
		Long: `List the scans kept in the store, newest first, with their sources and what
each found, and the target each looked at (the resolved paths or kustomizations,
or the API server, context and namespaces): "stridemap diff" compares the scans
of one target. Scans stay until "scans prune" removes them; a scan pinned with
"scans keep" stays for good. Under the table: the re-scans of stridemap watch
that failed since the latest scan of their target was stored or confirmed; in
JSON, that latest scan's FailedRescans (the count, and the last one's time and
error).`,
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
				out, err := scansJSON(cmd.Context(), s, scans)
				if err != nil {
					return err
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			cwd, _ := os.Getwd() // "" when unknown: targets are then shown whole
			if len(scans) == 0 {
				fmt.Fprintln(a.stdout, "No scans yet. Run: stridemap scan -f DIR")
				return a.writeFailedRescans(cmd.Context(), s, cwd)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tFINISHED\tOBJECTS\tNODES\tEDGES\tEXPOSED\tDANGLING\tSTATUS\tTARGET\tSOURCES")
			for _, sc := range scans {
				status := "complete"
				if sc.Partial {
					status = fmt.Sprintf("partial (%d errors)", sc.Counts.Errors)
				}
				if sc.Kept {
					status += ", kept"
				}
				var sources []string
				for _, src := range sc.Sources {
					sources = append(sources, src.Path)
				}
				// Paths come from input: escaped for the terminal.
				fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", sc.ID, sc.FinishedAt.Local().Format(time.DateTime),
					sc.Counts.Objects, sc.Counts.Nodes, sc.Counts.Edges, sc.Counts.Exposed, sc.Counts.Dangling, status,
					safetext.Text(shortTarget(sc.Target.Short(cwd))), safetext.Text(strings.Join(sources, " ")))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return a.writeFailedRescans(cmd.Context(), s, cwd)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.AddCommand(a.scansPruneCommand(), a.scansKeepCommand(true), a.scansKeepCommand(false))
	return cmd
}

// scanJSON is a scan as scans --format json lists it.
type scanJSON struct {
	store.ScanInfo
	// FailedRescans is set on the latest scan of a target that stridemap
	// watch has failed to re-scan since it was stored or confirmed.
	FailedRescans *failedRescansJSON `json:",omitempty"`
}

// failedRescansJSON is how many re-scans failed, and the last of them.
type failedRescansJSON struct {
	Count int
	Last  struct {
		At      time.Time
		Message string
	}
}

// scansJSON pairs each scan with the failed re-scans of its target since.
func scansJSON(ctx context.Context, s *store.Store, scans []store.ScanInfo) ([]scanJSON, error) {
	failed, err := s.FailedSinceLatest(ctx)
	if err != nil {
		return nil, err
	}
	since := make(map[int64]*failedRescansJSON, len(failed))
	for _, f := range failed {
		if f.Since != 0 {
			j := &failedRescansJSON{Count: f.Count}
			j.Last.At, j.Last.Message = f.Last.At, f.Last.Message
			since[f.Since] = j
		}
	}
	out := make([]scanJSON, len(scans))
	for i, sc := range scans {
		out[i] = scanJSON{ScanInfo: sc, FailedRescans: since[sc.ID]}
	}
	return out, nil
}

// writeFailedRescans says, per target, how many re-scans failed since its
// latest scan, and the last error: a watch that stopped seeing its target
// shows here, not only on the terminal it ran on.
func (a *app) writeFailedRescans(ctx context.Context, s *store.Store, cwd string) error {
	failed, err := s.FailedSinceLatest(ctx)
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		fmt.Fprintln(a.stdout)
	}
	for _, f := range failed {
		since := fmt.Sprintf("since scan #%d", f.Since)
		if f.Since == 0 {
			since = "with no scan of it stored"
		}
		when := "at " + f.Last.At.Local().Format(time.DateTime)
		if f.Count > 1 {
			when = "the last " + when
		}
		// The target and the error come from input: escaped for the terminal.
		fmt.Fprintf(a.stdout, "watch: %s of %s failed %s, %s: %s\n", plural(f.Count, "re-scan"),
			safetext.Text(shortTarget(f.Target.Short(cwd))), since, when, safetext.Text(f.Last.Message))
	}
	return nil
}

func (a *app) scansPruneCommand() *cobra.Command {
	var keep int
	var olderThan string
	var dryRun, includeTriaged bool
	cmd := &cobra.Command{
		Use:   "prune --keep N | --older-than D",
		Short: "Remove old scans and hand their space back",
		Long: `Remove the scans beyond the newest N (--keep), or those finished before a
time (--older-than: a duration such as 30d or 12h, or a date YYYY-MM-DD), in
one transaction, then shrink the file. Never removed: the latest scan of
each target (a store shared by two apps or clusters keeps the latest of
each), a scan pinned with "scans keep" (as scan --baseline N pins its
baseline), and a scan a triage decision in force was made on (the newest
scan holding the finding when it was decided) unless --include-triaged.
Records of failed re-scans (stridemap watch) older than the oldest scan
kept go too.`,
		Example: `  stridemap scans prune --keep 30 --dry-run
  stridemap scans prune --older-than 90d
  stridemap scans keep 12   # a scan to keep whatever the policy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := store.PruneOptions{Keep: keep, DryRun: dryRun, IncludeTriaged: includeTriaged}
			keepSet, olderSet := cmd.Flags().Changed("keep"), cmd.Flags().Changed("older-than")
			switch {
			case keepSet && olderSet:
				return fmt.Errorf("prune by count (--keep) or by age (--older-than), not both")
			case !keepSet && !olderSet:
				return fmt.Errorf("say which scans go: --keep N (the newest N stay) or --older-than D (e.g. 30d, 12h or 2025-01-31)")
			case keepSet && keep < 1:
				return fmt.Errorf("--keep %d: keep at least 1 scan; the latest is never pruned", keep)
			case olderSet:
				before, err := parseAge(olderThan, time.Now())
				if err != nil {
					return err
				}
				opts.Before = before
			}
			s, err := a.readStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.Prune(cmd.Context(), opts)
			if err != nil {
				return err
			}
			verb := "Pruned"
			if dryRun {
				verb = "Would prune"
			}
			for _, sc := range res.Pruned {
				fmt.Fprintf(a.stdout, "%s scan %d (finished %s)\n", verb, sc.ID, sc.FinishedAt.Local().Format(time.DateTime))
			}
			for _, p := range res.Protected {
				fmt.Fprintf(a.stdout, "Kept scan %d: %s\n", p.ID, safetext.Text(p.Reason))
			}
			if res.Failures > 0 {
				fmt.Fprintf(a.stdout, "Removed %s older than the oldest scan kept.\n", plural(int(res.Failures), "failed re-scan record"))
			}
			switch {
			case len(res.Pruned) == 0:
				fmt.Fprintln(a.stdout, "No scan to prune.")
			case dryRun:
				fmt.Fprintf(a.stdout, "%d scan(s) would go; run again without --dry-run to remove them.\n", len(res.Pruned))
			default:
				fmt.Fprintf(a.stdout, "%d scan(s) removed, %s reclaimed.\n", len(res.Pruned), byteSize(res.Reclaimed))
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&keep, "keep", 0, "keep the newest N scans")
	cmd.Flags().StringVar(&olderThan, "older-than", "", "remove scans finished before this long ago (30d, 12h) or before a date (YYYY-MM-DD)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be removed, remove nothing")
	cmd.Flags().BoolVar(&includeTriaged, "include-triaged", false, "also remove scans triage decisions were made on")
	return cmd
}

// scansKeepCommand is "scans keep N" (pin) or "scans unkeep N".
func (a *app) scansKeepCommand(kept bool) *cobra.Command {
	use, short, done := "keep SCAN", "Pin a scan so prune never removes it", "kept: prune will not remove it"
	if !kept {
		use, short, done = "unkeep SCAN", "Unpin a scan pinned with scans keep", "no longer pinned"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.readStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			id, err := scanIDArg(cmd.Context(), s, args)
			if err != nil {
				return err
			}
			if err := s.SetKept(cmd.Context(), id, kept); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Scan %d %s\n", id, done)
			return nil
		},
	}
}

// parseAge reads --older-than: a duration back from now ("30d", "12h",
// "1d12h") or a date, midnight local time.
func parseAge(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return d, nil
	}
	bad := fmt.Errorf("--older-than %q: say a duration such as 30d or 12h, or a date YYYY-MM-DD", s)
	if s == "" {
		return time.Time{}, bad
	}
	rest, days := s, 0
	if before, after, ok := strings.Cut(s, "d"); ok {
		n, err := strconv.Atoi(before)
		if err != nil || n < 0 {
			return time.Time{}, bad
		}
		rest, days = after, n
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || d < 0 {
			return time.Time{}, bad
		}
	}
	return now.AddDate(0, 0, -days).Add(-d), nil
}

// byteSize prints n bytes in the unit a reader takes in at a glance.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
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
