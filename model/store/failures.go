package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/stridemap/stridemap/discover"
)

// Failure is a re-scan that failed and stored nothing (migration 0008).
type Failure struct {
	At time.Time
	// Target is what the scan would have recorded; zero when it could not
	// be told (a cluster never reached).
	Target discover.Target
	// Message is the error, on one line and at most MaxFailureMessage runes.
	Message string
}

// MaxFailureMessage bounds a recorded message, so a failing watch cannot
// fill the store with one source's long error text.
const MaxFailureMessage = 400

// FailedRescans are the failures of one target since its latest scan was
// stored or last confirmed: what a watch has not managed to see since.
type FailedRescans struct {
	Target discover.Target
	Since  int64 // the target's latest scan; 0 when none is stored
	Count  int
	Last   Failure
}

// RecordFailure stores a failed re-scan. The message is made one line and
// cut to MaxFailureMessage runes.
func (s *Store) RecordFailure(ctx context.Context, f Failure) error {
	w, err := s.writer(ctx)
	if err != nil {
		return err
	}
	_, err = w.ExecContext(ctx, `INSERT INTO rescan_failures (at, target, message) VALUES (?, ?, ?)`,
		formatTime(f.At), f.Target.Key(), oneLine(f.Message, MaxFailureMessage))
	if err != nil {
		return fmt.Errorf("record a failed re-scan in %s: %w", s.path, err)
	}
	return nil
}

// Failures lists the recorded failures, newest first, at most limit.
func (s *Store) Failures(ctx context.Context, limit int) ([]Failure, error) {
	var out []Failure
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT at, target, message FROM rescan_failures ORDER BY id DESC LIMIT ?`, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			f, err := failure(rows)
			if err != nil {
				return err
			}
			out = append(out, f)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.readErr("read failed re-scans", err)
	}
	return out, nil
}

// FailedSinceLatest groups, per target, the failures recorded after the
// target's latest scan was stored or last confirmed by a re-scan, the
// target with the latest failure first. A target whose re-scans succeed
// again has none.
func (s *Store) FailedSinceLatest(ctx context.Context) ([]FailedRescans, error) {
	var out []FailedRescans
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			WITH latest AS (
				SELECT coalesce(s.target, '') AS target, s.id AS scan_id,
					max(s.finished_at, coalesce(c.confirmed_at, '')) AS seen
				FROM scans s LEFT JOIN scan_content c ON c.scan_id = s.id
				WHERE s.id IN (SELECT max(id) FROM scans GROUP BY coalesce(target, ''))
			)
			SELECT coalesce(l.scan_id, 0), count(*), max(f.id)
			FROM rescan_failures f LEFT JOIN latest l ON l.target = f.target
			WHERE l.seen IS NULL OR f.at > l.seen
			GROUP BY f.target
			ORDER BY max(f.id) DESC`)
		if err != nil {
			return err
		}
		defer rows.Close()
		var last []int64
		for rows.Next() {
			var g FailedRescans
			var id int64
			if err := rows.Scan(&g.Since, &g.Count, &id); err != nil {
				return err
			}
			out, last = append(out, g), append(last, id)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i, id := range last {
			row := tx.QueryRowContext(ctx, `SELECT at, target, message FROM rescan_failures WHERE id = ?`, id)
			if out[i].Last, err = failure(row); err != nil {
				return err
			}
			out[i].Target = out[i].Last.Target
		}
		return nil
	})
	if err != nil {
		return nil, s.readErr("read failed re-scans", err)
	}
	return out, nil
}

func failure(row interface{ Scan(...any) error }) (Failure, error) {
	var f Failure
	var at, target string
	if err := row.Scan(&at, &target, &f.Message); err != nil {
		return f, err
	}
	var err error
	if f.At, err = parseTime(at); err != nil {
		return f, fmt.Errorf("failed re-scan time: %w", err)
	}
	if f.Target, err = discover.ParseTarget(target); err != nil {
		return f, fmt.Errorf("failed re-scan target: %w", err)
	}
	return f, nil
}

// oneLine is s with each run of spaces and control characters made one
// space, cut to at most limit runes (the last one "…" when cut).
func oneLine(s string, limit int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if r := []rune(s); len(r) > limit {
		return string(r[:limit-1]) + "…"
	}
	return s
}
