package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNothingToPrune is returned by Prune when it is asked neither to keep
// a number of scans nor to drop scans older than a time.
var ErrNothingToPrune = errors.New("say which scans to prune")

// PruneOptions say which scans Prune removes: those beyond the Keep newest,
// or finished before Before; exactly one of the two is set.
type PruneOptions struct {
	Keep   int       // keep this many newest scans; 0 means not by count
	Before time.Time // prune scans finished before this; zero means not by age
	// IncludeTriaged lets Prune remove scans that triage decisions were
	// made on (see Protected).
	IncludeTriaged bool
	DryRun         bool // only say what would go
}

// Protected is a scan Prune would have removed but kept, and why.
type Protected struct {
	ID     int64
	Reason string // "latest", "latest of its target", "kept", or "triage of FINDING-ID"
}

// PruneResult is what Prune removed, or would remove on a dry run.
type PruneResult struct {
	Pruned    []ScanInfo  // newest first, without sources
	Protected []Protected // newest first
	// Failures is how many records of failed re-scans went with them:
	// those older than the oldest scan kept.
	Failures int64
	// Reclaimed is how much smaller the file became; 0 on a dry run.
	Reclaimed int64
}

// SetKept pins scan id ("scans keep"), so Prune never removes it, or
// unpins it. It returns an error wrapping ErrScanNotFound for an unknown
// scan.
func (s *Store) SetKept(ctx context.Context, id int64, kept bool) error {
	w, err := s.writer(ctx)
	if err != nil {
		return err
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return s.saveErr(err)
	}
	defer tx.Rollback()
	if _, err := s.scanRow(ctx, tx, id); err != nil {
		return s.readErr(fmt.Sprintf("mark scan %d", id), err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE scans SET kept = ? WHERE id = ?`, kept, id); err != nil {
		return fmt.Errorf("mark scan %d in %s: %w", id, s.path, err)
	}
	return tx.Commit()
}

// Prune removes the scans opts selects, in one transaction, except the
// latest scan of each target (a store shared by two apps keeps both),
// scans pinned with SetKept and, unless IncludeTriaged, scans
// triage decisions were made on. Triage is kept per finding ID for the
// whole store, not per scan; the scan a decision refers to is the newest
// scan holding that finding that had finished when the decision was
// recorded, the evidence the reviewer was looking at. Only decisions in
// force count. Records of failed re-scans older than the oldest scan kept
// go too, so a watch that keeps failing does not grow the store for good.
//
// After the transaction the space is handed back to the file system (see
// reclaim). A failure before the commit leaves every scan in place.
func (s *Store) Prune(ctx context.Context, opts PruneOptions) (PruneResult, error) {
	var res PruneResult
	switch {
	case opts.Keep < 0:
		return res, fmt.Errorf("%w: keep %d scans is not a number of scans; pass --keep 1 or more", ErrNothingToPrune, opts.Keep)
	case opts.Keep > 0 && !opts.Before.IsZero():
		return res, fmt.Errorf("%w: by count (--keep) or by age (--older-than), not both", ErrNothingToPrune)
	case opts.Keep == 0 && opts.Before.IsZero():
		return res, fmt.Errorf("%w: --keep N (the newest N stay) or --older-than D (e.g. 30d, or a date 2025-01-31)", ErrNothingToPrune)
	}
	w, err := s.writer(ctx)
	if err != nil {
		return res, err
	}
	before, err := fileSize(ctx, w)
	if err != nil {
		return res, s.pruneErr(err)
	}

	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return res, s.pruneErr(err)
	}
	defer tx.Rollback()
	if res, err = s.selectPrune(ctx, tx, opts); err != nil {
		return res, s.pruneErr(err)
	}
	if opts.DryRun {
		return res, nil
	}
	if len(res.Pruned) == 0 {
		if res.Failures, err = pruneFailures(ctx, tx); err != nil {
			return res, s.pruneErr(err)
		}
		return res, tx.Commit()
	}
	ids := make([]any, len(res.Pruned))
	for i, sc := range res.Pruned {
		ids[i] = sc.ID
	}
	// Rows of the scans go with them (ON DELETE CASCADE); content rows no
	// remaining scan refers to are deleted after.
	if _, err := tx.ExecContext(ctx, `DELETE FROM scans WHERE id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, ids...); err != nil {
		return res, s.pruneErr(err)
	}
	for _, table := range contentTables {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+`_content WHERE content_id NOT IN (SELECT content FROM `+table+`)`); err != nil {
			return res, s.pruneErr(fmt.Errorf("%s: %w", table, err))
		}
		if s.hook != nil {
			s.hook(table)
		}
	}
	if res.Failures, err = pruneFailures(ctx, tx); err != nil {
		return res, s.pruneErr(err)
	}
	if err := tx.Commit(); err != nil {
		return res, s.pruneErr(err)
	}
	if err := reclaim(ctx, w); err != nil {
		return res, fmt.Errorf("pruned %d scans from %s, but could not hand the space back: %w; the next prune tries again", len(res.Pruned), s.path, err)
	}
	after, err := fileSize(ctx, w)
	if err != nil {
		return res, s.pruneErr(err)
	}
	res.Reclaimed = max(0, before-after) // a prune that frees no page may still add one
	return res, nil
}

// contentTables are the element tables whose rows live once in
// table_content (migration 0006).
var contentTables = []string{"objects", "problems", "nodes", "edges", "boundaries", "controls", "dangling", "findings", "scan_rules", "gaps", "not_assessed"}

// selectPrune reads which scans opts selects and which of them stay.
func (s *Store) selectPrune(ctx context.Context, tx *sql.Tx, opts PruneOptions) (PruneResult, error) {
	var res PruneResult
	rows, err := tx.QueryContext(ctx, `SELECT `+scanColumns+` FROM scans ORDER BY id DESC`)
	if err != nil {
		return res, err
	}
	defer rows.Close()
	var scans []ScanInfo
	for rows.Next() {
		info, err := scanInfo(rows)
		if err != nil {
			return res, err
		}
		scans = append(scans, info)
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	triaged := map[int64]string{}
	if !opts.IncludeTriaged {
		if triaged, err = triagedScans(ctx, tx); err != nil {
			return res, err
		}
	}
	seen := map[string]bool{} // targets whose latest scan came already
	for i, sc := range scans {
		latestOfTarget := !seen[sc.Target.Key()]
		seen[sc.Target.Key()] = true
		selected := opts.Keep > 0 && i >= opts.Keep || !opts.Before.IsZero() && sc.FinishedAt.Before(opts.Before)
		if !selected {
			continue
		}
		switch {
		case i == 0:
			res.Protected = append(res.Protected, Protected{sc.ID, "latest"})
		case latestOfTarget:
			res.Protected = append(res.Protected, Protected{sc.ID, "latest of its target"})
		case sc.Kept:
			res.Protected = append(res.Protected, Protected{sc.ID, "kept"})
		case triaged[sc.ID] != "":
			res.Protected = append(res.Protected, Protected{sc.ID, "triage of " + triaged[sc.ID]})
		default:
			res.Pruned = append(res.Pruned, sc)
		}
	}
	return res, nil
}

// pruneFailures deletes the records of failed re-scans older than the
// oldest scan left, and says how many. With no scan left (a watch that
// never succeeded) they are all that tells what happened: they stay.
func pruneFailures(ctx context.Context, tx *sql.Tx) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM rescan_failures WHERE at < coalesce((SELECT min(finished_at) FROM scans), '')`)
	if err != nil {
		return 0, fmt.Errorf("remove old failed re-scans: %w", err)
	}
	return res.RowsAffected()
}

// triagedScans maps each scan a triage decision in force refers to (see
// Prune) to one of those findings, the smallest ID, for messages.
func triagedScans(ctx context.Context, tx *sql.Tx) (map[int64]string, error) {
	rows, err := tx.QueryContext(ctx, `
		WITH decision AS (
			SELECT t.finding_id, t.at FROM triage t
			JOIN (SELECT finding_id, max(seq) AS seq FROM triage GROUP BY finding_id) cur ON cur.seq = t.seq
		)
		SELECT d.finding_id, max(m.scan_id)
		FROM findings_content c, json_each(c.data, '$.findings') f
		JOIN decision d ON d.finding_id = coalesce(f.value ->> 'id', (f.value ->> 'rule') || '@' || c.element)
		JOIN findings m ON m.content = c.content_id
		JOIN scans s ON s.id = m.scan_id AND s.finished_at <= d.at
		GROUP BY d.finding_id`)
	if err != nil {
		return nil, fmt.Errorf("read which scans triage refers to: %w", err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var finding string
		var id int64
		if err := rows.Scan(&finding, &id); err != nil {
			return nil, err
		}
		if cur, ok := out[id]; !ok || finding < cur {
			out[id] = finding
		}
	}
	return out, rows.Err()
}

// reclaim hands free pages back to the file system. A store created with
// incremental auto-vacuum (every store since migration 0006) moves pages
// from the end of the file into the free ones, work proportional to what
// was freed. An older store is vacuumed whole once, which switches it to
// incremental auto-vacuum. Both run as a write transaction: in WAL mode
// readers go on reading the last committed state meanwhile.
func reclaim(ctx context.Context, w *sql.DB) error {
	var mode int
	if err := w.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return err
	}
	const incremental = 2
	if mode == incremental {
		// Each step of the statement frees one page: it must run to the end.
		rows, err := w.QueryContext(ctx, `PRAGMA incremental_vacuum`)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return err
		}
		return rows.Close()
	}
	// VACUUM copies the whole store into a temporary database, which the
	// writer's temp_store=MEMORY (see dsn) would hold in memory: it gets a
	// file instead, on the one connection the statements share.
	conn, err := w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, stmt := range []string{`PRAGMA auto_vacuum = INCREMENTAL`, `PRAGMA temp_store = FILE`, `VACUUM`} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA temp_store = MEMORY`)
			return err
		}
	}
	_, err = conn.ExecContext(ctx, `PRAGMA temp_store = MEMORY`)
	return err
}

// fileSize is the size of the database's pages, not counting the WAL.
func fileSize(ctx context.Context, w *sql.DB) (int64, error) {
	var pages, size int64
	if err := w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return 0, err
	}
	if err := w.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil {
		return 0, err
	}
	return pages * size, nil
}

func (s *Store) pruneErr(err error) error {
	if errors.Is(err, ErrNothingToPrune) {
		return err
	}
	return fmt.Errorf("prune scans in %s: %w; no scan was removed", s.path, err)
}
