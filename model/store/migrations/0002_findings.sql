-- 0002: the findings of each scan, and the counts that summarise them.
--
-- data holds the finding as the threats package encoded it; the store does
-- not interpret it, so the finding's shape can grow without a migration.
-- Findings are unique per scan on their stable ID (rule@element), which is
-- what triage and drift join on across scans.

CREATE TABLE findings (
    scan_id   INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord       INTEGER NOT NULL,
    id        TEXT    NOT NULL,
    rule_id   TEXT    NOT NULL,
    stride    TEXT    NOT NULL,
    severity  TEXT    NOT NULL,
    element   TEXT    NOT NULL,
    namespace TEXT    NOT NULL,
    data      TEXT    NOT NULL,
    PRIMARY KEY (scan_id, ord),
    UNIQUE (scan_id, id)
) STRICT;

-- The text of each rule that produced findings (title, description,
-- mitigation, references), kept once per scan rather than once per
-- finding, as the catalog said it when the scan ran.
CREATE TABLE scan_rules (
    scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord     INTEGER NOT NULL,
    rule_id TEXT    NOT NULL,
    data    TEXT    NOT NULL,
    PRIMARY KEY (scan_id, ord),
    UNIQUE (scan_id, rule_id)
) STRICT;

ALTER TABLE scans ADD COLUMN n_findings INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN findings_by_severity TEXT NOT NULL DEFAULT '{}'; -- JSON object: severity -> count
ALTER TABLE scans ADD COLUMN catalog TEXT NOT NULL DEFAULT '';                -- which rules were evaluated, e.g. "builtin (84 rules) + ./my-rules"
