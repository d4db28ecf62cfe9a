// Compiled filters, cached per backend and invalidated by relcache events on their object.
#pragma once

#include "pg/postgres.hpp"

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

// SQL quoting by PostgreSQL's rules, for the core SQL compiler.
class PgDialect final : public SqlDialect {
 public:
  std::string quote_identifier(std::string_view name) const override;
};

}  // namespace pgseg::pg
