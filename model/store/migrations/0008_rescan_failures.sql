-- 0008: re-scans that failed.
--
-- A periodic re-scan (stridemap watch) whose source fails (an unreachable
-- cluster, a directory being rewritten) stores no scan, and its tick was
-- only reported on the terminal: a store read later could not tell a
-- quiet system from a watch that had been failing for a day. Each failure
-- is recorded here; "scans" lists those since the latest scan of their
-- target, and "scans prune" removes those older than the oldest scan it
-- keeps.

CREATE TABLE rescan_failures (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL, -- RFC 3339, UTC, sortable (as scans.finished_at)
    target  TEXT NOT NULL, -- discover.Target's key as the scan would have recorded it; '' when unknown
    message TEXT NOT NULL  -- the error, one line, bounded; errors carry no secret values
) STRICT;

CREATE INDEX rescan_failures_target ON rescan_failures (target, at);
