package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Content is what a scan's content hashes to, and when a re-scan last
// found that content unchanged.
type Content struct {
	Hash        string
	ConfirmedAt time.Time
}

// Content reads the content hash of scan id; ok is false for a scan stored
// without one (by a plain scan, or before watch existed) that no re-scan
// has confirmed.
func (s *Store) Content(ctx context.Context, id int64) (c Content, ok bool, err error) {
	err = s.read(ctx, func(tx *sql.Tx) error {
		if _, err := s.scanRow(ctx, tx, id); err != nil {
			return err
		}
		var confirmed string
		err := tx.QueryRowContext(ctx, `SELECT hash, confirmed_at FROM scan_content WHERE scan_id = ?`, id).Scan(&c.Hash, &confirmed)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		ok = true
		c.ConfirmedAt, err = parseTime(confirmed)
		return err
	})
	if err != nil {
		return Content{}, false, s.readErr(fmt.Sprintf("read the content hash of scan %d", id), err)
	}
	return c, ok, nil
}

// Confirm records that a re-scan at found scan id's content, which
// hashes to hash, unchanged. A scan stored without a hash gets this one;
// a scan stored with another is refused: it is not the content confirmed.
func (s *Store) Confirm(ctx context.Context, id int64, hash string, at time.Time) error {
	w, err := s.writer(ctx)
	if err != nil {
		return err
	}
	res, err := w.ExecContext(ctx, `INSERT INTO scan_content (scan_id, hash, confirmed_at) VALUES (?, ?, ?)
		ON CONFLICT (scan_id) DO UPDATE SET confirmed_at = excluded.confirmed_at WHERE hash = excluded.hash`,
		id, hash, formatTime(at))
	if err != nil {
		return fmt.Errorf("confirm scan %d in %s: %w", id, s.path, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("confirm scan %d in %s: its content hashes differently", id, s.path)
	}
	return nil
}
