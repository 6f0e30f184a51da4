-- 0001: one row per scan, and the inventory index and graph of each scan.
--
-- Every element table is keyed by (scan_id, ord): ord is the element's
-- position in the slice it came from, so a graph reads back in the order it
-- was saved. Elements that have an ID are also unique on (scan_id, id), the
-- index later tables (findings, triage, drift) join on. The scalar columns
-- are copies of the fields queries filter on; data holds the whole element
-- as encoding/json wrote it and is the only column read back into Go.
-- Deleting a scan deletes its rows everywhere (ON DELETE CASCADE).

CREATE TABLE scans (
    id            INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: findings and triage refer to it
    started_at    TEXT    NOT NULL,                  -- RFC 3339, UTC, nanoseconds
    finished_at   TEXT    NOT NULL,
    tool_version  TEXT    NOT NULL,
    partial       INTEGER NOT NULL CHECK (partial IN (0, 1)),
    n_objects     INTEGER NOT NULL,
    n_nodes       INTEGER NOT NULL,
    n_edges       INTEGER NOT NULL,
    n_boundaries  INTEGER NOT NULL,
    n_controls    INTEGER NOT NULL,
    n_dangling    INTEGER NOT NULL,
    n_problems    INTEGER NOT NULL,
    n_errors      INTEGER NOT NULL,
    n_exposed     INTEGER NOT NULL,
    nodes_by_type TEXT    NOT NULL                   -- JSON object: node type -> count
) STRICT;

CREATE TABLE sources (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    path    TEXT    NOT NULL,
    sha256  TEXT    NOT NULL,
    data    TEXT    NOT NULL,
    PRIMARY KEY (scan_id, ord)
) STRICT;

-- The inventory's index: names and locations, never object content.
CREATE TABLE objects (
    scan_id     INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord         INTEGER NOT NULL,
    api_version TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    namespace   TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    file        TEXT    NOT NULL,
    line        INTEGER NOT NULL,
    PRIMARY KEY (scan_id, ord)
) STRICT;

CREATE TABLE problems (
    scan_id  INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord      INTEGER NOT NULL,
    severity TEXT    NOT NULL,
    code     TEXT    NOT NULL,
    file     TEXT    NOT NULL,
    line     INTEGER NOT NULL,
    object   TEXT    NOT NULL,
    data     TEXT    NOT NULL,
    PRIMARY KEY (scan_id, ord)
) STRICT;

CREATE TABLE nodes (
    scan_id   INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord       INTEGER NOT NULL,
    id        TEXT    NOT NULL,
    type      TEXT    NOT NULL,
    namespace TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    data      TEXT    NOT NULL,
    PRIMARY KEY (scan_id, ord),
    UNIQUE (scan_id, id)
) STRICT;

CREATE TABLE edges (
    scan_id    INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord        INTEGER NOT NULL,
    id         TEXT    NOT NULL,
    from_id    TEXT    NOT NULL,
    to_id      TEXT    NOT NULL,
    port       INTEGER NOT NULL,
    protocol   TEXT    NOT NULL,
    encryption TEXT    NOT NULL,
    declared   INTEGER NOT NULL CHECK (declared IN (0, 1)),
    observed   INTEGER NOT NULL CHECK (observed IN (0, 1)),
    data       TEXT    NOT NULL,
    PRIMARY KEY (scan_id, ord),
    UNIQUE (scan_id, id)
) STRICT;

CREATE TABLE boundaries (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    id      TEXT    NOT NULL,
    type    TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    parent  TEXT    NOT NULL,
    data    TEXT    NOT NULL, -- includes the member node IDs
    PRIMARY KEY (scan_id, ord),
    UNIQUE (scan_id, id)
) STRICT;

CREATE TABLE controls (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    id      TEXT    NOT NULL,
    type    TEXT    NOT NULL,
    target  TEXT    NOT NULL,
    data    TEXT    NOT NULL,
    PRIMARY KEY (scan_id, ord),
    UNIQUE (scan_id, id)
) STRICT;

-- Dangling references have no ID of their own; (scan_id, ord) is their key.
CREATE TABLE dangling (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    from_id TEXT    NOT NULL,
    target  TEXT    NOT NULL,
    reason  TEXT    NOT NULL,
    data    TEXT    NOT NULL,
    PRIMARY KEY (scan_id, ord)
) STRICT;
