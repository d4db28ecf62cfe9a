// Soak test: several writer connections run random INSERT, UPDATE (columns filters read,
// primary keys, INSERT ... ON CONFLICT DO UPDATE), DELETE and COPY on customers, orders and
// organizations, in explicit transactions of which some roll back and some use savepoints, while
// other connections change segment definitions, switch segments off and on (now and at a later
// time), refresh (refresh_due(), refresh_due_proc(), refresh()) and read membership. Dozens of
// realtime, scheduled and static segments over the three tables cover equality, IN, tags, jsonb
// keys, relative time, OR groups, many-to-one and one-to-many relationships (a foreign key of
// customers to itself included) and nested segments (IN SEGMENT, NOT IN SEGMENT).
//
// What is checked (a checkpoint pauses every client between two transactions):
//   1. no membership row names a key that is not a row of its object, or a segment that is not
//      in the catalog (a deleted row leaves every segment, a dropped segment takes its members),
//      and every foreign key of the workload holds (see docs/realtime.md, "Known race");
//   2. with no refresh, every realtime segment whose own filter has no relative time equals its
//      truth, SELECT key FROM object WHERE <segments.to_sql(filter, object)>, and an inactive
//      segment has no member (realtime.md: membership is the filter's truth at every commit;
//      IN SEGMENT reads the stored membership of the other segment, as to_sql compiles it);
//   3. the change feed replayed from empty in id order reproduces every segment's membership,
//      entries and exits alternating for each member (an entry while a member, or an exit while
//      not, is a broken feed);
//   4. then, in one transaction: refresh_due() (relative-time rechecks: "after refresh_due()
//      runs, membership equals the filter's truth at that moment"), refresh() of every active
//      scheduled segment (its truth is defined right after a refresh), and every segment of any
//      kind but static equals its truth at that transaction's now(); the feed replays again;
//      member_count() and members() agree with the membership relation; members_at(now()) gives
//      the members;
//   5. static segments: their members are rows of the object (1).
// Between checkpoints a reader checks 1 to 3 in one REPEATABLE READ snapshot while writers run.
// Deadlocks and serialization failures (40P01, 40001) are counted and the transaction dropped;
// any other error fails the test.
//
// Crash mode (--crash, run by crash.sh): each writer transaction also inserts a unique id into
// soak_commits. The client keeps the ids whose COMMIT was acknowledged and the one id per writer
// whose COMMIT was sent but not answered. When the server goes away (crash.sh kills the
// postmaster with SIGKILL), the clients stop, the program waits for the server to come back
// (crash.sh restarts it), and checks that every acknowledged id is there and every other id
// that is there was in flight at the kill; then checks 1 to 5, runs the workload again for a
// few seconds and checks once more.
//
// Usage: soak [--seconds N] [--writers N] [--checkpoint N] [--seed S] [--database NAME]
//             [--max-transactions N] [--keep-going] [--without definer,refresher,reader]
//             [--crash] [--after-crash N] [--wait-server N]
// --keep-going records failures and goes on (each checkpoint refreshes the segments it found
// wrong, so that later ones find new problems) instead of stopping at the first. --without
// leaves out clients other than the writers, to narrow a problem down.
// Defaults: 60 s, 4 writers, a checkpoint every 15 s; PGSEG_SEED, PGSEG_SOAK_SECONDS,
// PGSEG_SOAK_WRITERS and PGSEG_SOAK_CHECKPOINT set them too. The server comes from
// PGHOST/PGPORT/PGUSER. A seed fixes each client's sequence of choices, not how the clients
// interleave. A failing run keeps its database for inspection.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pg_client.hpp"

using pgseg::integration::Connection;
using pgseg::integration::Result;
using Clock = std::chrono::steady_clock;

namespace {

// The server went away (crash mode expects it once).
struct ConnectionLost : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A deadlock or a serialization failure: a legal outcome of concurrency.
struct Retryable : std::runtime_error {
  Retryable(const std::string& code, const std::string& message)
      : std::runtime_error(message), sqlstate(code) {}
  std::string sqlstate;
};

bool lost_connection(Connection& conn, const Result& r) {
  const std::string state = r.sqlstate();
  return !conn.connected() || state == "57P01" || state == "57P02" || state == "57P03" ||
         state.rfind("08", 0) == 0;
}

// Throws the exception that fits a failed result.
[[noreturn]] void raise(Connection& conn, const Result& r, const std::string& what) {
  const std::string message = what.substr(0, 600) + "\n  " + r.error();
  if (lost_connection(conn, r)) throw ConnectionLost(message);
  if (r.sqlstate() == "40P01" || r.sqlstate() == "40001") throw Retryable(r.sqlstate(), message);
  throw std::runtime_error(message);
}

// Runs one statement (or several in one string) and returns its result, or raises.
Result run(Connection& conn, const std::string& sql) {
  Result r = conn.exec(sql);
  if (!r.ok()) raise(conn, r, sql);
  return r;
}

// A connection with the soak's session settings; ConnectionLost when the server is not there.
Connection connect(const std::string& database) {
  try {
    Connection conn(pgseg::integration::conninfo_for(database));
    // A statement that waits this long is a hang: the test fails instead of waiting forever.
    conn.must("SET statement_timeout = '90s'");
    return conn;
  } catch (const std::runtime_error& e) {
    throw ConnectionLost(e.what());
  }
}

// Wall-clock time plus seconds, in timestamptz input form (UTC); the server is on this machine.
std::string time_text(double seconds, bool iso = false) {
  auto at = std::chrono::system_clock::now() +
            std::chrono::microseconds(static_cast<long long>(seconds * 1e6));
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch()).count();
  std::time_t whole = static_cast<std::time_t>(micros / 1000000);
  std::tm utc{};
  gmtime_r(&whole, &utc);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, iso ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &utc);
  char out[96];
  std::snprintf(out, sizeof out, "%s.%06lld%s", buffer, static_cast<long long>(micros % 1000000),
                iso ? "Z" : "+00");
  return out;
}

// ---------------------------------------------------------------------------------------------
// Schema and segments
// ---------------------------------------------------------------------------------------------

const char* kSchema = R"SQL(
CREATE TABLE organizations (id bigint PRIMARY KEY, name text, industry text, size integer);
CREATE TABLE customers (
  id bigint PRIMARY KEY,
  email text,
  tier text,
  country text,
  tags text[],
  lifetime_value numeric,
  attrs jsonb,
  opted_out boolean,
  created_at timestamptz,
  last_seen_at timestamptz,
  org_id bigint REFERENCES organizations ON UPDATE CASCADE ON DELETE SET NULL,
  referrer_id bigint REFERENCES customers ON UPDATE CASCADE ON DELETE SET NULL);
CREATE INDEX ON customers (org_id);
CREATE INDEX ON customers (referrer_id);
CREATE TABLE orders (
  id bigint PRIMARY KEY,
  customer_id bigint REFERENCES customers ON UPDATE CASCADE ON DELETE CASCADE,
  status text,
  amount numeric,
  created_at timestamptz);
CREATE INDEX ON orders (customer_id);
CREATE TABLE events (id bigserial PRIMARY KEY, customer_id bigint, type text NOT NULL,
                     at timestamptz NOT NULL DEFAULT now());
CREATE TABLE soak_commits (id bigint PRIMARY KEY, writer integer NOT NULL);
CREATE TABLE soak_actions (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),
                           action text NOT NULL);
)SQL";

// Initial rows; random() is seeded with setseed() first.
const char* kInitialRows = R"SQL(
INSERT INTO organizations
SELECT i, 'org ' || i,
       (ARRAY['software', 'retail', 'health', 'energy', NULL])[1 + floor(random() * 5)::int],
       (ARRAY[5, 50, 200, 500, 1000, NULL])[1 + floor(random() * 6)::int]
  FROM generate_series(1, 40) AS i;
INSERT INTO customers
SELECT i,
       CASE WHEN random() < 0.1 THEN NULL ELSE 'u' || i ||
         (ARRAY['@example.com', '@EXAMPLE.COM', '@mail.test'])[1 + floor(random() * 3)::int] END,
       (ARRAY['bronze', 'silver', 'gold', 'platinum', NULL])[1 + floor(random() * 5)::int],
       (ARRAY['OM', 'AE', 'SA', 'DE', 'US', NULL])[1 + floor(random() * 6)::int],
       (ARRAY[NULL, '{}', '{vip}', '{lead}', '{vip,lead}', '{trial}', '{lead,trial,churn}',
              '{churn,vip}'])[1 + floor(random() * 8)::int]::text[],
       CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 1000)::numeric, 2) END,
       CASE WHEN random() < 0.15 THEN NULL ELSE jsonb_strip_nulls(jsonb_build_object(
         'plan', (ARRAY['pro', 'free', 'ent', 'PRO', NULL])[1 + floor(random() * 5)::int],
         'visits', CASE WHEN random() < 0.2 THEN to_jsonb('12'::text)
                        ELSE to_jsonb(floor(random() * 20)::int) END,
         'beta', (ARRAY[true, false, NULL])[1 + floor(random() * 3)::int],
         'trial_ends', CASE WHEN random() < 0.5 THEN NULL
                            ELSE (now() + (random() * 300 - 60) * interval '1 second')::text END))
       END,
       (ARRAY[true, false, false, NULL])[1 + floor(random() * 4)::int],
       now() - random() * interval '5 minutes',
       CASE WHEN random() < 0.2 THEN NULL
            ELSE now() + (random() * 200 - 120) * interval '1 second' END,
       CASE WHEN random() < 0.1 THEN NULL ELSE 1 + floor(random() * 40)::int END,
       NULL
  FROM generate_series(1, 2000) AS i;
UPDATE customers SET referrer_id = 1 + floor(random() * 2000)::int WHERE random() < 0.3;
INSERT INTO orders
SELECT i, 1 + floor(random() * 2000)::int,
       (ARRAY['paid', 'paid', 'pending', 'refunded', 'cancelled', NULL])
         [1 + floor(random() * 6)::int],
       CASE WHEN random() < 0.05 THEN NULL ELSE round((random() * 400)::numeric, 2) END,
       now() - random() * interval '3 minutes'
  FROM generate_series(1, 4000) AS i;
ANALYZE;
)SQL";

enum class Kind { kRealtime, kScheduled, kStatic };

struct SegmentDef {
  const char* system_name;
  const char* object;
  Kind kind;
  const char* filter;                     // nullptr for static
  std::vector<const char*> alternatives;  // other filters alter_segment switches between
  const char* schedule;                   // scheduled segments: nullptr for none
  const char* events;                     // scheduled segments: update_on_events array, or nullptr
};

// In creation order: a filter reads with IN SEGMENT only segments listed before it, in every
// alternative too, so no change can make a cycle.
const std::vector<SegmentDef>& segment_defs() {
  static const std::vector<SegmentDef> defs = {
      // customers: one table's own columns
      {"rt-gold",
       "customers",
       Kind::kRealtime,
       "tier = 'gold'",
       {"tier IN ('gold', 'platinum')", "tier = 'gold' AND lifetime_value > 100"},
       nullptr,
       nullptr},
      {"rt-gold-om",
       "customers",
       Kind::kRealtime,
       "tier = 'gold' AND country = 'OM'",
       {"tier = 'gold' AND country IN ('OM', 'AE')"},
       nullptr,
       nullptr},
      {"rt-gulf",
       "customers",
       Kind::kRealtime,
       "country IN ('OM', 'AE', 'SA')",
       {"country NOT IN ('DE', 'US')", "country = 'SA'"},
       nullptr,
       nullptr},
      {"rt-vip",
       "customers",
       Kind::kRealtime,
       "tags CONTAINS 'vip'",
       {"tags CONTAINS 'vip' AND NOT opted_out"},
       nullptr,
       nullptr},
      {"rt-lead-or-trial",
       "customers",
       Kind::kRealtime,
       "tags CONTAINS ANY ('lead', 'trial')",
       {"tags NOT CONTAINS ANY ('lead', 'trial')"},
       nullptr,
       nullptr},
      {"rt-vip-lead",
       "customers",
       Kind::kRealtime,
       "tags CONTAINS ALL ('vip', 'lead')",
       {"tags NOT CONTAINS ALL ('vip', 'lead')"},
       nullptr,
       nullptr},
      {"rt-not-vip",
       "customers",
       Kind::kRealtime,
       "tags NOT CONTAINS 'vip' AND opted_out = FALSE",
       {"tags NOT CONTAINS 'vip' OR opted_out IS NULL"},
       nullptr,
       nullptr},
      {"rt-plan-pro",
       "customers",
       Kind::kRealtime,
       "attrs.plan = 'pro'",
       {"attrs.plan IN ('pro', 'ent')", "attrs.plan LIKE 'p%'"},
       nullptr,
       nullptr},
      {"rt-visits",
       "customers",
       Kind::kRealtime,
       "attrs.visits >= 10",
       {"attrs.visits BETWEEN 3 AND 12"},
       nullptr,
       nullptr},
      {"rt-beta",
       "customers",
       Kind::kRealtime,
       "attrs.beta",
       {"attrs.beta = FALSE", "attrs.beta IS NULL"},
       nullptr,
       nullptr},
      {"rt-high-value",
       "customers",
       Kind::kRealtime,
       "lifetime_value > 500",
       {"lifetime_value >= 700", "lifetime_value > 500 OR lifetime_value IS NULL"},
       nullptr,
       nullptr},
      {"rt-or-group",
       "customers",
       Kind::kRealtime,
       "(lifetime_value > 800 OR tier IN ('gold', 'platinum')) AND NOT opted_out",
       {"lifetime_value > 800 OR tier = 'platinum' OR tags CONTAINS 'vip'"},
       nullptr,
       nullptr},
      {"rt-mid-value",
       "customers",
       Kind::kRealtime,
       "lifetime_value BETWEEN 100 AND 300",
       {"lifetime_value NOT BETWEEN 100 AND 300"},
       nullptr,
       nullptr},
      {"rt-no-country",
       "customers",
       Kind::kRealtime,
       "country IS NULL",
       {"country IS NOT NULL AND tier IS NULL"},
       nullptr,
       nullptr},
      {"rt-example-mail",
       "customers",
       Kind::kRealtime,
       "email ILIKE '%@example.com'",
       {"email LIKE 'u1%'"},
       nullptr,
       nullptr},
      // customers: relative time
      {"rt-seen-1m",
       "customers",
       Kind::kRealtime,
       "last_seen_at WITHIN LAST 1 MINUTE",
       {"last_seen_at WITHIN LAST 2 MINUTES",
        "last_seen_at WITHIN LAST 1 MINUTE AND tier = 'gold'"},
       nullptr,
       nullptr},
      {"rt-coming",
       "customers",
       Kind::kRealtime,
       "last_seen_at WITHIN NEXT 1 MINUTE",
       {"last_seen_at WITHIN NEXT 2 MINUTES"},
       nullptr,
       nullptr},
      {"rt-old-accounts",
       "customers",
       Kind::kRealtime,
       "created_at OLDER THAN 2 MINUTES AND tier <> 'bronze'",
       {"created_at OLDER THAN 1 MINUTE"},
       nullptr,
       nullptr},
      {"rt-trial-ending",
       "customers",
       Kind::kRealtime,
       "attrs.trial_ends WITHIN NEXT 2 MINUTES",
       {"attrs.trial_ends WITHIN LAST 1 MINUTE OR attrs.trial_ends WITHIN NEXT 1 MINUTE"},
       nullptr,
       nullptr},
      // customers: relationships (many-to-one, one-to-many, a foreign key to itself)
      {"rt-software",
       "customers",
       Kind::kRealtime,
       "organizations.industry = 'software'",
       {"organizations.industry IN ('software', 'retail')", "organizations.industry IS NULL"},
       nullptr,
       nullptr},
      {"rt-big-org-gold",
       "customers",
       Kind::kRealtime,
       "organizations.size >= 500 AND tier = 'gold'",
       {"organizations.size >= 200"},
       nullptr,
       nullptr},
      {"rt-paid-twice",
       "customers",
       Kind::kRealtime,
       "orders.count(status = 'paid') >= 2",
       {"orders.count(status = 'paid') >= 3", "orders.count() >= 2"},
       nullptr,
       nullptr},
      {"rt-spenders",
       "customers",
       Kind::kRealtime,
       "orders.sum(amount WHERE status = 'paid') > 300",
       {"orders.sum(amount) > 500", "orders.avg(amount) > 150"},
       nullptr,
       nullptr},
      {"rt-recent-buyers",
       "customers",
       Kind::kRealtime,
       "orders.count(created_at WITHIN LAST 1 MINUTE) >= 1",
       {"orders.exists(created_at WITHIN LAST 2 MINUTES AND status = 'paid')"},
       nullptr,
       nullptr},
      {"rt-silver-no-refund",
       "customers",
       Kind::kRealtime,
       "NOT orders.exists(status = 'refunded') AND tier = 'silver'",
       {"NOT orders.exists(status = 'refunded')"},
       nullptr,
       nullptr},
      {"rt-referred-by-gold",
       "customers",
       Kind::kRealtime,
       "customers.tier = 'gold'",
       {"customers.country = 'OM'"},
       nullptr,
       nullptr},
      {"rt-lapsed",
       "customers",
       Kind::kRealtime,
       "orders.max(created_at) OLDER THAN 1 MINUTE",
       {"orders.min(amount) < 20"},
       nullptr,
       nullptr},
      // customers: scheduled and static
      {"sc-silver",
       "customers",
       Kind::kScheduled,
       "tier = 'silver' AND lifetime_value > 50",
       {"tier = 'silver'"},
       "* * * * *",
       nullptr},
      {"sc-big-spenders",
       "customers",
       Kind::kScheduled,
       "orders.sum(amount) > 500",
       {"orders.sum(amount) > 300"},
       "every minute",
       nullptr},
      {"sc-leads",
       "customers",
       Kind::kScheduled,
       "tags CONTAINS 'lead'",
       {"tags CONTAINS 'lead' AND country IS NOT NULL"},
       nullptr,
       "ARRAY['signup', 'purchase']"},
      {"sc-seen",
       "customers",
       Kind::kScheduled,
       "last_seen_at WITHIN LAST 2 MINUTES",
       {"last_seen_at WITHIN LAST 1 MINUTE OR tier = 'platinum'"},
       "* * * * *",
       nullptr},
      {"st-picked", "customers", Kind::kStatic, nullptr, {}, nullptr, nullptr},
      // customers: nested segments
      {"rt-gold-not-vip",
       "customers",
       Kind::kRealtime,
       "IN SEGMENT 'rt-gold' AND NOT IN SEGMENT 'rt-vip'",
       {"IN SEGMENT 'rt-gold' OR IN SEGMENT 'rt-vip'"},
       nullptr,
       nullptr},
      {"rt-picked-or-big",
       "customers",
       Kind::kRealtime,
       "IN SEGMENT 'sc-big-spenders' OR IN SEGMENT 'st-picked'",
       {"IN SEGMENT 'st-picked' AND tier IS NOT NULL"},
       nullptr,
       nullptr},
      {"rt-seen-om",
       "customers",
       Kind::kRealtime,
       "IN SEGMENT 'rt-seen-1m' AND country = 'OM'",
       {"IN SEGMENT 'rt-seen-1m' OR IN SEGMENT 'rt-coming'"},
       nullptr,
       nullptr},
      {"rt-deep",
       "customers",
       Kind::kRealtime,
       "IN SEGMENT 'rt-gold-not-vip' OR (IN SEGMENT 'rt-paid-twice' AND NOT IN SEGMENT "
       "'rt-software')",
       {"NOT IN SEGMENT 'rt-gold-not-vip' AND IN SEGMENT 'rt-spenders'"},
       nullptr,
       nullptr},
      {"sc-nested",
       "customers",
       Kind::kScheduled,
       "IN SEGMENT 'rt-deep' OR organizations.industry = 'retail'",
       {"IN SEGMENT 'sc-silver' AND NOT IN SEGMENT 'rt-vip'"},
       nullptr,
       nullptr},
      {"rt-reads-sched",
       "customers",
       Kind::kRealtime,
       "IN SEGMENT 'sc-nested' AND NOT opted_out",
       {"IN SEGMENT 'sc-nested' OR IN SEGMENT 'sc-leads'"},
       nullptr,
       nullptr},
      // organizations
      {"org-software",
       "organizations",
       Kind::kRealtime,
       "industry = 'software'",
       {"industry IN ('software', 'health')"},
       nullptr,
       nullptr},
      {"org-gold-heavy",
       "organizations",
       Kind::kRealtime,
       "customers.count(tier = 'gold') >= 3",
       {"customers.count() >= 60",
        "customers.exists(tags CONTAINS 'vip' AND lifetime_value > 900)"},
       nullptr,
       nullptr},
      {"org-big",
       "organizations",
       Kind::kScheduled,
       "size > 200",
       {"size > 500"},
       "* * * * *",
       nullptr},
      // orders
      {"ord-paid-big",
       "orders",
       Kind::kRealtime,
       "status = 'paid' AND amount > 100",
       {"status IN ('paid', 'pending') AND amount > 200"},
       nullptr,
       nullptr},
      {"ord-gold-customer",
       "orders",
       Kind::kRealtime,
       "customers.tier = 'gold' AND status <> 'cancelled'",
       {"customers.country = 'OM'"},
       nullptr,
       nullptr},
      {"ord-software",
       "orders",
       Kind::kRealtime,
       "customers.organizations.industry = 'software' AND status = 'paid'",
       {"customers.organizations.size < 100"},
       nullptr,
       nullptr},
      {"ord-recent",
       "orders",
       Kind::kRealtime,
       "created_at WITHIN LAST 1 MINUTE",
       {"created_at WITHIN LAST 2 MINUTES AND status = 'paid'"},
       nullptr,
       nullptr},
      {"ord-of-vips",
       "orders",
       Kind::kRealtime,
       "customers.tags CONTAINS 'vip'",
       {"customers.tags CONTAINS 'vip' AND amount > 50"},
       nullptr,
       nullptr},
  };
  return defs;
}

// ---------------------------------------------------------------------------------------------
// Shared state of the clients
// ---------------------------------------------------------------------------------------------

struct Counters {
  std::atomic<long long> transactions{0};  // writer transactions committed
  std::atomic<long long> rolled_back{0};   // writer transactions ended with ROLLBACK
  std::atomic<long long> savepoints_undone{0};
  std::atomic<long long> statements{0};
  std::atomic<long long> copies{0};
  std::atomic<long long> deadlocks{0};
  std::atomic<long long> serialization{0};
  std::atomic<long long> definition_changes{0};
  std::atomic<long long> switches{0};
  std::atomic<long long> refreshes{0};
  std::atomic<long long> reads{0};
  std::atomic<long long> snapshot_checks{0};
};

class Shared {
 public:
  std::string database;
  bool crash_mode = false;
  // The server was killed and came back: a refresh it cut short is recorded as interrupted by
  // the next refresh_due(), as it should be.
  std::atomic<bool> restarted{false};
  bool keep_going = false;  // record failures and go on (a checkpoint then repairs segments)
  Counters counters;
  std::atomic<long long> next_customer{2001};
  std::atomic<long long> next_order{4001};
  std::atomic<long long> next_org{1001};
  std::atomic<long long> next_commit{1};
  std::atomic<long long> transaction_budget{0};  // writer transactions left
  std::atomic<bool> stop{false};
  std::atomic<bool> server_lost{false};

  // Waits while a checkpoint holds the clients; false when the client should end.
  bool gate() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (pause_) {
      ++paused_;
      changed_.notify_all();
      changed_.wait(lock, [&] { return !pause_; });
      --paused_;
    }
    return !stop && !server_lost;
  }

  void enter() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++running_;
  }
  void connected() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++connected_;
    changed_.notify_all();
  }
  void leave() {
    std::lock_guard<std::mutex> lock(mutex_);
    --running_;
    changed_.notify_all();
  }

  // Waits until count clients are connected (or gone).
  void wait_connected(int count) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return connected_ >= count || stop || server_lost; });
  }

  // Holds every client between two transactions; false after the timeout.
  bool pause(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    pause_ = true;
    return changed_.wait_for(lock, timeout, [&] { return paused_ >= running_ || server_lost; });
  }
  void resume() {
    std::lock_guard<std::mutex> lock(mutex_);
    pause_ = false;
    changed_.notify_all();
  }

  void fail(const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    failures_.push_back(message);
    if (failures_.size() <= 200) std::printf("FAIL: %s\n", message.c_str());
    std::fflush(stdout);
    if (!keep_going) stop = true;
    changed_.notify_all();
  }
  void lose(const std::string& who, const std::string& message) {
    if (!crash_mode) {
      fail(who + ": lost the connection to the server: " + message);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (!server_lost) {
      std::printf("soak: %s lost the server: %s\n", who.c_str(),
                  message.substr(0, message.find('\n', message.find('\n') + 1)).c_str());
      std::fflush(stdout);
    }
    server_lost = true;
    changed_.notify_all();
  }
  std::size_t failure_count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return failures_.size();
  }
  // Failures grouped by what failed (the segment and the check, without keys and counts).
  std::map<std::string, int> failure_kinds() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<std::string, int> kinds;
    static const std::regex numbers("\\b(id|member|has|in) [0-9]+");
    for (const std::string& f : failures_) {
      std::string kind = f.substr(0, f.find('\n'));
      for (const char* end :
           {" differs from its truth", " or not a segment of it", "'s previous change", " pairs"}) {
        std::size_t at = kind.find(end);
        if (at != std::string::npos) kind = kind.substr(0, at + std::string(end).size());
      }
      ++kinds[std::regex_replace(kind, numbers, "$1 N").substr(0, 160)];
    }
    return kinds;
  }

  // Crash bookkeeping: a COMMIT about to be sent, and its acknowledgement.
  void commit_sent(int writer, long long id) {
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_[writer] = id;
  }
  void commit_acknowledged(int writer, long long id) {
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_.erase(writer);
    acknowledged_.push_back(id);
  }
  std::vector<long long> acknowledged() {
    std::lock_guard<std::mutex> lock(mutex_);
    return acknowledged_;
  }
  std::set<long long> in_flight() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::set<long long> ids;
    for (const auto& entry : in_flight_) ids.insert(entry.second);
    return ids;
  }
  void clear_in_flight() {
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_.clear();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool pause_ = false;
  int paused_ = 0;
  int running_ = 0;
  int connected_ = 0;
  std::vector<std::string> failures_;
  std::map<int, long long> in_flight_;
  std::vector<long long> acknowledged_;
};

class Random {
 public:
  explicit Random(std::uint64_t seed) : rng_(seed) {}
  int below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  long long between(long long low, long long high) {
    return std::uniform_int_distribution<long long>(low, high)(rng_);
  }
  double real(double low, double high) {
    return std::uniform_real_distribution<double>(low, high)(rng_);
  }
  bool chance(int percent) { return below(100) < percent; }
  template <typename T>
  const T& one(const std::vector<T>& values) {
    return values[static_cast<std::size_t>(below(static_cast<int>(values.size())))];
  }
  // An index into weights, chosen in proportion to them.
  int weighted(const std::vector<int>& weights) {
    int total = 0;
    for (int w : weights) total += w;
    int at = below(total);
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (at < weights[i]) return static_cast<int>(i);
      at -= weights[i];
    }
    return 0;
  }

 private:
  std::mt19937_64 rng_;
};

// One column value in text form; nullopt is NULL. Values never hold quotes, tabs or
// backslashes, so they go into SQL literals and COPY text as they are.
using Value = std::optional<std::string>;

std::string sql_literal(const Value& v) {
  return v ? "'" + *v + "'" : "NULL";
}
std::string copy_field(const Value& v) {
  return v ? *v : "\\N";
}

// ---------------------------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------------------------

class Writer {
 public:
  Writer(Shared& shared, Connection& conn, int index, std::uint64_t seed)
      : shared_(shared), conn_(conn), index_(index), rnd_(seed) {}

  // One transaction: 1 to 4 operations, sometimes inside a savepoint that is then rolled back
  // or released, the commit id, then COMMIT (or ROLLBACK one time in ten).
  void step() {
    if (shared_.transaction_budget.fetch_sub(1) <= 0) {
      shared_.stop = true;
      return;
    }
    const long long commit_id = shared_.next_commit.fetch_add(1);
    exec("BEGIN");
    bool savepoint = false;
    const int operations = 1 + rnd_.below(4);
    for (int i = 0; i < operations; ++i) {
      if (!savepoint && rnd_.chance(15)) {
        exec("SAVEPOINT soak");
        savepoint = true;
      }
      operation();
      if (savepoint && rnd_.chance(50)) {
        if (rnd_.chance(50)) {
          exec("ROLLBACK TO SAVEPOINT soak");
          ++shared_.counters.savepoints_undone;
        } else {
          exec("RELEASE SAVEPOINT soak");
        }
        savepoint = false;
      }
    }
    exec("INSERT INTO soak_commits (id, writer) VALUES (" + std::to_string(commit_id) + ", " +
         std::to_string(index_) + ")");
    if (rnd_.chance(10)) {
      exec("ROLLBACK");
      ++shared_.counters.rolled_back;
      return;
    }
    shared_.commit_sent(index_, commit_id);
    Result r = conn_.exec("COMMIT");
    if (!r.ok()) raise(conn_, r, "COMMIT");
    if (r.command_status() != "COMMIT") {
      throw std::runtime_error("COMMIT answered " + r.command_status());
    }
    shared_.commit_acknowledged(index_, commit_id);
    ++shared_.counters.transactions;
  }

 private:
  Result exec(const std::string& sql) {
    ++shared_.counters.statements;
    return run(conn_, sql);
  }

  void copy(const std::string& copy_sql, const std::string& data) {
    ++shared_.counters.statements;
    ++shared_.counters.copies;
    Result r = conn_.copy_in(copy_sql, data);
    if (!r.ok()) raise(conn_, r, copy_sql + "\n" + data.substr(0, 300));
  }

  void operation() {
    static const std::vector<int> weights = {12, 4, 20, 4, 6, 3, 5, 12, 3,
                                             10, 3, 4,  5, 1, 1, 1, 8,  3};
    switch (rnd_.weighted(weights)) {
      case 0:
        insert_customers();
        break;
      case 1:
        copy_customers();
        break;
      case 2:
        update_customers();
        break;
      case 3:
        update_customer_range();
        break;
      case 4:
        upsert_customers();
        break;
      case 5:
        change_customer_key();
        break;
      case 6:
        delete_customers();
        break;
      case 7:
        insert_orders();
        break;
      case 8:
        copy_orders();
        break;
      case 9:
        update_orders();
        break;
      case 10:
        move_order();
        break;
      case 11:
        delete_orders();
        break;
      case 12:
        update_organization();
        break;
      case 13:
        insert_organization();
        break;
      case 14:
        delete_organization();
        break;
      case 15:
        change_organization_key();
        break;
      case 16:
        touch_customers();
        break;
      default:
        insert_event();
        break;
    }
  }

  // Keys of up to n rows of table from a random place on. With lock, the rows are locked
  // FOR KEY SHARE so that a foreign key to them holds until commit (a row deleted meanwhile is
  // simply not returned).
  std::vector<long long> pick(const char* table, long long upper, int n, bool lock) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      long long from = attempt == 0 ? rnd_.between(1, upper) : 0;
      Result r =
          exec(std::string("SELECT id FROM ") + table + " WHERE id >= " + std::to_string(from) +
               " ORDER BY id LIMIT " + std::to_string(n) + (lock ? " FOR KEY SHARE" : ""));
      if (r.rows() > 0 || from == 0) {
        std::vector<long long> ids;
        for (int i = 0; i < r.rows(); ++i) ids.push_back(std::stoll(r.get(i, 0)));
        return ids;
      }
    }
    return {};
  }
  std::vector<long long> customers(int n, bool lock = false) {
    return pick("customers", shared_.next_customer.load(), n, lock);
  }
  std::vector<long long> orders(int n) {
    return pick("orders", shared_.next_order.load(), n, false);
  }
  std::vector<long long> organizations(int n, bool lock = false) {
    return pick("organizations", 60, n, lock);
  }

  static std::string id_list(const std::vector<long long>& ids) {
    std::string out = "ARRAY[";
    for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
    return out + "]::bigint[]";
  }

  Value tier() { return rnd_.one<Value>({"bronze", "silver", "gold", "platinum", std::nullopt}); }
  Value country() { return rnd_.one<Value>({"OM", "AE", "SA", "DE", "US", std::nullopt}); }
  Value tags() {
    return rnd_.one<Value>({std::nullopt, "{}", "{vip}", "{lead}", "{vip,lead}", "{trial}",
                            "{lead,trial,churn}", "{churn,vip}", "{vip,trial,lead}"});
  }
  Value money(int high) {
    if (rnd_.chance(8)) return std::nullopt;
    return std::to_string(rnd_.below(high * 100) / 100.0);
  }
  Value email(long long id) {
    if (rnd_.chance(10)) return std::nullopt;
    return "u" + std::to_string(id) +
           rnd_.one<std::string>({"@example.com", "@EXAMPLE.COM", "@mail.test"});
  }
  Value flag() { return rnd_.one<Value>({"true", "false", "false", std::nullopt}); }
  // Around now: from before the one- and two-minute windows to after them.
  Value seen() {
    if (rnd_.chance(15)) return std::nullopt;
    return time_text(rnd_.real(-150, 100));
  }
  Value created() { return time_text(-rnd_.real(0, 200)); }
  // jsonb attributes, with missing keys, JSON nulls and values of other types.
  Value attrs() {
    if (rnd_.chance(10)) return std::nullopt;
    std::vector<std::string> pairs;
    if (rnd_.chance(80)) {
      pairs.push_back("\"plan\": " + rnd_.one<std::string>({"\"pro\"", "\"free\"", "\"ent\"",
                                                            "\"PRO\"", "1", "null"}));
    }
    if (rnd_.chance(70)) {
      pairs.push_back("\"visits\": " +
                      (rnd_.chance(15) ? std::string("\"12\"") : std::to_string(rnd_.below(20))));
    }
    if (rnd_.chance(60)) {
      pairs.push_back("\"beta\": " + rnd_.one<std::string>({"true", "false", "\"true\"", "null"}));
    }
    if (rnd_.chance(60)) {
      std::string at = rnd_.chance(80)
                           ? "\"" + time_text(rnd_.real(-90, 200), rnd_.chance(50)) + "\""
                           : rnd_.one<std::string>({"\"soon\"", "\"now\"", "5"});
      pairs.push_back("\"trial_ends\": " + at);
    }
    std::string out = "{";
    for (std::size_t i = 0; i < pairs.size(); ++i) out += (i ? ", " : "") + pairs[i];
    return out + "}";
  }
  Value status() {
    return rnd_.one<Value>({"paid", "paid", "pending", "refunded", "cancelled", std::nullopt});
  }
  Value order_time() {
    return rnd_.chance(80) ? time_text(-rnd_.real(0, 150)) : time_text(-rnd_.real(0, 86400));
  }

  // A new customer row (id first), referencing locked organizations and customers.
  std::vector<Value> customer_row(long long id, const std::vector<long long>& orgs,
                                  const std::vector<long long>& referrers) {
    Value org =
        orgs.empty() || rnd_.chance(10) ? std::nullopt : Value(std::to_string(rnd_.one(orgs)));
    Value referrer = referrers.empty() || rnd_.chance(50)
                         ? std::nullopt
                         : Value(std::to_string(rnd_.one(referrers)));
    return {std::to_string(id), email(id), tier(), country(), tags(), money(1000), attrs(), flag(),
            created(),          seen(),    org,    referrer};
  }
  static constexpr const char* kCustomerColumns =
      "id, email, tier, country, tags, lifetime_value, attrs, opted_out, created_at, "
      "last_seen_at, org_id, referrer_id";

  static std::string values_list(const std::vector<std::vector<Value>>& rows) {
    std::string out;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      out += r ? ", (" : "(";
      for (std::size_t c = 0; c < rows[r].size(); ++c) {
        out += (c ? ", " : "") + sql_literal(rows[r][c]);
      }
      out += ")";
    }
    return out;
  }
  static std::string copy_text(const std::vector<std::vector<Value>>& rows) {
    std::string out;
    for (const auto& row : rows) {
      for (std::size_t c = 0; c < row.size(); ++c) out += (c ? "\t" : "") + copy_field(row[c]);
      out += "\n";
    }
    return out;
  }

  std::vector<std::vector<Value>> new_customers(int n) {
    std::vector<long long> orgs = organizations(3, true);
    std::vector<long long> referrers =
        rnd_.chance(50) ? customers(2, true) : std::vector<long long>{};
    std::vector<std::vector<Value>> rows;
    for (int i = 0; i < n; ++i)
      rows.push_back(customer_row(shared_.next_customer++, orgs, referrers));
    return rows;
  }

  void insert_customers() {
    exec(std::string("INSERT INTO customers (") + kCustomerColumns + ") VALUES " +
         values_list(new_customers(1 + rnd_.below(3))));
  }

  void copy_customers() {
    copy(std::string("COPY customers (") + kCustomerColumns + ") FROM STDIN",
         copy_text(new_customers(2 + rnd_.below(7))));
  }

  // SET clauses over the columns segments read: plain values and expressions on the old row.
  std::string customer_assignments() {
    std::vector<std::string> sets;
    const int count = 1 + rnd_.below(3);
    for (int i = 0; i < count; ++i) {
      switch (rnd_.below(14)) {
        case 0:
          sets.push_back("tier = " + sql_literal(tier()));
          break;
        case 1:
          sets.push_back("country = " + sql_literal(country()));
          break;
        case 2:
          sets.push_back("tags = " + sql_literal(tags()));
          break;
        case 3:
          sets.push_back("tags = array_append(tags, 'vip')");
          break;
        case 4:
          sets.push_back("lifetime_value = " + sql_literal(money(1000)));
          break;
        case 5:
          sets.push_back("lifetime_value = lifetime_value + 150");
          break;
        case 6:
          sets.push_back("attrs = " + sql_literal(attrs()));
          break;
        case 7:
          sets.push_back("attrs = coalesce(attrs, '{}') || '{\"visits\": " +
                         std::to_string(rnd_.below(20)) + "}'");
          break;
        case 8:
          sets.push_back("opted_out = " + sql_literal(flag()));
          break;
        case 9:
          sets.push_back("last_seen_at = " + sql_literal(seen()));
          break;
        case 10:
          sets.push_back("created_at = " + sql_literal(created()));
          break;
        case 11:
          sets.push_back("email = " + sql_literal(email(rnd_.below(3000))));
          break;
        case 12: {
          std::vector<long long> orgs = organizations(1, true);
          sets.push_back("org_id = " +
                         (orgs.empty() ? std::string("NULL") : std::to_string(orgs[0])));
          break;
        }
        default: {
          std::vector<long long> referrers = customers(1, true);
          sets.push_back("referrer_id = " +
                         (referrers.empty() ? std::string("NULL") : std::to_string(referrers[0])));
          break;
        }
      }
    }
    // One assignment per column: the last one wins.
    std::map<std::string, std::string> by_column;
    for (const std::string& s : sets) by_column[s.substr(0, s.find(' '))] = s;
    std::string out;
    for (const auto& entry : by_column) out += (out.empty() ? "" : ", ") + entry.second;
    return out;
  }

  void update_customers() {
    std::vector<long long> ids = customers(1 + rnd_.below(3));
    if (ids.empty()) return;
    exec("UPDATE customers SET " + customer_assignments() + " WHERE id = ANY(" + id_list(ids) +
         ")");
  }

  void update_customer_range() {
    long long from = rnd_.between(1, shared_.next_customer.load());
    exec("UPDATE customers SET lifetime_value = round((coalesce(lifetime_value, 0) * 0.9 + " +
         std::to_string(rnd_.below(200)) + ")::numeric, 2), tier = CASE WHEN tier = 'gold' THEN " +
         "'silver' WHEN tier = 'silver' THEN 'gold' ELSE tier END WHERE id BETWEEN " +
         std::to_string(from) + " AND " + std::to_string(from + 15));
  }

  // INSERT ... ON CONFLICT DO UPDATE over existing keys (maybe deleted meanwhile: then
  // inserted again under the old key) and new ones.
  void upsert_customers() {
    std::vector<long long> ids = customers(1 + rnd_.below(2));
    ids.push_back(shared_.next_customer++);
    std::vector<long long> orgs = organizations(2, true);
    std::vector<std::vector<Value>> rows;
    for (long long id : ids) rows.push_back(customer_row(id, orgs, {}));
    exec(std::string("INSERT INTO customers AS c (") + kCustomerColumns + ") VALUES " +
         values_list(rows) +
         " ON CONFLICT (id) DO UPDATE SET tier = EXCLUDED.tier, tags = EXCLUDED.tags, "
         "attrs = EXCLUDED.attrs, lifetime_value = coalesce(c.lifetime_value, 0) + 75, "
         "last_seen_at = EXCLUDED.last_seen_at");
  }

  // The primary key changes: memberships follow; orders and referrers follow by cascade.
  void change_customer_key() {
    std::vector<long long> ids = customers(1);
    if (ids.empty()) return;
    exec("UPDATE customers SET id = " + std::to_string(shared_.next_customer++) +
         " WHERE id = " + std::to_string(ids[0]));
  }

  void delete_customers() {
    std::vector<long long> ids = customers(1 + rnd_.below(2));
    if (ids.empty()) return;
    exec("DELETE FROM customers WHERE id = ANY(" + id_list(ids) + ")");
  }

  std::vector<std::vector<Value>> new_orders() {
    std::vector<long long> owners = customers(1 + rnd_.below(2), true);
    std::vector<std::vector<Value>> rows;
    for (long long owner : owners) {
      const int count = 1 + rnd_.below(3);
      for (int i = 0; i < count; ++i) {
        rows.push_back({std::to_string(shared_.next_order++), std::to_string(owner), status(),
                        money(400), order_time()});
      }
    }
    return rows;
  }

  void insert_orders() {
    std::vector<std::vector<Value>> rows = new_orders();
    if (rows.empty()) return;
    exec("INSERT INTO orders (id, customer_id, status, amount, created_at) VALUES " +
         values_list(rows));
  }

  void copy_orders() {
    std::vector<std::vector<Value>> rows = new_orders();
    if (rows.empty()) return;
    copy("COPY orders (id, customer_id, status, amount, created_at) FROM STDIN", copy_text(rows));
  }

  void update_orders() {
    if (rnd_.chance(20)) {
      std::vector<long long> owners = customers(1);
      if (owners.empty()) return;
      exec("UPDATE orders SET status = " + sql_literal(status()) +
           " WHERE customer_id = " + std::to_string(owners[0]));
      return;
    }
    std::vector<long long> ids = orders(1 + rnd_.below(3));
    if (ids.empty()) return;
    std::string sets;
    switch (rnd_.below(4)) {
      case 0:
        sets = "status = " + sql_literal(status());
        break;
      case 1:
        sets = "amount = " + sql_literal(money(400));
        break;
      case 2:
        sets = "created_at = " + sql_literal(order_time());
        break;
      default:
        sets = "status = " + sql_literal(status()) + ", amount = " + sql_literal(money(400));
        break;
    }
    exec("UPDATE orders SET " + sets + " WHERE id = ANY(" + id_list(ids) + ")");
  }

  void move_order() {
    std::vector<long long> ids = orders(1);
    std::vector<long long> owners = customers(1, true);
    if (ids.empty() || owners.empty()) return;
    exec("UPDATE orders SET customer_id = " + std::to_string(owners[0]) +
         " WHERE id = " + std::to_string(ids[0]));
  }

  void delete_orders() {
    if (rnd_.chance(30)) {
      std::vector<long long> owners = customers(1);
      if (owners.empty()) return;
      exec("DELETE FROM orders WHERE customer_id = " + std::to_string(owners[0]) +
           " AND status IN ('cancelled', 'refunded')");
      return;
    }
    std::vector<long long> ids = orders(1 + rnd_.below(2));
    if (ids.empty()) return;
    exec("DELETE FROM orders WHERE id = ANY(" + id_list(ids) + ")");
  }

  void update_organization() {
    std::vector<long long> ids = organizations(1);
    if (ids.empty()) return;
    std::string sets =
        rnd_.chance(50)
            ? "industry = " + sql_literal(rnd_.one<Value>(
                                  {"software", "retail", "health", "energy", std::nullopt}))
            : "size = " +
                  sql_literal(rnd_.one<Value>({"5", "50", "200", "500", "1000", std::nullopt}));
    exec("UPDATE organizations SET " + sets + " WHERE id = " + std::to_string(ids[0]));
  }

  void insert_organization() {
    long long id = shared_.next_org++;
    exec("INSERT INTO organizations VALUES (" + std::to_string(id) + ", 'org " +
         std::to_string(id) + "', " +
         sql_literal(rnd_.one<Value>({"software", "retail", "health", std::nullopt})) + ", " +
         std::to_string(rnd_.one<int>({5, 200, 1000})) + ")");
  }

  // Customers of the organization get org_id = NULL by the foreign key's ON DELETE SET NULL.
  void delete_organization() {
    if (!rnd_.chance(30)) return;
    std::vector<long long> ids = organizations(1);
    if (ids.empty()) return;
    exec("DELETE FROM organizations WHERE id = " + std::to_string(ids[0]));
  }

  void change_organization_key() {
    std::vector<long long> ids = organizations(1);
    if (ids.empty()) return;
    exec("UPDATE organizations SET id = " + std::to_string(shared_.next_org++) +
         " WHERE id = " + std::to_string(ids[0]));
  }

  // Activity around the relative-time windows.
  void touch_customers() {
    std::vector<long long> ids = customers(1 + rnd_.below(4));
    if (ids.empty()) return;
    std::string sets = "last_seen_at = " + sql_literal(seen());
    if (rnd_.chance(40)) {
      sets += ", attrs = coalesce(attrs, '{}') || jsonb_build_object('trial_ends', " +
              sql_literal(time_text(rnd_.real(-90, 150))) + "::text)";
    }
    exec("UPDATE customers SET " + sets + " WHERE id = ANY(" + id_list(ids) + ")");
  }

  void insert_event() {
    exec("INSERT INTO events (customer_id, type) VALUES (" +
         std::to_string(rnd_.between(1, shared_.next_customer.load())) + ", " +
         sql_literal(rnd_.one<Value>({"signup", "purchase", "visit"})) + ")");
  }

  Shared& shared_;
  Connection& conn_;
  int index_;
  Random rnd_;
};

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

struct SegmentState {
  long long id = 0;
  std::string system_name;
  std::string kind;
  bool active = false;
  std::string filter;
  std::string object;
  std::string key_column;
  std::string membership;
  std::string where;  // segments.to_sql(filter, object), empty for static segments
  bool relative_time = false;
};

std::vector<SegmentState> load_segments(Connection& conn) {
  Result r = run(conn,
                 "SELECT s.id, s.system_name, s.kind, s.active, coalesce(s.filter::text, ''), "
                 "s.object::text, o.key_column, o.membership::text, "
                 "coalesce(segments.to_sql(s.filter, s.object), '') "
                 "FROM segments.segment s JOIN segments.object o ON o.object = s.object "
                 "ORDER BY s.id");
  std::vector<SegmentState> out;
  for (int i = 0; i < r.rows(); ++i) {
    SegmentState s;
    s.id = std::stoll(r.get(i, 0));
    s.system_name = r.get(i, 1);
    s.kind = r.get(i, 2);
    s.active = r.get(i, 3) == "t";
    s.filter = r.get(i, 4);
    s.object = r.get(i, 5);
    s.key_column = r.get(i, 6);
    s.membership = r.get(i, 7);
    s.where = r.get(i, 8);
    s.relative_time = s.filter.find("WITHIN ") != std::string::npos ||
                      s.filter.find("OLDER THAN") != std::string::npos;
    out.push_back(s);
  }
  return out;
}

// The checks of a checkpoint or of a reader's snapshot; each problem is one line.
class Checker {
 public:
  explicit Checker(Connection& conn) : conn_(conn) {}

  std::vector<std::string> problems;
  std::set<std::string> differing;  // segments whose membership differs from their truth
  int segments_compared = 0;

  // 1: members are rows of their object, of segments in the catalog.
  void orphans(const std::vector<SegmentState>& segments) {
    std::set<std::string> objects;
    for (const SegmentState& s : segments) {
      if (!objects.insert(s.object).second) continue;
      Result r = run(conn_, "SELECT m.segment_id, m.member::text FROM " + s.membership +
                                " m WHERE NOT EXISTS (SELECT 1 FROM " + s.object + " o WHERE o." +
                                s.key_column +
                                " = m.member) OR NOT EXISTS (SELECT 1 FROM "
                                "segments.segment s WHERE s.id = m.segment_id AND s.object = '" +
                                s.object + "'::regclass) ORDER BY 1, 2 LIMIT 20");
      for (int i = 0; i < r.rows(); ++i) {
        problems.push_back("segment id " + r.get(i, 0) + " has member " + r.get(i, 1) +
                           " that is not a row of " + s.object + " or not a segment of it");
      }
    }
    // The workload's foreign keys hold: the triggers' row locks and look-ups must never let a
    // concurrent key change or deletion leave a row referencing nothing.
    static const char* const kForeignKeys[][4] = {
        {"customers", "org_id", "organizations", "id"},
        {"customers", "referrer_id", "customers", "id"},
        {"orders", "customer_id", "customers", "id"},
    };
    for (const auto& fk : kForeignKeys) {
      Result r = run(conn_, std::string("SELECT c.id::text, c.") + fk[1] +
                                "::text, c.xmin::text FROM " + fk[0] + " c WHERE c." + fk[1] +
                                " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM " + fk[2] +
                                " p WHERE p." + fk[3] + " = c." + fk[1] + ") ORDER BY 1 LIMIT 20");
      for (int i = 0; i < r.rows(); ++i) {
        problems.push_back(std::string(fk[0]) + " row " + r.get(i, 0) + " (xmin " + r.get(i, 2) +
                           ") references " + fk[2] + " " + r.get(i, 1) + ", which does not exist");
      }
    }
  }

  // 2 and 4: membership equals truth; an inactive segment is empty. Static segments are skipped.
  void truth(const std::vector<SegmentState>& segments, bool with_relative_time,
             bool with_scheduled) {
    for (const SegmentState& s : segments) {
      if (s.kind == "static") continue;
      if (s.kind == "scheduled" && !with_scheduled) continue;
      if (s.kind == "realtime" && s.relative_time && !with_relative_time) continue;
      const std::string where = s.active ? s.where : std::string("FALSE");
      Result r = run(conn_,
                     "SELECT count(*) FILTER (WHERE t.key IS NULL), "
                     "count(*) FILTER (WHERE m.member IS NULL), "
                     "left(string_agg(CASE WHEN t.key IS NULL THEN 'extra ' || m.member "
                     "ELSE 'missing ' || t.key END, ', ' ORDER BY coalesce(t.key, m.member)), "
                     "300) FROM (SELECT " +
                         s.key_column + " AS key FROM " + s.object + " WHERE " + where +
                         ") t FULL JOIN (SELECT member FROM " + s.membership +
                         " WHERE segment_id = " + std::to_string(s.id) +
                         ") m ON m.member = t.key WHERE t.key IS NULL OR m.member IS NULL");
      ++segments_compared;
      if (r.get(0, 0) != "0" || r.get(0, 1) != "0") {
        differing.insert(s.system_name);
        problems.push_back(s.kind + " segment " + s.system_name + (s.active ? "" : " (inactive)") +
                           " differs from its truth: " + r.get(0, 0) + " members too many, " +
                           r.get(0, 1) + " missing (" + r.get(0, 2) + "); filter: " + s.filter);
      }
    }
  }

  // 3: the feed replayed from empty, in id order, gives the membership; entries and exits of
  // each member alternate, starting with an entry.
  void feed(const std::vector<SegmentState>& segments) {
    std::set<std::string> relations;
    std::string stored;
    for (const SegmentState& s : segments) {
      if (!relations.insert(s.membership).second) continue;
      stored += (stored.empty() ? "" : " UNION ALL ") +
                std::string("SELECT segment_id, member::text AS member FROM ") + s.membership;
    }
    if (stored.empty())
      stored = "SELECT NULL::bigint AS segment_id, NULL::text AS member WHERE false";
    Result replay = run(
        conn_,
        "WITH last AS (SELECT DISTINCT ON (segment_id, member) segment_id, member, change "
        "FROM segments.changes ORDER BY segment_id, member, id DESC), "
        "replayed AS (SELECT segment_id, member FROM last WHERE change = 'entered'), "
        "stored AS (" +
            stored +
            ") SELECT count(*), left(string_agg(coalesce(r.segment_id, s.segment_id) || ':' || "
            "coalesce(r.member, s.member) || CASE WHEN s.member IS NULL THEN ' (replayed only)' "
            "ELSE ' (stored only)' END, ', '), 400) "
            "FROM replayed r FULL JOIN stored s ON s.segment_id = r.segment_id AND s.member = "
            "r.member WHERE r.member IS NULL OR s.member IS NULL");
    if (replay.get(0, 0) != "0") {
      problems.push_back("the change feed replayed from empty differs from membership in " +
                         replay.get(0, 0) + " (segment, member) pairs: " + replay.get(0, 1));
    }
    Result order =
        run(conn_,
            "SELECT count(*), left(string_agg(segment_id || ':' || member || ' ' || change || "
            "' at id ' || id, ', ' ORDER BY id), 400) FROM (SELECT id, segment_id, member, change, "
            "lag(change) OVER (PARTITION BY segment_id, member ORDER BY id) AS previous "
            "FROM segments.changes) f WHERE change = previous OR (previous IS NULL AND change = "
            "'exited')");
    if (order.get(0, 0) != "0") {
      problems.push_back(
          "the change feed has " + order.get(0, 0) +
          " entries or exits that repeat the member's previous change: " + order.get(0, 1));
    }
  }

  // 4: member_count(), members() and members_at(now()) against the membership relation.
  void reading_functions(const std::vector<SegmentState>& segments) {
    for (const SegmentState& s : segments) {
      const std::string id = std::to_string(s.id);
      Result r =
          run(conn_, "SELECT segments.member_count(" + id + "), (SELECT count(*) FROM " +
                         s.membership + " WHERE segment_id = " + id +
                         "), (SELECT count(*) FROM (SELECT member::text FROM " + s.membership +
                         " WHERE segment_id = " + id + " EXCEPT SELECT * FROM segments.members(" +
                         id + ")) x) + (SELECT count(*) FROM (SELECT * FROM segments.members(" +
                         id + ") EXCEPT SELECT member::text FROM " + s.membership +
                         " WHERE segment_id = " + id +
                         ") y), (SELECT count(*) FROM (SELECT * FROM segments.members_at(" + id +
                         ", now()) EXCEPT SELECT * FROM segments.members(" + id +
                         ")) z) + (SELECT count(*) FROM (SELECT * FROM segments.members(" + id +
                         ") EXCEPT SELECT * FROM segments.members_at(" + id + ", now())) w)");
      if (r.get(0, 0) != r.get(0, 1)) {
        problems.push_back("member_count(" + s.system_name + ") = " + r.get(0, 0) + " but " +
                           r.get(0, 1) + " membership rows");
      }
      if (r.get(0, 2) != "0") {
        problems.push_back("members(" + s.system_name + ") differs from membership in " +
                           r.get(0, 2) + " keys");
      }
      if (r.get(0, 3) != "0") {
        problems.push_back("members_at(" + s.system_name + ", now()) differs from members() in " +
                           r.get(0, 3) + " keys");
      }
    }
  }

 private:
  Connection& conn_;
};

// Names a filter reads with IN SEGMENT.
std::vector<std::string> segments_read(const std::string& filter) {
  static const std::regex in_segment("IN SEGMENT '([^']+)'");
  std::vector<std::string> names;
  for (auto it = std::sregex_iterator(filter.begin(), filter.end(), in_segment);
       it != std::sregex_iterator(); ++it) {
    names.push_back((*it)[1]);
  }
  return names;
}

// Active scheduled segments, each after the scheduled segments it reads.
std::vector<std::string> scheduled_in_order(const std::vector<SegmentState>& segments) {
  std::map<std::string, const SegmentState*> by_name;
  for (const SegmentState& s : segments) by_name[s.system_name] = &s;
  std::vector<std::string> order;
  std::set<std::string> done;
  std::function<void(const SegmentState&)> visit = [&](const SegmentState& s) {
    if (!done.insert(s.system_name).second) return;
    for (const std::string& name : segments_read(s.filter)) {
      auto it = by_name.find(name);
      if (it != by_name.end()) visit(*it->second);
    }
    if (s.kind == "scheduled" && s.active) order.push_back(s.system_name);
  };
  for (const SegmentState& s : segments) visit(s);
  return order;
}

// Outcome lines of refresh_due() that are failures (a deadlock inside it is recorded as one).
void check_refresh_due(const Result& r, Shared& shared, const std::string& who) {
  for (int i = 0; i < r.rows(); ++i) {
    const std::string action = r.get(i, 1);
    if (action.find("failed") == std::string::npos && action.rfind("interrupted", 0) != 0) {
      continue;
    }
    if (action.rfind("interrupted", 0) == 0 && shared.restarted) {
      std::printf("soak: %s: refresh_due() reported %s: %s (a refresh cut short by the kill)\n",
                  who.c_str(), r.get(i, 0).c_str(), action.c_str());
      std::fflush(stdout);
      continue;
    }
    if (action.find("deadlock detected") != std::string::npos) {
      ++shared.counters.deadlocks;
      continue;
    }
    if (action.find("could not serialize") != std::string::npos) {
      ++shared.counters.serialization;
      continue;
    }
    shared.fail(who + ": refresh_due() reported " + r.get(i, 0) + ": " + action);
  }
}

// A full checkpoint on a quiet database (clients paused or stopped). Returns the problems.
std::vector<std::string> checkpoint(Connection& conn, Shared& shared, int* segments_checked) {
  Checker checker(conn);
  // Before any refresh: committed state as the writers left it.
  run(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  std::vector<SegmentState> segments = load_segments(conn);
  checker.orphans(segments);
  checker.truth(segments, false, false);
  checker.feed(segments);
  run(conn, "COMMIT");
  for (std::string& p : checker.problems) p = "before refresh: " + p;
  std::size_t before = checker.problems.size();

  // Relative-time rechecks and due switches, then every scheduled segment, in one transaction
  // (one now()): every segment equals its truth at that moment.
  run(conn, "BEGIN");
  check_refresh_due(run(conn, "SELECT * FROM segments.refresh_due()"), shared, "checkpoint");
  segments = load_segments(conn);
  for (const std::string& name : scheduled_in_order(segments)) {
    run(conn, "SELECT * FROM segments.refresh(" + conn.quote_literal(name) + ")");
  }
  checker.orphans(segments);
  checker.truth(segments, true, true);
  checker.feed(segments);
  checker.reading_functions(segments);
  run(conn, "COMMIT");
  for (std::size_t i = before; i < checker.problems.size(); ++i) {
    checker.problems[i] = "after refresh: " + checker.problems[i];
  }
  *segments_checked = static_cast<int>(segments.size());
  if (shared.keep_going) {
    // Bring the segments back to their truth, so that later checkpoints find new problems.
    for (const std::string& name : checker.differing) {
      run(conn, "SELECT * FROM segments.refresh(" + conn.quote_literal(name) + ")");
    }
  }
  return checker.problems;
}

// ---------------------------------------------------------------------------------------------
// The other clients
// ---------------------------------------------------------------------------------------------

// Changes definitions: filters, switches now and later, names, tags, schedules, static
// members, copies made and dropped. Each change is logged in soak_actions by its own
// transaction, for the inspection of a failed run.
class Definer {
 public:
  Definer(Shared& shared, Connection& conn, std::uint64_t seed)
      : shared_(shared), conn_(conn), rnd_(seed) {}

  void step() {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rnd_.below(700)));
    Result catalog = run(conn_, "SELECT system_name, active FROM segments.segment");
    std::map<std::string, bool> active;
    for (int i = 0; i < catalog.rows(); ++i) active[catalog.get(i, 0)] = catalog.get(i, 1) == "t";
    const SegmentDef& def = rnd_.one(segment_defs());
    const std::string name = conn_.quote_literal(def.system_name);
    const std::string on_off = active[def.system_name] ? "deactivate" : "activate";
    std::string sql;
    std::atomic<long long>* counter = &shared_.counters.definition_changes;
    static const std::vector<int> weights = {10, 5, 2, 1, 1, 4, 1, 1, 1};
    switch (rnd_.weighted(weights)) {
      case 0: {  // a new filter
        if (def.kind == Kind::kStatic) return;
        std::vector<const char*> filters = def.alternatives;
        filters.push_back(def.filter);
        sql = "SELECT segments.alter_segment(" + name + ", filter => " +
              conn_.quote_literal(rnd_.one(filters)) + ")";
        break;
      }
      case 1:  // off or on now; the static segment stays on (it would lose its members)
        if (def.kind == Kind::kStatic) return;
        sql = "SELECT segments." + on_off + "(" + name + ")";
        counter = &shared_.counters.switches;
        break;
      case 2:  // off or on a little later, applied by refresh_due()
        if (def.kind == Kind::kStatic) return;
        sql = "SELECT segments." + on_off + "(" + name + ", now() + interval '" +
              std::to_string(1 + rnd_.below(4)) + " seconds')";
        counter = &shared_.counters.switches;
        break;
      case 3:
        sql = "SELECT segments.rename_segment(" + name + ", 'Soak " +
              std::to_string(rnd_.below(1000)) + "')";
        break;
      case 4:
        sql = "SELECT segments.alter_segment(" + name + ", description => 'changed " +
              std::to_string(rnd_.below(1000)) + "', tags => ARRAY['soak', 't" +
              std::to_string(rnd_.below(5)) + "'])";
        break;
      case 5:  // static members: keys locked FOR KEY SHARE, so none is deleted before the check
        if (rnd_.chance(60)) {
          sql =
              "SELECT segments.add_members('st-picked', ARRAY(SELECT id FROM customers WHERE "
              "id >= " +
              std::to_string(rnd_.between(1, shared_.next_customer.load())) +
              " ORDER BY id LIMIT 5 FOR KEY SHARE))";
        } else {
          sql =
              "SELECT segments.remove_members('st-picked', ARRAY(SELECT c.id FROM customers c "
              "JOIN segments.customers_members m ON m.member = c.id AND m.segment_id = "
              "segments.segment_id('st-picked') ORDER BY c.id LIMIT 3 FOR KEY SHARE OF c))";
        }
        break;
      case 6:  // a schedule change, or a segment made due now
        if (def.kind != Kind::kScheduled) return;
        if (rnd_.chance(50)) {
          sql =
              "UPDATE segments.segment SET next_run_at = now() - interval '1 minute' "
              "WHERE system_name = " +
              name;
        } else {
          sql = "SELECT segments.alter_segment(" + name + ", schedule => " +
                conn_.quote_literal(
                    rnd_.one<std::string>({"* * * * *", "every minute", "*/2 * * * *", ""})) +
                ")";
        }
        break;
      case 7:  // a copy of a segment that nobody reads
        if (def.kind == Kind::kStatic || copies_.size() >= 2) return;
        sql = "SELECT segments.duplicate_segment(" + name + ", 'Soak copy " +
              std::to_string(++copy_counter_) + "')";
        break;
      default:
        if (copies_.empty()) return;
        sql = "SELECT segments.drop_segment(" + conn_.quote_literal(copies_.front()) + ")";
        break;
    }
    run(conn_, "BEGIN");
    Result r = run(conn_, sql);
    run(conn_, "INSERT INTO soak_actions (action) VALUES (" + conn_.quote_literal(sql) + ")");
    run(conn_, "COMMIT");
    if (sql.find("duplicate_segment") != std::string::npos) {
      copies_.push_back(
          run(conn_, "SELECT system_name FROM segments.segment WHERE id = " + r.get(0, 0))
              .get(0, 0));
    }
    if (sql.find("drop_segment") != std::string::npos) copies_.erase(copies_.begin());
    ++*counter;
  }

 private:
  Shared& shared_;
  Connection& conn_;
  Random rnd_;
  std::vector<std::string> copies_;
  int copy_counter_ = 0;
};

// Runs refresh_due(), refresh_due_proc() and refresh() of scheduled segments.
class Refresher {
 public:
  Refresher(Shared& shared, Connection& conn, std::uint64_t seed)
      : shared_(shared), conn_(conn), rnd_(seed) {}

  void step() {
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rnd_.below(600)));
    switch (rnd_.weighted({6, 1, 3})) {
      case 0:
        check_refresh_due(run(conn_, "SELECT * FROM segments.refresh_due()"), shared_, "refresher");
        break;
      case 1:
        run(conn_, "CALL segments.refresh_due_proc()");
        break;
      default: {
        std::vector<std::string> scheduled;
        for (const SegmentDef& d : segment_defs()) {
          if (d.kind == Kind::kScheduled) scheduled.push_back(d.system_name);
        }
        run(conn_,
            "SELECT * FROM segments.refresh(" + conn_.quote_literal(rnd_.one(scheduled)) + ")");
        break;
      }
    }
    ++shared_.counters.refreshes;
  }

 private:
  Shared& shared_;
  Connection& conn_;
  Random rnd_;
};

// Reads membership through the functions, and now and then checks 1 to 3 in one snapshot.
class Reader {
 public:
  Reader(Shared& shared, Connection& conn, std::uint64_t seed)
      : shared_(shared), conn_(conn), rnd_(seed) {}

  void step() {
    if (Clock::now() >= next_snapshot_check_) {
      snapshot_check();
      next_snapshot_check_ = Clock::now() + std::chrono::seconds(3);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rnd_.below(80)));
    const SegmentDef& def = rnd_.one(segment_defs());
    const std::string name = conn_.quote_literal(def.system_name);
    const std::string key = std::to_string(rnd_.between(1, shared_.next_customer.load()));
    switch (rnd_.below(6)) {
      case 0:
        run(conn_, "SELECT segments.member_count(" + name + ")");
        break;
      case 1:
        run(conn_, "SELECT count(*) FROM segments.members(" + name + ")");
        break;
      case 2:
        run(conn_, "SELECT segments.is_member(" + name + ", " + key + "::bigint)");
        break;
      case 3:
        run(conn_, "SELECT count(*) FROM segments.segments_of('customers', " + key + "::bigint)");
        break;
      case 4:
        run(conn_,
            "SELECT count(*) FROM segments.audience(ARRAY['rt-gold', 'rt-gulf', "
            "'sc-leads'], ARRAY['rt-vip'])");
        break;
      default:
        run(conn_, "SELECT count(*) FROM segments.preview(" + name + ", 5)");
        break;
    }
    ++shared_.counters.reads;
  }

 private:
  // Realtime segments without relative time, and the feed, in one snapshot while writers run.
  void snapshot_check() {
    Checker checker(conn_);
    run(conn_, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    std::vector<SegmentState> segments = load_segments(conn_);
    checker.orphans(segments);
    checker.truth(segments, false, false);
    checker.feed(segments);
    run(conn_, "COMMIT");
    ++shared_.counters.snapshot_checks;
    for (const std::string& p : checker.problems) shared_.fail("snapshot check: " + p);
  }

  Shared& shared_;
  Connection& conn_;
  Random rnd_;
  Clock::time_point next_snapshot_check_ = Clock::now() + std::chrono::seconds(2);
};

// Runs one client on its own connection until told to stop.
template <typename Client>
void client_thread(Shared& shared, const std::string& who, int index, std::uint64_t seed) {
  try {
    Connection conn = connect(shared.database);
    shared.connected();
    Client client(shared, conn, index, seed);
    while (shared.gate()) {
      try {
        client.step();
      } catch (const Retryable& e) {
        if (e.sqlstate == "40P01")
          ++shared.counters.deadlocks;
        else
          ++shared.counters.serialization;
        Result r = conn.exec("ROLLBACK");
        if (!r.ok() && lost_connection(conn, r)) throw ConnectionLost(r.error());
      } catch (const ConnectionLost&) {
        throw;
      } catch (const std::exception& e) {
        if (!shared.keep_going) throw;
        shared.fail(who + ": " + e.what());
        Result r = conn.exec("ROLLBACK");
        if (!r.ok() && lost_connection(conn, r)) throw ConnectionLost(r.error());
      }
    }
  } catch (const ConnectionLost& e) {
    shared.lose(who, e.what());
  } catch (const std::exception& e) {
    shared.fail(who + ": " + e.what());
  }
  shared.leave();
}

// Adapters so that every client is built the same way.
struct WriterClient {
  WriterClient(Shared& shared, Connection& conn, int index, std::uint64_t seed)
      : writer(shared, conn, index, seed) {}
  void step() { writer.step(); }
  Writer writer;
};
struct DefinerClient {
  DefinerClient(Shared& shared, Connection& conn, int, std::uint64_t seed)
      : definer(shared, conn, seed) {}
  void step() { definer.step(); }
  Definer definer;
};
struct RefresherClient {
  RefresherClient(Shared& shared, Connection& conn, int, std::uint64_t seed)
      : refresher(shared, conn, seed) {}
  void step() { refresher.step(); }
  Refresher refresher;
};
struct ReaderClient {
  ReaderClient(Shared& shared, Connection& conn, int, std::uint64_t seed)
      : reader(shared, conn, seed) {}
  void step() { reader.step(); }
  Reader reader;
};

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

struct Options {
  int seconds = 60;
  int writers = 4;
  int checkpoint_seconds = 15;
  long long max_transactions = 10000000;
  std::uint64_t seed = 20261123;
  std::string database = "pgseg_soak";
  bool crash = false;
  bool keep_going = false;
  bool definer = true;  // the other clients, each on or off (--without)
  bool refresher = true;
  bool reader = true;
  int after_crash_seconds = 5;
  int wait_server_seconds = 180;
};

void set_up(const Options& options, std::uint64_t seed) {
  {
    Connection admin(pgseg::integration::conninfo_for("postgres"));
    admin.must("DROP DATABASE IF EXISTS " + options.database);
    admin.must("CREATE DATABASE " + options.database);
  }
  Connection db(pgseg::integration::conninfo_for(options.database));
  db.must("CREATE EXTENSION pg_segments");
  db.must(kSchema);
  char setseed[64];
  std::snprintf(setseed, sizeof setseed, "SELECT setseed(%.6f)",
                static_cast<double>(seed % 1000000) / 1000000.0);
  db.must(setseed);
  db.must(kInitialRows);
  db.must("SELECT segments.declare_events('events', 'customer_id', 'type')");
  for (const SegmentDef& d : segment_defs()) {
    std::string sql = "SELECT segments.create_segment(" + db.quote_literal(d.system_name) + ", " +
                      db.quote_literal(d.object) + ", ";
    sql += d.filter ? db.quote_literal(d.filter) : std::string("NULL");
    sql += std::string(", kind => '") +
           (d.kind == Kind::kRealtime    ? "realtime"
            : d.kind == Kind::kScheduled ? "scheduled"
                                         : "static") +
           "', system_name => " + db.quote_literal(d.system_name);
    if (d.schedule) sql += ", schedule => " + db.quote_literal(d.schedule);
    if (d.events) sql += std::string(", update_on_events => ") + d.events;
    db.must(sql + ")");
  }
  db.must(
      "SELECT segments.add_members('st-picked', ARRAY(SELECT id FROM customers WHERE id % 7 = 0))");
}

// Runs the clients for seconds (or until stopped), with a checkpoint every checkpoint_seconds.
// Returns false when the run must end (a failure, or the server lost in crash mode).
bool run_workload(const Options& options, Shared& shared, std::uint64_t seed, int seconds,
                  Connection* checker, int* checkpoints, int* segments_checked, bool announce) {
  shared.stop = false;
  std::vector<std::thread> threads;
  const int clients = options.writers + (options.definer ? 1 : 0) + (options.refresher ? 1 : 0) +
                      (options.reader ? 1 : 0);
  for (int i = 0; i < clients; ++i) shared.enter();
  for (int i = 0; i < options.writers; ++i) {
    threads.emplace_back(client_thread<WriterClient>, std::ref(shared),
                         "writer " + std::to_string(i), i, seed + 101 * (i + 1));
  }
  if (options.definer) {
    threads.emplace_back(client_thread<DefinerClient>, std::ref(shared), "definer", 0, seed + 7);
  }
  if (options.refresher) {
    threads.emplace_back(client_thread<RefresherClient>, std::ref(shared), "refresher", 0,
                         seed + 11);
  }
  if (options.reader) {
    threads.emplace_back(client_thread<ReaderClient>, std::ref(shared), "reader", 0, seed + 13);
  }
  shared.wait_connected(clients);
  if (announce) {
    std::printf("soak: workload running (%d writers%s%s%s)\n", options.writers,
                options.definer ? ", definer" : "", options.refresher ? ", refresher" : "",
                options.reader ? ", reader" : "");
    std::fflush(stdout);
  }

  const auto start = Clock::now();
  auto next_checkpoint = start + std::chrono::seconds(options.checkpoint_seconds);
  bool ok = true;
  while (!shared.stop && !shared.server_lost) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto now = Clock::now();
    if (now - start >= std::chrono::seconds(seconds)) break;
    if (now < next_checkpoint) continue;
    if (!shared.pause(std::chrono::seconds(200))) {
      shared.fail("clients did not pause for a checkpoint within 200 s");
      shared.resume();
      break;
    }
    if (shared.server_lost) {
      shared.resume();
      break;
    }
    try {
      const auto began = Clock::now();
      std::vector<std::string> problems = checkpoint(*checker, shared, segments_checked);
      ++*checkpoints;
      std::printf(
          "soak: checkpoint %d at %lld s: %d segments, %zu problems, %lld transactions so far "
          "(checked in %.1f s)\n",
          *checkpoints,
          static_cast<long long>(
              std::chrono::duration_cast<std::chrono::seconds>(now - start).count()),
          *segments_checked, problems.size(), shared.counters.transactions.load(),
          std::chrono::duration<double>(Clock::now() - began).count());
      std::fflush(stdout);
      for (const std::string& p : problems) shared.fail("checkpoint: " + p);
    } catch (const ConnectionLost& e) {
      shared.lose("checkpoint", e.what());
    } catch (const std::exception& e) {
      shared.fail(std::string("checkpoint: ") + e.what());
    }
    shared.resume();
    next_checkpoint = Clock::now() + std::chrono::seconds(options.checkpoint_seconds);
  }
  shared.stop = true;
  shared.resume();
  for (std::thread& t : threads) t.join();
  if (shared.failure_count() > 0 || shared.server_lost) ok = false;
  return ok;
}

// After a crash: acknowledged commits all survived, and nothing else did but the COMMITs that
// were in flight.
int check_commits(Connection& conn, Shared& shared) {
  std::vector<long long> acknowledged = shared.acknowledged();
  std::set<long long> in_flight = shared.in_flight();
  Result r = run(conn, "SELECT id FROM soak_commits");
  std::set<long long> present;
  for (int i = 0; i < r.rows(); ++i) present.insert(std::stoll(r.get(i, 0)));
  int failures = 0;
  long long missing = 0;
  std::string missing_ids;
  for (long long id : acknowledged) {
    if (present.erase(id) == 0) {
      ++missing;
      if (missing <= 10) missing_ids += " " + std::to_string(id);
    }
  }
  long long in_flight_survived = 0;
  long long unexpected = 0;
  std::string unexpected_ids;
  for (long long id : present) {
    if (in_flight.count(id)) {
      ++in_flight_survived;
    } else {
      ++unexpected;
      if (unexpected <= 10) unexpected_ids += " " + std::to_string(id);
    }
  }
  std::printf(
      "soak: after restart: %zu acknowledged commits all checked, %zu COMMITs in flight "
      "at the kill (%lld of them committed)\n",
      acknowledged.size(), in_flight.size(), in_flight_survived);
  if (missing > 0) {
    shared.fail(std::to_string(missing) + " acknowledged commits are lost:" + missing_ids);
    ++failures;
  }
  if (unexpected > 0) {
    shared.fail(
        std::to_string(unexpected) +
        " transactions survived that were never acknowledged nor in flight:" + unexpected_ids);
    ++failures;
  }
  return failures;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (const char* env = std::getenv("PGSEG_SEED")) options.seed = std::strtoull(env, nullptr, 10);
  if (const char* env = std::getenv("PGSEG_SOAK_SECONDS")) options.seconds = std::atoi(env);
  if (const char* env = std::getenv("PGSEG_SOAK_WRITERS")) options.writers = std::atoi(env);
  if (const char* env = std::getenv("PGSEG_SOAK_CHECKPOINT")) {
    options.checkpoint_seconds = std::atoi(env);
  }
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--crash") {
      options.crash = true;
      continue;
    }
    if (flag == "--keep-going") {
      options.keep_going = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "soak: %s needs a value\n", flag.c_str());
      return 2;
    }
    std::string value = argv[++i];
    if (flag == "--seconds")
      options.seconds = std::stoi(value);
    else if (flag == "--writers")
      options.writers = std::stoi(value);
    else if (flag == "--checkpoint")
      options.checkpoint_seconds = std::stoi(value);
    else if (flag == "--seed")
      options.seed = std::stoull(value);
    else if (flag == "--database")
      options.database = value;
    else if (flag == "--max-transactions")
      options.max_transactions = std::stoll(value);
    else if (flag == "--after-crash")
      options.after_crash_seconds = std::stoi(value);
    else if (flag == "--wait-server")
      options.wait_server_seconds = std::stoi(value);
    else if (flag == "--without") {
      for (std::size_t at = 0; at <= value.size();) {
        std::size_t comma = std::min(value.find(',', at), value.size());
        const std::string client = value.substr(at, comma - at);
        if (client == "definer")
          options.definer = false;
        else if (client == "refresher")
          options.refresher = false;
        else if (client == "reader")
          options.reader = false;
        else {
          std::fprintf(stderr, "soak: --without takes definer, refresher, reader\n");
          return 2;
        }
        at = comma + 1;
      }
    } else {
      std::fprintf(stderr, "soak: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  options.writers = std::max(1, options.writers);
  options.checkpoint_seconds = std::max(1, options.checkpoint_seconds);
  std::printf(
      "soak: seed %llu, %d s, %d writers, checkpoint every %d s, at most %lld "
      "transactions%s (set PGSEG_SEED to vary)\n",
      static_cast<unsigned long long>(options.seed), options.seconds, options.writers,
      options.checkpoint_seconds, options.max_transactions, options.crash ? ", crash mode" : "");
  std::fflush(stdout);

  Shared shared;
  shared.database = options.database;
  shared.crash_mode = options.crash;
  shared.keep_going = options.keep_going;
  shared.transaction_budget = options.max_transactions;
  int checkpoints = 0;
  int segments_checked = 0;
  const auto started = Clock::now();
  try {
    set_up(options, options.seed);
    std::printf("soak: database %s ready with %zu segments\n", options.database.c_str(),
                segment_defs().size());
    std::fflush(stdout);
    Connection checker = connect(options.database);
    run_workload(options, shared, options.seed, options.seconds, &checker, &checkpoints,
                 &segments_checked, true);

    if (options.crash) {
      if (!shared.server_lost) {
        if (shared.failure_count() == 0) {
          shared.fail("crash mode: the server was never killed during the run");
        }
      } else {
        // Wait for the restarted server, then check what survived.
        std::printf("soak: waiting for the server to come back\n");
        std::fflush(stdout);
        std::unique_ptr<Connection> again;
        const auto deadline = Clock::now() + std::chrono::seconds(options.wait_server_seconds);
        while (!again && Clock::now() < deadline) {
          try {
            again = std::make_unique<Connection>(connect(options.database));
          } catch (const ConnectionLost&) {
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
          }
        }
        if (!again) {
          shared.fail("the server did not come back within " +
                      std::to_string(options.wait_server_seconds) + " s");
        } else {
          shared.server_lost = false;
          shared.crash_mode = false;  // a second loss is a failure
          shared.restarted = true;
          check_commits(*again, shared);
          std::vector<std::string> problems = checkpoint(*again, shared, &segments_checked);
          ++checkpoints;
          std::printf("soak: checkpoint after restart: %d segments, %zu problems\n",
                      segments_checked, problems.size());
          for (const std::string& p : problems) shared.fail("after restart: " + p);
          shared.clear_in_flight();
          if ((shared.failure_count() == 0 || shared.keep_going) &&
              options.after_crash_seconds > 0) {
            std::printf("soak: workload again for %d s after the restart\n",
                        options.after_crash_seconds);
            std::fflush(stdout);
            run_workload(options, shared, options.seed + 1, options.after_crash_seconds,
                         again.get(), &checkpoints, &segments_checked, false);
          }
          checker = std::move(*again);
        }
      }
    }

    if (!shared.server_lost) {
      // The final checkpoint, also after a failure, to show the state the run left.
      std::vector<std::string> problems = checkpoint(checker, shared, &segments_checked);
      ++checkpoints;
      std::printf("soak: final checkpoint: %d segments, %zu problems\n", segments_checked,
                  problems.size());
      for (const std::string& p : problems) shared.fail("final checkpoint: " + p);
      Result feed = checker.must("SELECT count(*) FROM segments.changes");
      std::printf("soak: %s change feed rows\n", feed.get(0, 0).c_str());
    }
  } catch (const std::exception& e) {
    shared.fail(e.what());
  }

  const Counters& c = shared.counters;
  const long long elapsed =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count();
  const std::size_t failures = shared.failure_count();
  if (failures > 0) {
    std::printf("soak: failures by kind (count, kind):\n");
    for (const auto& kind : shared.failure_kinds()) {
      std::printf("  %5d  %s\n", kind.second, kind.first.c_str());
    }
  }
  if (failures == 0) {
    try {
      Connection admin(pgseg::integration::conninfo_for("postgres"));
      admin.must("DROP DATABASE IF EXISTS " + options.database);
    } catch (const std::exception&) {
    }
  } else {
    std::printf("soak: database %s kept for inspection; rerun with PGSEG_SEED=%llu\n",
                options.database.c_str(), static_cast<unsigned long long>(options.seed));
  }
  std::printf(
      "soak: %lld s, %lld transactions committed and %lld rolled back (%lld statements, "
      "%lld COPY, %lld savepoints rolled back), %lld deadlocks and %lld serialization "
      "failures retried, %lld definition changes, %lld switches, %lld refreshes, %lld "
      "reads, %lld snapshot checks, %d checkpoints, %zu failures\n",
      elapsed, c.transactions.load(), c.rolled_back.load(), c.statements.load(), c.copies.load(),
      c.savepoints_undone.load(), c.deadlocks.load(), c.serialization.load(),
      c.definition_changes.load(), c.switches.load(), c.refreshes.load(), c.reads.load(),
      c.snapshot_checks.load(), checkpoints, failures);
  return failures == 0 ? 0 : 1;
}
