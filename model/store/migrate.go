package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// applicationID marks a SQLite file as a stridemap store ("STRM"), so Open
// can refuse some other program's database instead of adding tables to it.
const applicationID = 0x5354524D

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered schema step: migrations/NNNN_what.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists the embedded migrations in order. It fails if the
// numbering has a gap or a duplicate, which is a build mistake, not a user
// one.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries { // ReadDir sorts by name, and names start with a zero-padded number
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", e.Name())
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s: expected number %d", e.Name(), len(ms)+1)
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return ms, nil
}

// migrate brings the schema up to date in one immediate transaction, so
// two stridemap processes opening a new store at once cannot both apply a
// migration, and a failed migration leaves the previous schema in place.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("open store %s: embedded migrations: %w", s.path, err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.openErr(err)
	}
	defer tx.Rollback()

	var version, appID, tables int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return s.openErr(err)
	}
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return s.openErr(err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
		return s.openErr(err)
	}
	switch {
	case appID != applicationID && (appID != 0 || version != 0 || tables != 0):
		return fmt.Errorf("open store %s: this SQLite file is not a stridemap store; pass another file with --db", s.path)
	case version > len(ms):
		return fmt.Errorf("open store %s: database was written by a newer stridemap (schema %d, this build knows %d); upgrade stridemap or use another --db", s.path, version, len(ms))
	case version == len(ms):
		return nil // up to date; the transaction only read
	}

	if tables == 0 {
		// Only a new file can take incremental auto-vacuum without a
		// VACUUM: it lets Prune hand space back without rewriting the file.
		if _, err := tx.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
			return s.openErr(err)
		}
	}
	for _, m := range ms[version:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("open store %s: apply migration %s: %w", s.path, m.name, err)
		}
	}
	// PRAGMA takes no parameters; both values are integers we control.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(ms))); err != nil {
		return s.openErr(err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return s.openErr(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("open store %s: commit schema migration: %w", s.path, err)
	}
	return nil
}

// openErr wraps a failure to read or initialise the file, which is almost
// always a path the user can fix.
func (s *Store) openErr(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("open store %s: %w", s.path, err)
	}
	return fmt.Errorf("open store %s: %w; check that it is a stridemap database in a writable directory, or pass another --db", s.path, err)
}
