-- Data for bench/realtime_bench.sh: a CDP-shaped customers table, 1,000 realistic segment
-- filters and the naive PL/pgSQL trigger used as a baseline. psql variable: customers.
CREATE EXTENSION pg_segments;
SELECT setseed(0.7) AS seeded \gset
CREATE TABLE customers (
  id bigint PRIMARY KEY, name text NOT NULL, email text, tier text NOT NULL, country text,
  language text, platform text, tags text[] NOT NULL DEFAULT '{}', attrs jsonb NOT NULL DEFAULT '{}',
  lifetime_value numeric(12, 2) NOT NULL DEFAULT 0, opted_out boolean NOT NULL DEFAULT false,
  whatsapp_opt_in boolean NOT NULL DEFAULT false, created_at timestamptz NOT NULL,
  last_interaction_at timestamptz);
INSERT INTO customers
SELECT i, 'Customer ' || i, 'c' || i || '@example.com',
       (ARRAY['bronze', 'bronze', 'silver', 'silver', 'gold', 'platinum'])[1 + floor(random() * 6)::int],
       (ARRAY['OM', 'AE', 'AE', 'SA', 'SA', 'QA', 'KW', 'BH'])[1 + floor(random() * 8)::int],
       CASE WHEN random() < 0.55 THEN 'ar' ELSE 'en' END,
       (ARRAY['whatsapp', 'whatsapp', 'instagram', 'email', 'sms'])[1 + floor(random() * 5)::int],
       ARRAY(SELECT t FROM unnest(ARRAY['vip', 'lead', 'newsletter', 'beta', 'churn-risk']) AS t
              WHERE random() < 0.15 AND i > 0),
       jsonb_build_object('plan', (ARRAY['free', 'pro', 'team'])[1 + floor(random() * 3)::int],
                          'visits', floor(random() * 60)::int,
                          'interest', (ARRAY['enterprise', 'smb', 'consumer'])[1 + floor(random() * 3)::int]),
       round((random() * 3000)::numeric, 2), random() < 0.05, random() < 0.6,
       now() - interval '700 days' * (random() + 0 * i), now() - interval '120 days' * (random() + 0 * i)
FROM generate_series(1, :customers) AS i;
CREATE SEQUENCE insert_ids START 100000000;
ANALYZE customers;

-- Segment filters as a CDP's users write them: one selective condition (a country, a tier, a
-- tag, a recent activity window, a high value) narrowed by one to three broad ones (language,
-- consent, plan, value, inactivity), sometimes with an OR group of two selective conditions.
CREATE TABLE bench_filters (n int PRIMARY KEY, filter text NOT NULL);
DO $$
DECLARE
  anchors text[] := ARRAY[
    'tier = ''platinum''', 'tier = ''gold''', 'country = ''OM''', 'country = ''QA''',
    'country IN (''KW'', ''BH'')', 'tags CONTAINS ''vip''', 'tags CONTAINS ''beta''',
    'tags CONTAINS ALL (''lead'', ''newsletter'')', 'tags CONTAINS ANY (''lead'', ''beta'')',
    'attrs.visits > 50', 'lifetime_value > 2500', 'lifetime_value BETWEEN 1000 AND 1200',
    'last_interaction_at WITHIN LAST 7 DAYS', 'created_at WITHIN LAST 30 DAYS',
    'platform = ''sms''', 'opted_out', 'email LIKE ''%7@example.com'''];
  modifiers text[] := ARRAY[
    'language = ''ar''', 'language = ''en''', 'NOT opted_out', 'whatsapp_opt_in',
    'tier <> ''bronze''', 'attrs.plan = ''pro''', 'attrs.plan IN (''pro'', ''team'')',
    'attrs.interest = ''enterprise''', 'tags NOT CONTAINS ''churn-risk''', 'lifetime_value > 500',
    'last_interaction_at OLDER THAN 30 DAYS', 'country IN (''AE'', ''SA'')',
    'platform IN (''whatsapp'', ''instagram'')', 'created_at OLDER THAN 90 DAYS'];
  f text;
BEGIN
  PERFORM setseed(0.3);
  FOR n IN 1..1000 LOOP
    f := anchors[1 + floor(random() * cardinality(anchors))::int];
    IF random() < 0.3 THEN
      f := '(' || f || ' OR ' || anchors[1 + floor(random() * cardinality(anchors))::int] || ')';
    END IF;
    FOR m IN 1..1 + floor(random() * 3)::int LOOP
      f := f || ' AND ' || modifiers[1 + floor(random() * cardinality(modifiers))::int];
    END LOOP;
    INSERT INTO bench_filters VALUES (n, f);
  END LOOP;
END
$$;

-- The naive application trigger, over the same filters compiled to SQL.
CREATE TABLE naive_segment (id int PRIMARY KEY, where_sql text NOT NULL);
CREATE TABLE naive_members (segment_id int, member bigint, PRIMARY KEY (segment_id, member));
CREATE FUNCTION naive_trigger() RETURNS trigger LANGUAGE plpgsql AS $t$
DECLARE
  s record;
  hit boolean;
BEGIN
  FOR s IN SELECT id, where_sql FROM naive_segment LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1 AND (%s))', s.where_sql)
      INTO hit USING NEW.id;
    IF hit THEN
      INSERT INTO naive_members VALUES (s.id, NEW.id) ON CONFLICT DO NOTHING;
    ELSE
      DELETE FROM naive_members WHERE segment_id = s.id AND member = NEW.id;
    END IF;
  END LOOP;
  RETURN NULL;
END
$t$;
