-- 0004: coverage gaps and the rule verdicts they left open.
--
-- A gap is a kind a live scan could not read (forbidden, or failing), in
-- one namespace or everywhere; it belongs to the scan's graph. A rule whose
-- evidence lies in a gap is not assessed on the elements the gap covers:
-- those entries are kept apart from findings, so they never count towards
-- severities or a --fail-on gate. Stores written before have neither, and
-- read as scans without gaps.

CREATE TABLE gaps (
    scan_id   INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord       INTEGER NOT NULL,
    api_group TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    namespace TEXT    NOT NULL,
    reason    TEXT    NOT NULL,
    data      TEXT    NOT NULL,
    PRIMARY KEY (scan_id, ord)
) STRICT;

CREATE TABLE not_assessed (
    scan_id   INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    ord       INTEGER NOT NULL,
    rule_id   TEXT    NOT NULL,
    element   TEXT    NOT NULL,
    namespace TEXT    NOT NULL,
    data      TEXT    NOT NULL,
    PRIMARY KEY (scan_id, ord),
    UNIQUE (scan_id, rule_id, element)
) STRICT;

ALTER TABLE scans ADD COLUMN n_gaps INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN n_not_assessed INTEGER NOT NULL DEFAULT 0;
