-- 0005: what a scan's content hashes to, and when a re-scan last found it
-- unchanged.
--
-- A periodic re-scan (stridemap watch) stores a new scan only when the
-- architecture or the findings changed; an unchanged one just moves
-- confirmed_at, so the history holds changes, not ticks. Scans stored
-- before, or by scan, may have no row: they are never "unchanged".

CREATE TABLE scan_content (
    scan_id      INTEGER PRIMARY KEY REFERENCES scans (id) ON DELETE CASCADE,
    hash         TEXT NOT NULL, -- hex SHA-256 of the scan's graph and findings, without versions or times
    confirmed_at TEXT NOT NULL  -- RFC 3339, UTC: when a re-scan last found the same content
) STRICT;
