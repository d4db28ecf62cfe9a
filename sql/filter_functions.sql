-- to_sql, matches and estimate over an object; validation of filters against it.
CREATE TYPE tier AS ENUM ('bronze', 'silver', 'gold', 'platinum');
CREATE TABLE customers (
  id bigint PRIMARY KEY,
  name text,
  email text,
  tier tier,
  country char(2),
  language text COLLATE "C",
  tags text[],
  attrs jsonb,
  lifetime_value numeric(12, 2),
  score double precision,
  opted_out boolean,
  created_at timestamptz,
  last_interaction_at timestamptz,
  birthday date,
  code uuid
);
INSERT INTO customers VALUES
  (1, 'Aisha', 'aisha@example.com', 'gold', 'OM', 'ar', '{vip,lead}',
   '{"interest": "enterprise", "plan": "pro", "visits": 12, "beta": true,
     "last_seen": "2026-11-01T10:00:00Z", "interests": ["ai", "crm"]}',
   750.00, 9.5, false, now() - interval '3 days', now() - interval '1 day', '1990-05-01',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
  (2, 'Omar', 'omar@corp.test', 'silver', 'AE', 'en', '{}',
   '{"interest": "smb", "visits": "12", "beta": "yes", "last_seen": "not a date"}',
   120.50, 'NaN', true, now() - interval '60 days', now() - interval '45 days', NULL, NULL),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 'Layla', 'LAYLA@EXAMPLE.COM', 'platinum', 'OM', 'ar', '{vip,NULL}',
   '[1, 2]', 99999.99, '-Infinity', false, now() + interval '2 days', now(), 'infinity', NULL);

-- to_sql: the WHERE clause, with every literal quoted and jsonb keys read without casts.
SELECT segments.to_sql('tier = ''gold'' AND country = ''OM''', 'customers');
SELECT segments.to_sql('tags CONTAINS ''vip'' AND language = ''ar''', 'customers');
SELECT segments.to_sql('last_interaction_at OLDER THAN 30 DAYS', 'customers');
SELECT segments.to_sql('attrs.interest = ''enterprise'' AND attrs.visits > 10 AND attrs.beta', 'customers');
SELECT segments.to_sql('(lifetime_value > 500 OR tier IN (''gold'', ''platinum'')) AND NOT opted_out', 'customers');
SELECT segments.to_sql('email ILIKE ''%@example.com'' AND name = ''it''''s'' AND name LIKE ''a\%''', 'customers');
SELECT segments.to_sql('score > 1.5 AND attrs.last_seen WITHIN LAST 30 DAYS', 'customers');
SELECT segments.to_sql('attrs.interests CONTAINS ANY (''ai'', ''ml'') AND tags NOT CONTAINS ALL (''a'', ''b"c'')', 'customers');

-- matches: true, false or NULL (unknown), exactly as the compiled SQL.
SELECT c.id,
       segments.matches(f, c) AS matches,
       (SELECT count(*) FROM customers x WHERE x.id = c.id AND segments.matches(f, x)) AS selected
FROM customers c, (VALUES ('tier = ''gold'' AND country = ''OM'''::segments.segment_filter)) AS t(f)
ORDER BY c.id;
SELECT f, array_agg(c.id ORDER BY c.id) FILTER (WHERE segments.matches(f::segments.segment_filter, c)) AS members,
          array_agg(c.id ORDER BY c.id) FILTER (WHERE segments.matches(f::segments.segment_filter, c) IS NULL) AS unknown
FROM customers c, (VALUES
  ('tags CONTAINS ''vip'' AND language = ''ar'''),
  ('tags NOT CONTAINS ''vip'''),
  ('tier > ''silver'''),
  ('tier IN (''gold'', ''platinum'')'),
  ('country = ''OM'''),
  ('lifetime_value BETWEEN 100 AND 1000'),
  ('lifetime_value > 500.001'),
  ('score > 100'),
  ('NOT opted_out'),
  ('email ILIKE ''%@example.com'''),
  ('email LIKE ''%@example.com'''),
  ('created_at WITHIN LAST 7 DAYS'),
  ('created_at WITHIN NEXT 7 DAYS'),
  ('last_interaction_at OLDER THAN 30 DAYS'),
  ('birthday > ''2000-01-01'''),
  ('attrs.interest = ''enterprise'''),
  ('attrs.visits >= 12'),
  ('attrs.visits = ''12'''),
  ('attrs.beta'),
  ('NOT attrs.beta'),
  ('attrs.beta IS NULL'),
  ('attrs.last_seen OLDER THAN 7 DAYS'),
  ('attrs.interests CONTAINS ''ai'''),
  ('attrs.interests NOT CONTAINS ''ai'''),
  ('code = ''a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'''),
  ('TRUE'),
  ('FALSE')
) AS t(f)
GROUP BY f ORDER BY f;

-- Both engines agree on every row for every filter above.
SELECT count(*) AS disagreements
FROM customers c, (VALUES
  ('tier > ''silver'' OR attrs.visits >= 12'), ('NOT (country = ''OM'' AND score > 1)'),
  ('attrs.last_seen OLDER THAN 7 DAYS OR tags CONTAINS ANY (''x'', ''lead'')')) AS t(f)
WHERE segments.matches(f::segments.segment_filter, c) IS DISTINCT FROM
      (SELECT CASE WHEN f = 'tier > ''silver'' OR attrs.visits >= 12'
                   THEN c.tier > 'silver' OR segments.jsonb_number(c.attrs, 'visits') >= 12
                   WHEN f = 'NOT (country = ''OM'' AND score > 1)'
                   THEN NOT (c.country = 'OM' AND c.score > 1)
                   ELSE segments.jsonb_timestamptz(c.attrs, 'last_seen') < now() - interval '7 days'
                        OR COALESCE(c.tags && '{x,lead}', false) END);

-- estimate: matching rows now, and per top-level condition.
SELECT * FROM segments.estimate('tier = ''gold'' OR country = ''AE'' OR attrs.beta', 'customers');
SELECT * FROM segments.estimate('NOT opted_out', 'customers');

-- A filter never raises on row data: strings that are not dates, wrong JSON types, NaN.
SELECT count(*) FROM customers c
WHERE segments.matches('attrs.last_seen WITHIN LAST 100 DAYS OR attrs.visits > 1 OR score < 0', c);

-- Validation against the object: unknown column with a did-you-mean ...
SELECT segments.to_sql('tierr = ''gold''', 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.to_sql('atrs.plan = ''pro''', 'customers');
SELECT segments.to_sql('zzzzzz = 1', 'customers');
-- ... type mismatches ...
SELECT segments.to_sql('lifetime_value > ''500''', 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.to_sql('name = 5', 'customers');
SELECT segments.to_sql('name', 'customers');
SELECT segments.to_sql('tier = ''diamond''', 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.to_sql('birthday > ''2024-13-45''', 'customers');
SELECT segments.to_sql('name.first = ''x''', 'customers');
SELECT segments.to_sql('attrs.a IN (''x'', 1)', 'customers');
SELECT segments.to_sql('score > 1e400', 'customers');
-- ... and operators not valid for the column's type.
SELECT segments.to_sql('lifetime_value LIKE ''5%''', 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.to_sql('tags = ''vip''', 'customers');
SELECT segments.to_sql('name CONTAINS ''x''', 'customers');
SELECT segments.to_sql('name WITHIN LAST 3 DAYS', 'customers');
SELECT segments.to_sql('opted_out > TRUE', 'customers');
SELECT segments.to_sql('attrs = ''x''', 'customers');
-- Unknown related tables and segments.
SELECT segments.to_sql('orders.count() > 1', 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segments.to_sql('IN SEGMENT ''vip''', 'customers');
-- matches needs a table's row.
SELECT segments.matches('tier = ''gold''', ROW(1, 2));
\echo :LAST_ERROR_SQLSTATE

-- The jsonb helpers read typed values and never raise.
SELECT segments.jsonb_text(attrs, 'interest') AS interest,
       segments.jsonb_number(attrs, 'visits') AS visits,
       segments.jsonb_bool(attrs, 'beta') AS beta,
       segments.jsonb_timestamptz(attrs, 'last_seen') IS NOT NULL AS has_last_seen,
       segments.jsonb_array(attrs, 'interests') AS interests,
       segments.jsonb_value(attrs, 'visits') AS visits_value
FROM customers ORDER BY id;
SELECT segments.jsonb_text('{"a": {"b": "c"}}', 'a', 'b') AS nested,
       segments.jsonb_text('{"a": "b"}', 'a', 'b') AS through_scalar,
       segments.jsonb_value('{"a": null}', 'a') AS json_null,
       segments.jsonb_timestamptz('{"t": "now"}', 't') AS special_word,
       segments.jsonb_timestamptz('{"t": "2024-01-01 10:00 Foo/Bar"}', 't') AS bad_zone;

-- A definition change of the object is seen by the next statement.
ALTER TABLE customers RENAME COLUMN country TO country_code;
SELECT segments.to_sql('country = ''OM''', 'customers');
SELECT segments.to_sql('country_code = ''OM''', 'customers');
ALTER TABLE customers RENAME COLUMN country_code TO country;

-- Session settings that change how literals read are honoured.
SET TimeZone = 'Asia/Muscat';
SELECT count(*) FROM customers c WHERE segments.matches('created_at > ''2000-01-01 00:00''', c);
RESET TimeZone;
