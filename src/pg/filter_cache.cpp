// The per-backend cache of compiled filters.
#include "pg/filter_cache.hpp"

#include <unordered_map>
#include <vector>

#include "core/parser.hpp"
#include "core/sql_compiler.hpp"
#include "pg/boundary.hpp"
#include "pg/spi.hpp"

namespace pgseg::pg {

namespace {

constexpr std::size_t kMaxEntries = 2048;

struct Key {
  Oid relid;
  std::string canonical;
  bool operator==(const Key& o) const { return relid == o.relid && canonical == o.canonical; }
};

struct KeyHash {
  std::size_t operator()(const Key& key) const {
    return std::hash<std::string>()(key.canonical) * 31 + key.relid;
  }
};

// Lives for the whole backend: allocated once, never destroyed (no global destructors).
struct Cache {
  std::unordered_map<Key, CompiledFilter*, KeyHash> entries;
  // Entries no longer reachable from entries but possibly still referenced by a running query.
  std::vector<CompiledFilter*> retired;
};

Cache& cache() {
  static Cache* instance = new Cache();
  return *instance;
}

Environment current_environment() {
  return Environment{session_timezone, DateStyle, DateOrder};
}

void destroy(CompiledFilter* entry) {
  if (entry->memory != nullptr) MemoryContextDelete(entry->memory);
  delete entry;
}

void retire(CompiledFilter* entry) {
  entry->stale = true;
  cache().retired.push_back(entry);
}

// Relcache callbacks may run at any invalidation point: only mark, never free.
std::uint64_t invalidations_read = 0;

void on_relcache_invalidation(Datum, Oid relid) {
  ++invalidations_read;
  for (auto& item : cache().entries) {
    CompiledFilter& entry = *item.second;
    if (relid == InvalidOid || item.first.relid == relid) {
      entry.stale = true;
      continue;
    }
    for (Oid related : entry.related_relids) {
      if (related == relid) entry.stale = true;
    }
  }
}

void on_transaction_end(XactEvent event, void*) {
  if (!ends_transaction(event)) return;
  Cache& c = cache();
  for (CompiledFilter* entry : c.retired) destroy(entry);
  c.retired.clear();
  try {
    free_released_plans();
  } catch (...) {
    // Freeing saved plans does not fail; a callback must not throw in any case.
  }
}

}  // namespace

std::unique_ptr<CompiledFilter> compile_filter(Oid relid, std::string_view canonical) {
  auto entry = std::make_unique<CompiledFilter>();
  entry->relid = relid;
  entry->canonical = std::string(canonical);
  entry->environment = current_environment();
  entry->ast = parse_filter(canonical);
  entry->schema = RelationSchema::load(relid);
  entry->bound = std::make_unique<BoundFilter>(bind_filter(*entry->ast, *entry->schema));
  for (const RelationSchema* related : entry->schema->related_schemas()) {
    entry->related_relids.push_back(related->relid());
  }
  // Created under the current (statement) context, so a failed compile frees it; moved under
  // TopMemoryContext only once everything succeeded.
  entry->memory = pg_guard([] {
    return AllocSetContextCreate(CurrentMemoryContext, "pg_segments compiled filter",
                                 ALLOCSET_SMALL_SIZES);
  });
  entry->host = std::make_unique<PgHost>(*entry->schema, entry->memory);
  entry->program = compile_program(*entry->ast, *entry->bound, *entry->schema, *entry->host);
  entry->evaluator = std::make_unique<RowEvaluator>(*entry->program, *entry->schema);
  MemoryContext memory = entry->memory;
  pg_guard([&] { MemoryContextSetParent(memory, TopMemoryContext); });
  return entry;
}

void retire_compiled(std::unique_ptr<CompiledFilter> entry) {
  if (entry) retire(entry.release());
}

const std::string& CompiledFilter::where_sql() {
  if (!have_sql_) {
    where_sql_ = compile_sql(*ast, *bound, PgDialect());
    have_sql_ = true;
  }
  return where_sql_;
}

bool is_outdated(const CompiledFilter& entry) {
  return entry.stale || !(entry.environment == current_environment());
}

CompiledFilter& compiled_filter(Oid relid, std::string_view canonical) {
  // Process pending invalidations first, so a concurrent ALTER TABLE is seen.
  pg_guard([] { AcceptInvalidationMessages(); });
  Cache& c = cache();
  Key key{relid, std::string(canonical)};
  auto found = c.entries.find(key);
  if (found != c.entries.end()) {
    if (!is_outdated(*found->second)) return *found->second;
    retire(found->second);
    c.entries.erase(found);
  }
  if (c.entries.size() >= kMaxEntries) {
    for (auto& item : c.entries) retire(item.second);
    c.entries.clear();
  }
  std::unique_ptr<CompiledFilter> entry = compile_filter(relid, canonical);
  CompiledFilter* raw = entry.release();
  try {
    c.entries.emplace(std::move(key), raw);
  } catch (...) {
    retire(raw);
    throw;
  }
  return *raw;
}

std::uint64_t relcache_invalidations() {
  return invalidations_read;
}

void register_filter_cache_callbacks() {
  CacheRegisterRelcacheCallback(on_relcache_invalidation, 0);
  RegisterXactCallback(on_transaction_end, nullptr);
}

std::string PgDialect::quote_identifier(std::string_view name) const {
  std::string copy(name);
  const char* quoted = pg_guard([&] { return ::quote_identifier(copy.c_str()); });
  return std::string(quoted);
}

}  // namespace pgseg::pg
