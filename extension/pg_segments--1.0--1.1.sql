-- pg_segments 1.0 -> 1.1 (ALTER EXTENSION pg_segments UPDATE TO '1.1').
--
-- Update scripts never alter tables: the catalog, the change feed and the membership relations
-- may be distributed or reference tables on Citus, where table DDL has to run through the
-- coordinator's DDL propagation. Table changes of a version are made by
-- segments.post_upgrade(), which the DBA runs after ALTER EXTENSION ... UPDATE (and which the
-- install script of a new installation runs itself, when no table can be distributed yet).
\echo Use "ALTER EXTENSION pg_segments UPDATE TO '1.1'" to load this file. \quit

-- Table changes this version needs that are not made yet, one row each: what it is and the
-- statement that makes it. dry_run => true only lists them.
CREATE FUNCTION segments._pending_table_changes()
RETURNS TABLE (change text, statement text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  -- 1.1: feed consumers read the rows of a segment above the last id they handled
  -- (LISTEN segments_changes gives the segment id), which the (segment_id, changed_at) index
  -- cannot bound. (segment_id, id) serves them and members_at() alike (ids and changed_at
  -- grow together), so it replaces that index and feed writes keep two indexes.
  SELECT 'index segments.changes_segment_id_idx on segments.changes (segment_id, id)',
         'CREATE INDEX changes_segment_id_idx ON segments.changes (segment_id, id)'
   WHERE pg_catalog.to_regclass('segments.changes_segment_id_idx') IS NULL
  UNION ALL
  SELECT 'index segments.changes_segment_idx (segment_id, changed_at) dropped',
         'DROP INDEX segments.changes_segment_idx'
   WHERE pg_catalog.to_regclass('segments.changes_segment_idx') IS NOT NULL
$$;

CREATE FUNCTION segments.post_upgrade(dry_run boolean DEFAULT false)
RETURNS TABLE (change text, done boolean)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  pending record;
BEGIN
  FOR pending IN SELECT * FROM segments._pending_table_changes() LOOP
    IF NOT dry_run THEN
      EXECUTE pending.statement;
    END IF;
    change := pending.change;
    done := NOT dry_run;
    RETURN NEXT;
  END LOOP;
END
$$;
COMMENT ON FUNCTION segments.post_upgrade(boolean) IS
  'pg_segments: makes the table changes of ALTER EXTENSION pg_segments UPDATE (run it after '
  'each update; on Citus, on the coordinator)';
REVOKE ALL ON FUNCTION segments._pending_table_changes() FROM PUBLIC;
REVOKE ALL ON FUNCTION segments.post_upgrade(boolean) FROM PUBLIC;

-- Installations with segments are told what is left to do.
DO $$
BEGIN
  IF EXISTS (SELECT FROM segments.segment) AND
     EXISTS (SELECT FROM segments._pending_table_changes()) THEN
    RAISE WARNING 'pg_segments 1.1 needs table changes that update scripts do not make'
      USING HINT = 'Run SELECT * FROM segments.post_upgrade(); (on Citus, on the coordinator).';
  END IF;
END
$$;
