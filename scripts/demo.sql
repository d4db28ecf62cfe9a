-- The pg_segments demo: segments CDP users know, kept true by the database.
\set ON_ERROR_STOP on
\pset footer off
\echo
\echo '== Creating segments (each computes its first membership)'
\timing on
SELECT segments.create_segment('VIP Arabic speakers', 'customers', 'tags CONTAINS ''vip'' AND language = ''ar''') AS id;
SELECT segments.create_segment('Inactive 30+ days', 'customers', 'last_interaction_at OLDER THAN 30 DAYS') AS id;
SELECT segments.create_segment('Gold tier in Oman', 'customers', 'tier = ''gold'' AND country = ''OM''') AS id;
SELECT segments.create_segment('WhatsApp opted-in', 'customers',
  'platform = ''whatsapp'' AND whatsapp_opt_in AND NOT opted_out') AS id;
SELECT segments.create_segment('New this week', 'customers', 'created_at WITHIN LAST 7 DAYS') AS id;
SELECT segments.create_segment('Enterprise leads', 'customers',
  'attrs.interest = ''enterprise'' AND tags CONTAINS ''lead''', kind => 'scheduled') AS id;
SELECT segments.create_segment('High value', 'customers', 'lifetime_value > 2000', kind => 'scheduled',
                               schedule => 'every day at 03:00', timezone => 'Asia/Muscat') AS id;
SELECT segments.create_segment('Software repeat buyers', 'customers',
  'organizations.industry = ''software'' AND orders.count(status = ''paid'' AND created_at WITHIN LAST 90 DAYS) >= 2',
  kind => 'scheduled', schedule => 'every hour') AS id;
SELECT segments.create_segment('Gold in Oman, no refunds', 'customers',
  'IN SEGMENT ''gold-tier-in-oman'' AND NOT orders.exists(status = ''refunded'')', kind => 'scheduled') AS id;
SELECT segments.create_segment('Webinar attendees', 'customers', kind => 'static') AS id;
SELECT segments.add_members_from_query('webinar-attendees',
  'SELECT id FROM customers WHERE attrs->>''signup_source'' = ''webinar'' ORDER BY id LIMIT 250') AS added;
\timing off

\echo
\echo '== Segments and their member counts'
SELECT system_name, kind, member_count, status FROM segments.segment_summary ORDER BY id;

\echo
\echo '== A preview of "VIP Arabic speakers" (whole rows, as jsonb)'
SELECT p ->> 'id' AS id, p ->> 'name' AS name, p ->> 'country' AS country, p -> 'tags' AS tags
FROM segments.preview('vip-arabic-speakers', 3) AS p;

\echo
\echo '== CSV export of "Gold tier in Oman" (first lines)'
SELECT left(line, 120) AS line FROM segments.export_csv('gold-tier-in-oman') AS line LIMIT 4;

\echo
\echo '== The one-line join: gold customers in Oman with their organization'
SELECT c.id, c.name, o.industry FROM customers c
JOIN segments.customers_members m ON m.member = c.id AND m.segment_id = segments.segment_id('gold-tier-in-oman')
JOIN organizations o ON o.id = c.organization_id
ORDER BY c.id LIMIT 3;

\echo
\echo '== A real-time change: customer 42 is edited, membership follows in the same statement'
SELECT id, tier, country, language, tags FROM customers WHERE id = 42;
SELECT string_agg(system_name, ', ') AS segments_before FROM segments.segments_of('customers', 42);
UPDATE customers SET tier = 'gold', country = 'OM', tags = array_append(array_remove(tags, 'vip'), 'vip'),
                     language = 'ar', last_interaction_at = now()
WHERE id = 42;
SELECT string_agg(system_name, ', ') AS segments_after FROM segments.segments_of('customers', 42);
SELECT s.system_name, c.change, c.changed_at::time(0) AS at
FROM segments.changes c JOIN segments.segment s ON s.id = c.segment_id
WHERE c.member = '42' AND c.changed_at >= now() - interval '1 minute' ORDER BY c.id;

\echo
\echo '== A refresh of the scheduled segment "High value": only the difference is written'
UPDATE customers SET lifetime_value = lifetime_value + 2500 WHERE id IN (7, 8, 9);
UPDATE customers SET lifetime_value = 10 WHERE id IN (SELECT m::bigint FROM segments.members('high-value') AS m LIMIT 2);
SELECT added, removed, total, duration FROM segments.refresh('high-value');
SELECT added, removed, total FROM segments.refresh('high-value');
\echo 'Its schedule (refresh_due(), run by pg_cron, refreshes it then):'
SELECT system_name, schedule, timezone, next_run_at AT TIME ZONE timezone AS next_run_local
FROM segments.segment WHERE system_name = 'high-value';

\echo
\echo '== A form builder estimating a filter while it is typed'
SELECT count, jsonb_pretty(by_condition) AS by_condition
FROM segments.estimate('tier IN (''gold'', ''platinum'') AND country = ''AE'' AND attrs.plan = ''pro''', 'customers');
