-- Filters across relationships: many-to-one foreign keys, one-to-many aggregates, IN SEGMENT.
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
CREATE TABLE rel_regions (
  code text PRIMARY KEY,
  name text
);
CREATE TABLE rel_orgs (
  id int PRIMARY KEY,
  industry text,
  employees int,
  region text REFERENCES rel_regions,
  -- same names as columns of the customers: a subquery must never read these instead
  org_id int,
  member int
);
CREATE TABLE rel_customers (
  id bigint PRIMARY KEY,
  tier text,
  org_id int REFERENCES rel_orgs,
  billing_org int,
  member int
);
CREATE TABLE rel_orders (
  id bigint PRIMARY KEY,
  customer_id bigint REFERENCES rel_customers ON DELETE CASCADE,
  status text,
  amount numeric,
  quantity int,
  placed_at timestamptz
);
INSERT INTO rel_regions VALUES ('gcc', 'Gulf'), ('eu', 'Europe'), ('none', NULL);
INSERT INTO rel_orgs VALUES
  (1, 'software', 500, 'gcc', 7, 7),
  (2, 'retail', 20, 'eu', 8, 8),
  (3, NULL, NULL, 'none', 9, 9),
  (4, 'software', 5, NULL, 1, 1);
INSERT INTO rel_customers VALUES
  (1, 'gold', 1, 1, 1), (2, 'silver', 2, 2, 2), (3, 'gold', 3, 3, 3),
  (4, 'bronze', NULL, NULL, 4), (5, 'gold', 4, 4, 5), (6, 'silver', 1, NULL, 6);
INSERT INTO rel_orders VALUES
  (1, 1, 'paid', 100, 1, now() - interval '1 day'),
  (2, 1, 'paid', 250, 2, now() - interval '2 days'),
  (3, 1, 'paid', 300, 1, now() - interval '40 days'),
  (4, 2, 'paid', 80, 1, now() - interval '3 days'),
  (5, 2, 'refunded', 900, 9, now() - interval '3 days'),
  (6, 3, 'paid', NULL, NULL, now() - interval '5 days'),
  (7, 5, 'paid', 600, 3, now() - interval '10 days');

-- Many-to-one: by the referenced table's name, any depth; NULL when nothing is referenced.
CREATE FUNCTION rel_keys(f text) RETURNS bigint[] LANGUAGE sql AS $$
  SELECT array_agg(c.id ORDER BY c.id) FROM rel_customers c
   WHERE segments.matches(f::segments.segment_filter, c)
$$;
CREATE FUNCTION rel_sql_keys(f text) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
  keys bigint[];
BEGIN
  EXECUTE format('SELECT array_agg(x.id ORDER BY x.id) FROM rel_customers AS x WHERE %s',
                 segments.to_sql(f::segments.segment_filter, 'rel_customers'))
    INTO keys;
  RETURN keys;
END
$$;
-- Both engines, on the same filters.
SELECT f, rel_keys(f) AS matches, rel_sql_keys(f) = rel_keys(f)
       OR (rel_sql_keys(f) IS NULL AND rel_keys(f) IS NULL) AS engines_agree
  FROM unnest(ARRAY[
    'rel_orgs.industry = ''software''',
    'NOT rel_orgs.industry = ''software''',
    'rel_orgs.industry IS NULL',
    'rel_orgs.employees >= 20 AND tier = ''gold''',
    'rel_orgs.rel_regions.name = ''Gulf''',
    'rel_orgs.rel_regions.name IS NULL',
    'rel_orgs.org_id = 7',
    'rel_orgs.member = 8 OR member = 4',
    'rel_orders.count() >= 2',
    'rel_orders.count() = 0',
    'rel_orders.count(status = ''paid'' AND placed_at WITHIN LAST 30 DAYS) >= 2',
    'rel_orders.sum(amount WHERE status = ''paid'') > 500',
    'rel_orders.sum(amount) IS NULL',
    'rel_orders.sum(quantity) >= 3',
    'rel_orders.avg(amount) > 100',
    'rel_orders.min(placed_at) OLDER THAN 30 DAYS',
    'rel_orders.max(placed_at) WITHIN LAST 4 DAYS',
    'rel_orders.max(status) = ''refunded''',
    'rel_orders.exists(status = ''refunded'')',
    'NOT rel_orders.exists()',
    'rel_orders.exists(amount > 500) AND rel_orgs.industry = ''software'''
  ]) AS f;

SELECT segments.to_sql('rel_orgs.industry = ''software'' AND rel_orders.count(status = ''paid'') >= 2',
                       'rel_customers');
SELECT segments.to_sql('rel_orgs.rel_regions.name IS NULL', 'rel_customers');

-- Two foreign keys to one table: the name is ambiguous, the constraint names are not.
ALTER TABLE rel_customers ADD CONSTRAINT billing FOREIGN KEY (billing_org) REFERENCES rel_orgs;
SELECT segments.to_sql('rel_orgs.industry = ''software''', 'rel_customers');
SELECT rel_keys('billing.industry = ''software''') AS billing,
       rel_keys('rel_customers_org_id_fkey.employees > 100') AS employer;

-- Bad relationship filters: clear errors.
SELECT segments.to_sql('rel_orgz.industry = ''software''', 'rel_customers');
SELECT segments.to_sql('billing.industri = ''software''', 'rel_customers');
SELECT segments.to_sql('rel_orders.status = ''paid''', 'rel_customers');
SELECT segments.to_sql('billing = 1', 'rel_customers');
SELECT segments.to_sql('billing.count() > 1', 'rel_customers');
SELECT segments.to_sql('rel_orders.sum(status) > 1', 'rel_customers');
SELECT segments.to_sql('rel_orders.sum(amont) > 1', 'rel_customers');
SELECT segments.to_sql('rel_orders.count() > ''many''', 'rel_customers');
SELECT segments.to_sql('rel_orders.min(placed_at) > ''yesterday-ish''', 'rel_customers');
SELECT segments.to_sql('rel_orders.count(statos = ''paid'') > 1', 'rel_customers');
SELECT segments.to_sql('tier.count() > 1', 'rel_customers');

-- Segments over relationships: scheduled ones compute with the compiled SQL.
CREATE ROLE rel_admin;
GRANT segments_admin TO rel_admin;
SELECT segments.create_segment('Software customers', 'rel_customers',
  'billing.industry = ''software''', kind => 'scheduled', system_name => 'software') > 0;
SELECT segments.create_segment('Repeat buyers', 'rel_customers',
  'rel_orders.count(status = ''paid'') >= 2', kind => 'scheduled', system_name => 'repeat') > 0;
SELECT segments.members('software'), segments.member_count('repeat');
-- IN SEGMENT: stored membership of another segment of the same object.
SELECT segments.create_segment('Gold', 'rel_customers', 'tier = ''gold''',
                               kind => 'scheduled', system_name => 'gold') > 0;
SELECT segments.create_segment('Gold software', 'rel_customers',
  'IN SEGMENT ''gold'' AND IN SEGMENT ''software''', kind => 'scheduled',
  system_name => 'gold-software') > 0;
SELECT segments.create_segment('Gold not repeat', 'rel_customers',
  'IN SEGMENT ''gold'' AND NOT IN SEGMENT ''repeat''', kind => 'scheduled',
  system_name => 'gold-once') > 0;
SELECT segments.members('gold-software') AS gold_software, segments.members('gold-once') AS gold_once;
SELECT c.id, segments.matches('IN SEGMENT ''gold'' AND NOT IN SEGMENT ''repeat''', c)
  FROM rel_customers c ORDER BY c.id;
SELECT regexp_replace(segments.to_sql('NOT IN SEGMENT ''repeat''', 'rel_customers'),
                      '[0-9]+\)\)$', '<id of repeat>))');
-- Unknown segments, segments of other objects, cycles: refused when saved.
SELECT segments.to_sql('IN SEGMENT ''glod''', 'rel_customers');
CREATE TABLE rel_other (id int PRIMARY KEY, tier text);
SELECT segments.create_segment('Other gold', 'rel_other', 'tier = ''gold''',
                               kind => 'scheduled', system_name => 'other-gold') > 0;
SELECT segments.to_sql('IN SEGMENT ''other-gold''', 'rel_customers');
SELECT segments.alter_segment('gold', filter => 'tier = ''gold'' AND NOT IN SEGMENT ''gold-once''');
SELECT segments.alter_segment('gold', filter => 'IN SEGMENT ''gold''');
SELECT filter FROM segments.segment WHERE system_name = 'gold';
-- A referenced segment cannot be dropped or lose its system name; its referrers are listed.
SELECT segments.drop_segment('gold');
DELETE FROM segments.segment WHERE system_name = 'gold';
UPDATE segments.segment SET system_name = 'gold-tier' WHERE system_name = 'gold';
SELECT count(*) FROM segments.segment WHERE system_name = 'gold';

-- refresh_due() refreshes what others read first: customer 6 turns gold, and gold-once (gold
-- and not repeat) follows in the same call.
UPDATE rel_customers SET tier = 'gold' WHERE id = 6;
UPDATE segments.segment SET schedule = 'every day at 03:00'
 WHERE system_name IN ('gold', 'software', 'repeat', 'gold-software', 'gold-once');
UPDATE segments.segment SET next_run_at = now() - interval '1 minute'
 WHERE system_name IN ('gold', 'software', 'repeat', 'gold-software', 'gold-once');
SELECT segments._segment_level(filter) AS level, system_name FROM segments.segment
 WHERE object = 'rel_customers'::regclass ORDER BY 1, 2;
SELECT count(*) FROM segments.refresh_due();
SELECT segments.members('gold') AS gold, segments.members('gold-once') AS gold_once;
SELECT s.system_name, c.member, c.change FROM segments.changes c
  JOIN segments.segment s ON s.id = c.segment_id
 WHERE c.member = '6' AND s.object = 'rel_customers'::regclass ORDER BY c.id;

-- Privileges: the owner must read the related tables' columns too.
CREATE ROLE rel_reader;
GRANT segments_admin TO rel_reader;
GRANT SELECT ON rel_customers TO rel_reader;
GRANT SELECT (id, industry) ON rel_orgs TO rel_reader;
SET ROLE rel_reader;
SELECT segments.create_segment('Reader software', 'rel_customers',
  'billing.industry = ''software''', kind => 'scheduled') > 0;
SELECT segments.create_segment('Reader big orgs', 'rel_customers',
  'billing.employees > 100', kind => 'scheduled');
SELECT segments.create_segment('Reader orders', 'rel_customers',
  'rel_orders.count() > 1', kind => 'scheduled');
RESET ROLE;

-- The JSON form carries aggregates and IN SEGMENT both ways.
SELECT segments.segment_filter_to_jsonb(
  'rel_orders.sum(amount WHERE status = ''paid'') > 500 AND NOT IN SEGMENT ''gold''');
SELECT segments.segment_filter_from_jsonb(segments.segment_filter_to_jsonb(
  'rel_orders.sum(amount WHERE status = ''paid'') > 500 AND NOT IN SEGMENT ''gold'''));

SELECT segments.drop_segment(s) FROM unnest(ARRAY['gold-software', 'gold-once', 'gold', 'software',
                                                 'repeat', 'reader-software', 'other-gold']) AS s;
DROP TABLE rel_orders, rel_customers, rel_orgs, rel_regions, rel_other;
DROP FUNCTION rel_keys, rel_sql_keys;
DROP OWNED BY rel_admin, rel_reader;
DROP ROLE rel_admin, rel_reader;
