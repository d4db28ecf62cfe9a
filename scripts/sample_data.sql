-- A CDP-shaped sample data set: organizations, customers (tags, languages, platforms,
-- countries, jsonb attributes) and orders. psql variable :customers sets the size.
\set ON_ERROR_STOP on
SELECT setseed(0.42) AS seeded \gset

CREATE TABLE organizations (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  industry text NOT NULL,
  size text NOT NULL
);
INSERT INTO organizations
SELECT i, 'Organization ' || i,
       (ARRAY['software', 'retail', 'banking', 'telecom', 'logistics', 'healthcare'])[1 + floor(random() * 6)::int],
       (ARRAY['small', 'medium', 'enterprise'])[1 + floor(random() * 3)::int]
FROM generate_series(1, greatest(:customers / 50, 10)) AS i;

CREATE TABLE customers (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  email text,
  tier text NOT NULL,
  country text,
  language text,
  platform text,
  tags text[] NOT NULL DEFAULT '{}',
  attrs jsonb NOT NULL DEFAULT '{}',
  lifetime_value numeric(12, 2) NOT NULL DEFAULT 0,
  opted_out boolean NOT NULL DEFAULT false,
  whatsapp_opt_in boolean NOT NULL DEFAULT false,
  organization_id bigint REFERENCES organizations,
  created_at timestamptz NOT NULL,
  last_interaction_at timestamptz
);
INSERT INTO customers
SELECT i,
       (ARRAY['Aisha', 'Omar', 'Layla', 'Yusuf', 'Mariam', 'Khalid', 'Sara', 'Hassan', 'Noor', 'Ali'])[1 + i % 10]
         || ' ' || (ARRAY['Al-Balushi', 'Haddad', 'Nasser', 'Rahman', 'Saleh', 'Karim', 'Farouk'])[1 + (i / 10) % 7],
       'customer' || i || '@example.com',
       CASE WHEN r.t < 0.50 THEN 'bronze' WHEN r.t < 0.80 THEN 'silver' WHEN r.t < 0.95 THEN 'gold' ELSE 'platinum' END,
       (ARRAY['OM', 'OM', 'AE', 'AE', 'AE', 'SA', 'SA', 'SA', 'QA', 'KW', 'BH'])[1 + floor(random() * 11)::int],
       CASE WHEN random() < 0.55 THEN 'ar' WHEN random() < 0.9 THEN 'en' ELSE 'fr' END,
       (ARRAY['whatsapp', 'whatsapp', 'whatsapp', 'instagram', 'instagram', 'email', 'email', 'sms'])[1 + floor(random() * 8)::int],
       ARRAY(SELECT tag FROM unnest(ARRAY['vip', 'lead', 'newsletter', 'churn-risk', 'beta']) AS tag
              WHERE random() < CASE tag WHEN 'vip' THEN 0.08 WHEN 'lead' THEN 0.15
                                        WHEN 'newsletter' THEN 0.4 ELSE 0.05 END AND i > 0),
       jsonb_build_object(
         'interest', (ARRAY['enterprise', 'smb', 'consumer', 'consumer'])[1 + floor(random() * 4)::int],
         'plan', (ARRAY['free', 'free', 'pro', 'team'])[1 + floor(random() * 4)::int],
         'visits', floor(random() * 60)::int,
         'signup_source', (ARRAY['web', 'webinar', 'referral', 'store'])[1 + floor(random() * 4)::int]),
       round((-ln(1 - random() * 0.9999) * 600)::numeric, 2),
       random() < 0.07,
       random() < 0.6,
       1 + floor(random() * greatest(:customers / 50, 10))::bigint,
       r.created,
       r.created + (now() - r.created) * random()
FROM generate_series(1, :customers) AS i,
     LATERAL (SELECT random() + 0 * i AS t,
                     now() - interval '730 days' * (random() + 0 * i) ^ 2 AS created) AS r;

CREATE TABLE orders (
  id bigint PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers,
  amount numeric(10, 2) NOT NULL,
  status text NOT NULL,
  created_at timestamptz NOT NULL
);
INSERT INTO orders
SELECT n, 1 + floor(random() * :customers)::bigint, round((5 + random() * 300)::numeric, 2),
       (ARRAY['paid', 'paid', 'paid', 'refunded', 'pending'])[1 + floor(random() * 5)::int],
       now() - interval '365 days' * random()
FROM generate_series(1, :customers * 3) AS n;
CREATE INDEX orders_customer_idx ON orders (customer_id);
ANALYZE organizations, customers, orders;
