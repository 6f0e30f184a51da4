package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model/store"
)

// exitDamaged is what store check returns for a damaged store, and store
// recover when some scans could not be copied whole.
const exitDamaged = 1

func (a *app) storeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Check, recover or upgrade the store (the SQLite file of scans)",
		Long: `Look after the store named by --db (default ` + store.DefaultPath + `).

Commands that only read (scans, findings, graph, report, tui…) open the store
read-only: they work on a read-only file or directory and beside a running
scan, and never change the file. Commands that write (scan, watch, triage,
scans prune) check it first and refuse a damaged store, so nothing is written
into it.

  check    runs SQLite's full integrity check and reads every scan back
  recover  copies every scan that can still be read into a new store
  migrate  upgrades a store an older stridemap wrote`,
		Args: cobra.NoArgs,
		RunE: unknownCommand,
	}
	cmd.AddCommand(a.storeCheckCommand(), a.storeRecoverCommand(), a.storeMigrateCommand())
	return cmd
}

func (a *app) storeCheckCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check the store's integrity and read every scan back",
		Long: `Run SQLite's full integrity check on the store and read every scan back
(graph, findings, problems, objects). It only reads.

Exit status: 0 when the store is sound and every scan reads, 1 when it is
damaged (then run "stridemap store recover -o NEW.db"), 2 when it cannot be
opened at all.`,
		Example: `  stridemap store check
  stridemap store check --db /backups/stridemap.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.readStore(cmd.Context())
			if errors.Is(err, store.ErrDamaged) {
				return &exitError{code: exitDamaged, message: safetext.Text(err.Error())}
			}
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.Check(cmd.Context())
			if err != nil {
				return &exitError{code: exitDamaged, message: safetext.Text(err.Error())}
			}
			path := safetext.Text(s.Path())
			if res.OK() {
				fmt.Fprintf(a.stdout, "Store %s is sound: %d scans, every one reads back.\n", path, len(res.Scans))
				return nil
			}
			fmt.Fprintf(a.stdout, "Store %s is damaged.\n", path)
			for _, msg := range res.Integrity {
				for line := range strings.Lines(msg) { // SQLite's first message holds several
					fmt.Fprintf(a.stdout, "  integrity: %s\n", safetext.Text(strings.TrimRight(line, "\n")))
				}
			}
			ids := make([]int64, 0, len(res.Unreadable))
			for id := range res.Unreadable {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			fmt.Fprintf(a.stdout, "%d of %d scans read back whole.\n", len(res.Scans)-len(ids), len(res.Scans))
			for _, id := range ids {
				fmt.Fprintf(a.stdout, "  scan %d: %s\n", id, safetext.Text(res.Unreadable[id].Error()))
			}
			return &exitError{code: exitDamaged, message: fmt.Sprintf("copy what can still be read into a new store with: stridemap store recover --db %s -o NEW.db", path)}
		},
	}
}

func (a *app) storeRecoverCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "recover -o NEW.db",
		Short: "Copy every scan that can still be read into a new store",
		Long: `Copy every scan of a damaged store that can still be read into a new store,
with its ID, its pin ("scans keep") and its content hash, and the triage
decisions, answers and failed re-scans. A scan some of whose rows cannot be
read is copied with the rest and a problem saying what was lost, so it shows
as partial. The damaged store is only read; NEW.db must not exist.

Then check the new store and put it in place of the damaged one, e.g.:
  stridemap store check --db NEW.db && mv NEW.db .stridemap/stridemap.db

Exit status: 0 when every scan was copied whole, 1 when some were copied in
part or not at all, 2 when nothing could be done.`,
		Example: `  stridemap store recover -o recovered.db
  stridemap store recover --db old/stridemap.db -o stridemap-recovered.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("store recover: name the new store with -o NEW.db")
			}
			s, err := a.readStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.Recover(cmd.Context(), out)
			if err != nil {
				return errors.New(safetext.Text(err.Error()))
			}
			fmt.Fprintf(a.stdout, "Copied %d scans into %s", len(res.Copied), safetext.Text(out))
			if len(res.Incomplete) > 0 {
				fmt.Fprintf(a.stdout, " (%d in part: see their problems)", len(res.Incomplete))
			}
			fmt.Fprintf(a.stdout, "; %d triage decisions and answers, %d failed re-scans.\n", res.Decisions, res.Failures)
			lost := make([]int64, 0, len(res.Lost))
			for id := range res.Lost {
				lost = append(lost, id)
			}
			slices.Sort(lost)
			for _, id := range lost {
				fmt.Fprintf(a.stdout, "  lost scan %d: %s\n", id, safetext.Text(res.Lost[id].Error()))
			}
			if res.DecisionsLost+res.FailuresLost > 0 {
				fmt.Fprintf(a.stdout, "  lost %d triage decisions or answers and %d failed re-scans\n", res.DecisionsLost, res.FailuresLost)
			}
			fmt.Fprintf(a.stdout, "Check it with: stridemap store check --db %s\n", safetext.Text(out))
			if len(lost)+len(res.Incomplete)+res.DecisionsLost+res.FailuresLost > 0 {
				return &exitError{code: exitDamaged}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "the new store to write (must not exist)")
	return cmd
}

func (a *app) storeMigrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Upgrade a store an older stridemap wrote",
		Long: `Bring the store's schema up to date with this stridemap. Commands that only
read never change the store, so they ask for this when an older stridemap
wrote it; a scan into the store upgrades it too. It needs write access, and
refuses a damaged store. A store already up to date is left as it is.`,
		Example: `  stridemap store migrate
  stridemap store migrate --db ci/stridemap.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := a.dbPath
			if path == "" {
				path = store.DefaultPath
			}
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return noStore(fmt.Errorf("%w at %s", store.ErrNoStore, path), "nothing to migrate; name the store with --db PATH")
			}
			s, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			fmt.Fprintf(a.stdout, "Store %s is up to date.\n", safetext.Text(s.Path()))
			return nil
		},
	}
}
