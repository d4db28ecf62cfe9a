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

-- Changing a segment's definition recomputes its membership in the catalog's BEFORE triggers,
-- while the old definition is still in the catalog. Realtime segments over related rows that
-- those membership writes reach (through IN SEGMENT) wait for the AFTER triggers, where the new
-- definition is in place: in 1.0 they were recomputed at once with the old definitions, which
-- could undo the change in its own transaction.
CREATE FUNCTION segments._related_hold(object regclass) RETURNS void
  AS 'MODULE_PATHNAME', 'pgseg_related_hold' LANGUAGE C STRICT;
CREATE FUNCTION segments._related_release(object regclass) RETURNS void
  AS 'MODULE_PATHNAME', 'pgseg_related_release' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION segments._related_hold(regclass), segments._related_release(regclass)
  FROM PUBLIC;

-- BEFORE INSERT: check the definition and compute the first membership. Rows arriving with a
-- status other than 'pending' are restored definitions (pg_restore): their membership relation
-- and data are restored too, so nothing is computed.
CREATE OR REPLACE FUNCTION segments._segment_before_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  started timestamptz := clock_timestamp();
  result record;
BEGIN
  -- Only a superuser (pg_restore) may insert a definition as already computed; anyone else's
  -- row is checked and computed whatever status it carries.
  IF NEW.status IS DISTINCT FROM 'pending'
     AND (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = segments._outer_role()) THEN
    RETURN NEW;
  END IF;
  NEW.status := 'pending';
  PERFORM set_config('pg_segments.computed_' || NEW.id, 'yes', true);
  NEW := segments._normalize(NEW, NULL::segments.segment);
  PERFORM segments._related_hold(NEW.object);
  IF NEW.kind = 'realtime' AND NEW.active THEN
    PERFORM segments._lock_object(NEW.object);
    PERFORM segments._lock_related(NEW.filter, NEW.object);
  ELSIF NEW.active AND NEW.kind = 'scheduled' THEN
    -- No write of the table during the first computation (see _apply_refresh).
    PERFORM segments._lock_object(NEW.object);
  END IF;
  PERFORM segments._ensure_object(NEW.object);
  IF NOT NEW.active THEN
    NEW.status := 'skipped';
    NEW.status_detail := 'inactive';
  ELSIF NEW.kind = 'static' THEN
    NEW.status := 'ok';
    PERFORM segments._record_history(NEW.id, 0);
  ELSE
    result := segments._apply_refresh(NEW.id, NEW.object, NEW.filter, NEW.owner);
    NEW.status := 'ok';
    NEW.last_refresh_at := now();
    NEW.last_refresh_duration := clock_timestamp() - started;
    PERFORM segments._record_history(NEW.id, result.total);
  END IF;
  NEW.last_error := NULL;
  PERFORM segments._invalidate(NEW.object);
  RETURN NEW;
END
$$;

-- BEFORE UPDATE: check the change; a new filter or activation recomputes membership, a
-- deactivation ends it. Status and usage updates pass through untouched.
CREATE OR REPLACE FUNCTION segments._segment_before_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  started timestamptz := clock_timestamp();
  result record;
  cleared bigint;
  definition_changed boolean;
BEGIN
  definition_changed :=
    (NEW.name, NEW.system_name, NEW.external_id, NEW.description, NEW.object, NEW.kind,
     NEW.filter::text, NEW.active, NEW.tags, NEW.schedule, NEW.timezone, NEW.update_on_events,
     NEW.auto_disable_after, NEW.auto_disabled_at, NEW.activate_at, NEW.deactivate_at, NEW.owner,
     NEW.id)
    IS DISTINCT FROM
    (OLD.name, OLD.system_name, OLD.external_id, OLD.description, OLD.object, OLD.kind,
     OLD.filter::text, OLD.active, OLD.tags, OLD.schedule, OLD.timezone, OLD.update_on_events,
     OLD.auto_disable_after, OLD.auto_disabled_at, OLD.activate_at, OLD.deactivate_at, OLD.owner,
     OLD.id);
  IF NOT definition_changed THEN
    RETURN NEW;
  END IF;
  NEW := segments._normalize(NEW, OLD);
  PERFORM segments._related_hold(NEW.object);
  NEW.updated_at := now();
  IF NEW.kind = 'realtime' THEN
    PERFORM segments._lock_object(NEW.object);
    PERFORM segments._lock_related(NEW.filter, NEW.object);
  ELSIF OLD.active <> NEW.active OR NEW.filter::text IS DISTINCT FROM OLD.filter::text THEN
    -- Writers move the memberships of every kind of segment with their rows' keys, and delete
    -- them with their rows: a deactivation or a recomputation waits for them and holds them off
    -- (see _apply_refresh), or a member could be left behind.
    PERFORM segments._lock_object(NEW.object);
  END IF;
  IF NOT NEW.active THEN
    IF OLD.active THEN
      cleared := segments._clear_membership(NEW.id, NEW.object);
      IF NEW.kind = 'static' AND cleared > 0 THEN
        RAISE NOTICE 'static segment "%" lost its % members on deactivation',
                     NEW.system_name, cleared;
      END IF;
      PERFORM segments._record_history(NEW.id, 0);
    END IF;
    NEW.status := 'skipped';
    NEW.status_detail := 'inactive';
  ELSIF NEW.kind <> 'static' AND (NOT OLD.active OR NEW.filter::text <> OLD.filter::text) THEN
    result := segments._apply_refresh(NEW.id, NEW.object, NEW.filter, NEW.owner);
    NEW.status := 'ok';
    NEW.status_detail := NULL;
    NEW.last_error := NULL;
    NEW.last_refresh_at := now();
    NEW.last_refresh_duration := clock_timestamp() - started;
    PERFORM segments._record_history(NEW.id, result.total);
  ELSIF NOT OLD.active THEN
    NEW.status := 'ok';
    NEW.status_detail := NULL;
    NEW.last_error := NULL;
  END IF;
  PERFORM segments._invalidate(NEW.object);
  RETURN NEW;
END
$$;

-- BEFORE DELETE: the segment's members leave it (written to the feed, so consumers see them
-- go) and its history goes; never the object's rows.
CREATE OR REPLACE FUNCTION segments._segment_before_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  entry segments.object;
  referrers text := segments._referrers(OLD.system_name);
BEGIN
  IF referrers IS NOT NULL THEN
    RAISE EXCEPTION 'cannot drop segment "%" because other segments depend on it', OLD.system_name
      USING ERRCODE = 'dependent_objects_still_exist',
            DETAIL = format('Segments with IN SEGMENT %L: %s.', OLD.system_name, referrers),
            HINT = 'Change or drop those segments first.';
  END IF;
  PERFORM segments._related_hold(OLD.object);
  -- Writers move the memberships of every kind of segment with their rows' keys: a drop waits
  -- for them, or a key moved meanwhile would leave a member of a segment that is gone.
  PERFORM segments._lock_object(OLD.object);
  SELECT * INTO entry FROM segments.object o WHERE o.object = OLD.object;
  IF FOUND AND to_regclass(entry.membership::text) IS NOT NULL THEN
    PERFORM segments._clear_membership(OLD.id, OLD.object);
  END IF;
  DELETE FROM segments.history h WHERE h.segment_id = OLD.id;
  DELETE FROM segments.event_marks m WHERE m.segment_id = OLD.id;
  DELETE FROM segments.related_rechecks r WHERE r.segment_id = OLD.id;
  RETURN OLD;
END
$$;

-- AFTER DELETE: an object without segments loses its membership relation and triggers.
CREATE OR REPLACE FUNCTION segments._segment_after_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM segments._related_release(OLD.object);
  IF OLD.kind = 'realtime' THEN
    PERFORM segments._sync_related(OLD.object);
  END IF;
  PERFORM segments._drop_object_if_unused(OLD.object);
  PERFORM segments._invalidate(OLD.object);
  RETURN NULL;
END
$$;

-- AFTER INSERT OR UPDATE: a relative-time realtime segment that is new, newly active or has a
-- new filter adds its rows' recheck times (the new definition is visible here). Times left by
-- segments that are gone or changed only cause early, harmless rechecks.
CREATE OR REPLACE FUNCTION segments._segment_after_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM segments._related_release(NEW.object);
  IF TG_OP = 'INSERT'
     AND current_setting('pg_segments.computed_' || NEW.id, true) IS DISTINCT FROM 'yes' THEN
    RETURN NULL;  -- a restored definition: its recheck times are restored too
  END IF;
  IF NEW.kind = 'realtime' AND NEW.active AND segments._is_time_relative(NEW.filter)
     AND (TG_OP = 'INSERT' OR NOT OLD.active OR NEW.filter::text <> OLD.filter::text) THEN
    PERFORM segments._merge_rechecks(NEW.object, NEW.id);
  END IF;
  -- Realtime segments over related rows: triggers on the tables they read.
  IF NEW.kind = 'realtime'
     AND (TG_OP = 'INSERT' OR NEW.active <> OLD.active OR NEW.filter::text <> OLD.filter::text) THEN
    PERFORM segments._sync_related(NEW.object);
    DELETE FROM segments.related_rechecks r WHERE r.segment_id = NEW.id;
    IF NEW.active AND segments._is_time_relative(NEW.filter)
       AND segments._is_related(NEW.filter, NEW.object) THEN
      PERFORM segments._related_due_all(NEW.object, NEW.id);
    END IF;
  END IF;
  RETURN NULL;
END
$$;

-- A row deleted while a refresh runs no longer stays a member (1.0 could leave it in a
-- scheduled segment until the next refresh): definition changes of every kind of segment hold
-- the table (as realtime ones did), other refreshes lock the rows they add.
-- Refreshes of objects with integer keys compare the keys in memory.
-- A refresh compared in memory: the statements segments._apply_refresh builds (see
-- src/pg/key_diff.hpp); {added, removed, total}, or NULL, having written nothing, when the
-- keys do not fit in max_bytes (at once when the object's estimated rows do not).
CREATE FUNCTION segments._refresh_by_integer_keys(read text, remove text, add text,
                                                  max_bytes bigint, estimated_rows float8)
  RETURNS bigint[]
  AS 'MODULE_PATHNAME', 'pgseg_refresh_by_integer_keys' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION segments._refresh_by_integer_keys(text, text, text, bigint, float8)
  FROM PUBLIC;

-- Recomputes one segment's membership from one set-based read, after checking that its owner
-- may still read what it reads, writing only the difference (and its change feed).
CREATE OR REPLACE FUNCTION segments._apply_refresh(segment bigint, object regclass,
                                        filter segments.segment_filter, owner regrole,
                                        OUT added bigint, OUT removed bigint, OUT total bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
-- Parallel workers may read for a refresh even though every key it returns passes through the
-- leader: the filter's evaluation is what they share. (The setting also reaches the refresh's
-- writes and the triggers they fire, which have no parallel plans.)
SET enable_hashjoin = off SET parallel_tuple_cost = 0.001 AS $$
DECLARE
  entry segments.object;
  equals text;
  target text;
  held text;
  locked boolean;
  new_members text;
  counts bigint[];
  caller_work_mem text := current_setting('work_mem');
BEGIN
  entry := segments._ensure_object(object);
  equals := segments._key_equals(entry.key_type);
  -- The owner's rights decide what the segment may read; the statements themselves write the
  -- extension's tables, which nobody else may write.
  PERFORM segments._check_readable(owner, object, filter);
  target := format('SELECT o.%I AS member FROM %s AS o WHERE %s',
                   entry.key_column, object, segments.to_sql(filter, object));
  held := format('SELECT m.member FROM %s AS m WHERE m.segment_id OPERATOR(pg_catalog.=) %s',
                 entry.membership, segment);
  -- Hash tables and sorts get room (at least 64MB, as for a batch job), for this refresh only.
  IF pg_size_bytes(caller_work_mem) < 64 * 1024 * 1024 THEN
    PERFORM set_config('work_mem', '64MB', true);
  END IF;
  -- A row deleted while the refresh runs must not stay a member. Definition changes hold the
  -- table in SHARE ROW EXCLUSIVE mode (no writer runs meanwhile); other refreshes lock the
  -- rows they add FOR KEY SHARE (a row deleted meanwhile is left out, or its deletion waits for
  -- this transaction and then removes the new membership too).
  locked := EXISTS (SELECT 1 FROM pg_locks l
                     WHERE l.locktype = 'relation' AND l.relation = object::oid
                       AND l.pid = pg_backend_pid() AND l.granted
                       AND l.mode IN ('ShareRowExclusiveLock', 'ExclusiveLock',
                                      'AccessExclusiveLock'));

  IF entry.key_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
    -- Integer keys: both sets are read by one query and compared in memory, so a refresh
    -- that changes nothing joins nothing and sorts nothing in SQL (a 50% filter over
    -- 1,000,000 rows: 183 to 271 ms instead of 349, bench/refresh_bench.sh). The keys to
    -- write arrive sorted.
    IF locked THEN
      new_members := format('SELECT k.member FROM pg_catalog.unnest($1::%s[]) AS k (member)',
                            entry.key_type);
    ELSE
      new_members := format(
        'SELECT o.%1$I FROM %2$s AS o WHERE o.%1$I IN (SELECT pg_catalog.unnest($1::%3$s[])) '
        'ORDER BY 1 FOR KEY SHARE OF o', entry.key_column, object, entry.key_type);
    END IF;
    counts := segments._refresh_by_integer_keys(
      format('SELECT h.member::pg_catalog.int8, 1 FROM (%s) AS h UNION ALL '
             'SELECT t.member::pg_catalog.int8, 2 FROM (%s) AS t', held, target),
      format($sql$
        WITH removed AS (DELETE FROM %1$s AS m USING pg_catalog.unnest($1::%3$s[]) AS k (member)
                          WHERE m.segment_id OPERATOR(pg_catalog.=) %2$s
                            AND m.member OPERATOR(pg_catalog.=) k.member
                         RETURNING m.member),
             feed AS (INSERT INTO segments.changes (segment_id, member, change)
                      SELECT %2$s, removed.member::pg_catalog.text, 'exited' FROM removed)
        SELECT pg_catalog.count(*) FROM removed
        $sql$, entry.membership, segment, entry.key_type),
      format($sql$
        WITH added AS (INSERT INTO %1$s (segment_id, member)
                       SELECT %2$s, k.member FROM (%3$s) AS k (member)
                       RETURNING member),
             feed AS (INSERT INTO segments.changes (segment_id, member, change)
                      SELECT %2$s, added.member::pg_catalog.text, 'entered' FROM added)
        SELECT pg_catalog.count(*) FROM added
        $sql$, entry.membership, segment, new_members),
      pg_size_bytes(current_setting('work_mem')),
      (SELECT c.reltuples FROM pg_class c WHERE c.oid = object));
    IF counts IS NOT NULL THEN
      added := counts[1];
      removed := counts[2];
      total := counts[3];
    END IF;
  END IF;

  IF counts IS NULL THEN
    -- Other keys, or more than fit in memory: the comparison is a merge join with the
    -- membership's (segment_id, member) index (sorting the new keys costs less than hashing
    -- both sides: 383 ms instead of 528 for the 50% refresh above).
    IF locked THEN
      new_members := 'SELECT diff.new_member FROM diff WHERE diff.old_member IS NULL ORDER BY 1';
    ELSE
      new_members := format(
        'SELECT o.%1$I FROM %2$s AS o WHERE o.%1$I IN (SELECT diff.new_member FROM diff '
        'WHERE diff.old_member IS NULL) ORDER BY 1 FOR KEY SHARE OF o', entry.key_column, object);
    END IF;
    counts := segments._execute_as(0::oid::regrole, format($sql$
      WITH target AS (%1$s),
           held AS (%2$s),
           diff AS (SELECT t.member AS new_member, h.member AS old_member
                      FROM target t FULL JOIN held h ON t.member %5$s h.member
                     WHERE t.member IS NULL OR h.member IS NULL),
           removed AS (DELETE FROM %3$s AS m USING diff
                        WHERE m.segment_id OPERATOR(pg_catalog.=) %4$s AND diff.new_member IS NULL
                          AND m.member %5$s diff.old_member
                       RETURNING m.member),
           -- In key order: both indexes are written in sequence.
           added AS (INSERT INTO %3$s (segment_id, member)
                     SELECT %4$s, k.member FROM (%6$s) AS k (member)
                     RETURNING member),
           feed AS (INSERT INTO segments.changes (segment_id, member, change)
                    SELECT %4$s, removed.member::pg_catalog.text, 'exited' FROM removed
                    UNION ALL
                    SELECT %4$s, added.member::pg_catalog.text, 'entered' FROM added)
      SELECT (SELECT pg_catalog.count(*) FROM added), (SELECT pg_catalog.count(*) FROM removed),
             (SELECT pg_catalog.count(*) FROM %3$s AS m
               WHERE m.segment_id OPERATOR(pg_catalog.=) %4$s)
      $sql$, target, held, entry.membership, segment, equals, new_members));
    added := counts[1];
    removed := counts[2];
    -- The count in the statement saw the membership before the statement's own writes.
    total := counts[3] + counts[1] - counts[2];
  END IF;
  PERFORM set_config('work_mem', caller_work_mem, true);
  IF added + removed > 0 THEN
    PERFORM pg_notify('segments_changes', segment::text);
  END IF;
END
$$;

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
