// Compiled filters, cached per backend and invalidated by relcache events on their object.
#pragma once

#include "pg/postgres.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/ast.hpp"
#include "core/binder.hpp"
#include "core/eval.hpp"
#include "core/sql_compiler.hpp"
#include "pg/host.hpp"
#include "pg/relation_schema.hpp"
#include "pg/row_evaluator.hpp"

namespace pgseg::pg {

// Session settings that change how literals are read (TimeZone, DateStyle).
struct Environment {
  const void* time_zone = nullptr;
  int date_style = 0;
  int date_order = 0;
  bool operator==(const Environment& o) const {
    return time_zone == o.time_zone && date_style == o.date_style && date_order == o.date_order;
  }
};

// A filter bound to an object: its syntax tree, bindings, program and compiled SQL.
struct CompiledFilter {
  Oid relid = InvalidOid;
  std::vector<Oid> related_relids;  // tables read through relationships
  std::string canonical;
  NodePtr ast;
  std::unique_ptr<RelationSchema> schema;
  std::unique_ptr<BoundFilter> bound;
  std::unique_ptr<PgHost> host;
  std::unique_ptr<Program> program;
  std::unique_ptr<RowEvaluator> evaluator;
  MemoryContext memory = nullptr;  // constants and function lookups of the host predicates
  Environment environment;
  bool stale = false;

  // The WHERE clause over the object (unqualified column names).
  const std::string& where_sql();

 private:
  std::string where_sql_;
  bool have_sql_ = false;
};

// The compiled form of canonical filter text over relid. Valid until the end of the current
// transaction at least (replaced entries are freed only at transaction end).
CompiledFilter& compiled_filter(Oid relid, std::string_view canonical);

// A compiled filter owned by the caller (not cached), e.g. for an object's segment set.
std::unique_ptr<CompiledFilter> compile_filter(Oid relid, std::string_view canonical);

// Frees a compiled filter at the end of the transaction (a running statement may still use it).
void retire_compiled(std::unique_ptr<CompiledFilter> entry);

// True when entry no longer matches its object or the session settings.
bool is_outdated(const CompiledFilter& entry);

// Registers the relcache and transaction callbacks; called once from _PG_init.
void register_filter_cache_callbacks();

// Relcache invalidations this backend has read, of any relation.
std::uint64_t relcache_invalidations();

// A per-table cache entry (one with a stale flag) built by load(), which reads definitions with
// the latest snapshot and compiles them. Compiling opens relations, which reads pending
// invalidations; one read then has no entry to mark yet, so a definition committed after the
// read would stay cached as current. An entry loaded across an invalidation is loaded again, at
// most twice more, the replaced ones handed to retire(); the last one stays marked stale.
template <typename Entry, typename Load, typename Retire>
std::unique_ptr<Entry> load_current(Load&& load, Retire&& retire) {
  for (int attempt = 0;; ++attempt) {
    const std::uint64_t before = relcache_invalidations();
    std::unique_ptr<Entry> entry = load();
    if (relcache_invalidations() == before) return entry;
    if (attempt == 2) {
      entry->stale = true;
      return entry;
    }
    retire(std::move(entry));
  }
}

// SQL quoting by PostgreSQL's rules, for the core SQL compiler.
class PgDialect final : public SqlDialect {
 public:
  std::string quote_identifier(std::string_view name) const override;
};

}  // namespace pgseg::pg
