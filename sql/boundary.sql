-- The C++ / PostgreSQL error boundary: C++ exceptions and PostgreSQL errors raised deep inside
-- C++ code become ordinary PostgreSQL errors with the right SQLSTATE, C++ destructors run, and
-- the session stays usable. The test entry points are in the library but not in the extension.
CREATE FUNCTION test_throw(kind text) RETURNS boolean
  AS '$libdir/pg_segments', 'pgseg_test_throw' LANGUAGE C STRICT;
CREATE FUNCTION test_postgres_error(query text) RETURNS boolean
  AS '$libdir/pg_segments', 'pgseg_test_postgres_error' LANGUAGE C STRICT;
CREATE FUNCTION test_destroyed() RETURNS integer
  AS '$libdir/pg_segments', 'pgseg_test_destroyed' LANGUAGE C STRICT;

SELECT test_destroyed() AS destroyed_before;

-- C++ exceptions of every kind.
SELECT test_throw('runtime_error');
\echo :LAST_ERROR_SQLSTATE
SELECT test_throw('core_error');
\echo :LAST_ERROR_SQLSTATE
SELECT test_throw('bad_alloc');
\echo :LAST_ERROR_SQLSTATE
SELECT test_throw('integer');
\echo :LAST_ERROR_SQLSTATE

-- PostgreSQL errors raised inside a guarded call, five C++ frames deep, keep their SQLSTATE.
SELECT test_postgres_error('SELECT 1/0');
\echo :LAST_ERROR_SQLSTATE
SELECT test_postgres_error('SELECT * FROM no_such_table');
\echo :LAST_ERROR_SQLSTATE
SELECT test_postgres_error('SELECT ''abc''::integer');
\echo :LAST_ERROR_SQLSTATE

-- Every C++ object on the unwound frames was destroyed (6 per call, 7 failing calls).
SELECT test_destroyed() AS destroyed_after;

-- The session is intact: plain queries, transactions and savepoints work.
SELECT 1 AS still_alive;
BEGIN;
SAVEPOINT s;
SELECT test_throw('core_error');
ROLLBACK TO SAVEPOINT s;
SELECT 'a = 1'::segments.segment_filter AS after_rollback_to_savepoint;
COMMIT;
SELECT test_postgres_error('SELECT 1') AS succeeds;

DROP FUNCTION test_throw(text);
DROP FUNCTION test_postgres_error(text);
DROP FUNCTION test_destroyed();
