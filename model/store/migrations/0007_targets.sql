-- 0007: the target each scan looked at.
--
-- target is discover.Target's canonical key (JSON: resolved paths,
-- kustomizations, or an API server with its context and namespaces), so
-- "the previous scan" and drift compare scans of the same thing. Scans
-- stored before have NULL here: they are read with a target derived from
-- their sources when those named absolute paths, else an unknown one ('').

ALTER TABLE scans ADD COLUMN target TEXT;

CREATE INDEX scans_target ON scans (target, id);
