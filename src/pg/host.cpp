// Host predicates: each calls the PostgreSQL function that the compiled SQL's operator calls,
// with the same collation, so both engines agree by construction.
#include "pg/host.hpp"

#include <vector>

#include "core/error.hpp"
#include "core/json.hpp"
#include "core/sql_compiler.hpp"
#include "pg/boundary.hpp"
#include "pg/filter_cache.hpp"
#include "pg/spi.hpp"

namespace pgseg::pg {

namespace {

bool holds(int cmp, CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return cmp == 0;
    case CompareOp::kNe:
      return cmp != 0;
    case CompareOp::kLt:
      return cmp < 0;
    case CompareOp::kLe:
      return cmp <= 0;
    case CompareOp::kGt:
      return cmp > 0;
    case CompareOp::kGe:
      return cmp >= 0;
  }
  return false;
}

// How a predicate reads its cell: a Datum of the column, or a JSON value.
enum class Access { kDatum, kJsonNumber };

// Reads the Datum a predicate compares, or returns false for NULL / wrong JSON type.
bool read_value(const Cell& cell, Access access, Datum* out) {
  if (cell.kind != CellKind::kHandle) return false;
  if (access == Access::kDatum) {
    *out = reinterpret_cast<Datum>(cell.handle);
    return true;
  }
  const auto* value = static_cast<const JsonbValue*>(cell.handle);
  if (value->type != jbvNumeric) return false;
  *out = NumericGetDatum(value->val.numeric);
  return true;
}

int call_compare(FmgrInfo* cmp, Oid collation, Datum a, Datum b) {
  return pg_guard([&] { return DatumGetInt32(FunctionCall2Coll(cmp, collation, a, b)); });
}

class DatumCompare final : public Predicate {
 public:
  DatumCompare(int slot, Access access, CompareOp op, FmgrInfo* cmp, Oid collation, Datum constant)
      : slot_(slot),
        access_(access),
        op_(op),
        cmp_(cmp),
        collation_(collation),
        constant_(constant) {}
  Tri eval(const RowView& row) const override {
    Datum value;
    if (!read_value(row.cell(slot_), access_, &value)) return Tri::kUnknown;
    return tri_of(holds(call_compare(cmp_, collation_, value, constant_), op_));
  }

 private:
  int slot_;
  Access access_;
  CompareOp op_;
  FmgrInfo* cmp_;
  Oid collation_;
  Datum constant_;
};

class DatumIn final : public Predicate {
 public:
  DatumIn(int slot, Access access, bool negated, FmgrInfo* cmp, Oid collation,
          std::vector<Datum> constants)
      : slot_(slot),
        access_(access),
        negated_(negated),
        cmp_(cmp),
        collation_(collation),
        constants_(std::move(constants)) {}
  Tri eval(const RowView& row) const override {
    Datum value;
    if (!read_value(row.cell(slot_), access_, &value)) return Tri::kUnknown;
    bool found = false;
    for (Datum constant : constants_) {
      if (call_compare(cmp_, collation_, value, constant) == 0) {
        found = true;
        break;
      }
    }
    return tri_of(found != negated_);
  }

 private:
  int slot_;
  Access access_;
  bool negated_;
  FmgrInfo* cmp_;
  Oid collation_;
  std::vector<Datum> constants_;
};

// Ordering of JSON strings under the database's (linguistic) default collation.
class CollatedBytesCompare final : public Predicate {
 public:
  CollatedBytesCompare(int slot, CompareOp op, std::string constant, Oid collation)
      : slot_(slot), op_(op), constant_(std::move(constant)), collation_(collation) {}
  Tri eval(const RowView& row) const override {
    const Cell& cell = row.cell(slot_);
    if (cell.kind != CellKind::kBytes) return Tri::kUnknown;
    int cmp = pg_guard([&] {
      return varstr_cmp(cell.bytes, static_cast<int>(cell.length), constant_.data(),
                        static_cast<int>(constant_.size()), collation_);
    });
    return tri_of(holds(cmp, op_));
  }

 private:
  int slot_;
  CompareOp op_;
  std::string constant_;
  Oid collation_;
};

class DatumLike final : public Predicate {
 public:
  DatumLike(int slot, bool from_bytes, bool negated, FmgrInfo* like, Oid collation, Datum pattern)
      : slot_(slot),
        from_bytes_(from_bytes),
        negated_(negated),
        like_(like),
        collation_(collation),
        pattern_(pattern) {}
  Tri eval(const RowView& row) const override {
    const Cell& cell = row.cell(slot_);
    if (cell.is_null()) return Tri::kUnknown;
    bool matched = pg_guard([&] {
      Datum value =
          from_bytes_
              ? PointerGetDatum(cstring_to_text_with_len(cell.bytes, static_cast<int>(cell.length)))
              : reinterpret_cast<Datum>(cell.handle);
      return DatumGetBool(FunctionCall2Coll(like_, collation_, value, pattern_));
    });
    return tri_of(matched != negated_);
  }

 private:
  int slot_;
  bool from_bytes_;
  bool negated_;
  FmgrInfo* like_;
  Oid collation_;
  Datum pattern_;
};

// CONTAINS on array types without a native form: PostgreSQL's @> and && themselves.
class ArrayContains final : public Predicate {
 public:
  ArrayContains(int slot, bool negated, FmgrInfo* function, Oid collation, Datum constant)
      : slot_(slot),
        negated_(negated),
        function_(function),
        collation_(collation),
        constant_(constant) {}
  Tri eval(const RowView& row) const override {
    const Cell& cell = row.cell(slot_);
    bool result = false;  // a NULL array is the empty set
    if (cell.kind == CellKind::kHandle) {
      result = pg_guard([&] {
        return DatumGetBool(FunctionCall2Coll(function_, collation_,
                                              reinterpret_cast<Datum>(cell.handle), constant_));
      });
    }
    return tri_of(result != negated_);
  }

 private:
  int slot_;
  bool negated_;
  FmgrInfo* function_;
  Oid collation_;
  Datum constant_;
};

// CONTAINS on a jsonb key holding an array: jsonb @> per group of values (ANY: any group).
class JsonContains final : public Predicate {
 public:
  JsonContains(int slot, bool negated, std::vector<Datum> groups)
      : slot_(slot), negated_(negated), groups_(std::move(groups)) {}
  Tri eval(const RowView& row) const override {
    const Cell& cell = row.cell(slot_);
    bool result = false;
    if (cell.kind == CellKind::kHandle) {
      const auto* value = static_cast<const JsonbValue*>(cell.handle);
      if (value->type == jbvBinary && JsonContainerIsArray(value->val.binary.data) &&
          !JsonContainerIsScalar(value->val.binary.data)) {
        result = pg_guard([&] {
          Datum document = JsonbPGetDatum(JsonbValueToJsonb(const_cast<JsonbValue*>(value)));
          for (Datum group : groups_) {
            if (DatumGetBool(DirectFunctionCall2(jsonb_contains, document, group))) return true;
          }
          return false;
        });
      }
    }
    return tri_of(result != negated_);
  }

 private:
  int slot_;
  bool negated_;
  std::vector<Datum> groups_;
};

std::string literal_text(const Literal& literal) {
  if (literal.kind == LiteralKind::kBoolean) return literal.boolean ? "true" : "false";
  return literal.text;
}

Json literal_json(const Literal& literal) {
  switch (literal.kind) {
    case LiteralKind::kString:
      return Json::string(literal.text);
    case LiteralKind::kNumber:
      return Json::number(literal.text);
    case LiteralKind::kBoolean:
      return Json::boolean(literal.boolean);
  }
  return Json::null();
}

// The array literal text the SQL compiler writes for CONTAINS.
std::string array_literal_text(const std::vector<Literal>& literals) {
  std::string text = "{";
  for (std::size_t i = 0; i < literals.size(); ++i) {
    if (i > 0) text += ',';
    text += '"';
    for (char c : literal_text(literals[i])) {
      if (c == '"' || c == '\\') text += '\\';
      text += c;
    }
    text += '"';
  }
  return text + "}";
}

}  // namespace

Datum PgHost::input(Oid type, const std::string& text) {
  return pg_guard([&] {
    MemoryContext old = MemoryContextSwitchTo(memory_);
    Oid function;
    Oid ioparam;
    getTypeInputInfo(type, &function, &ioparam);
    Datum value = OidInputFunctionCall(function, const_cast<char*>(text.c_str()), ioparam, -1);
    MemoryContextSwitchTo(old);
    return value;
  });
}

Oid PgHost::comparison_type(const Binding& binding) const {
  switch (binding.kind) {
    case ValueKind::kJsonString:
      return TEXTOID;
    case ValueKind::kJsonNumber:
      return NUMERICOID;
    case ValueKind::kColumn:
      return schema_.pg_column(*binding.column).base_type;
    default:
      throw Error(sqlstate::kInternalError, "no comparison type for this JSON value");
  }
}

Oid PgHost::collation(const Binding& binding) const {
  if (!binding.json_path.empty()) return DEFAULT_COLLATION_OID;
  return schema_.pg_column(*binding.column).collation;
}

std::int64_t PgHost::literal_to_int(const Binding& binding, const Literal& literal, bool element) {
  const PgColumn& pg = schema_.pg_column(*binding.column);
  const Oid type = element ? pg.element_type : pg.base_type;
  Datum value = input(type, literal_text(literal));
  switch (type) {
    case DATEOID:
      return DatumGetDateADT(value);
    case TIMESTAMPOID:
    case TIMESTAMPTZOID:
      return DatumGetInt64(value);
    default:
      return static_cast<std::int64_t>(DatumGetObjectId(value));  // enum label
  }
}

std::unique_ptr<Predicate> PgHost::compare(const Binding& binding, CompareOp op,
                                           const Literal& literal, ProgramBuilder& builder) {
  if (binding.kind == ValueKind::kJsonString) {
    return std::make_unique<CollatedBytesCompare>(builder.slot(binding, SlotKind::kJsonString), op,
                                                  literal.text, DEFAULT_COLLATION_OID);
  }
  const Oid type = comparison_type(binding);
  TypeCacheEntry* entry =
      pg_guard([&] { return lookup_type_cache(type, TYPECACHE_CMP_PROC_FINFO); });
  const bool json = binding.kind == ValueKind::kJsonNumber;
  return std::make_unique<DatumCompare>(
      builder.slot(binding, json ? SlotKind::kJsonHandle : SlotKind::kRaw),
      json ? Access::kJsonNumber : Access::kDatum, op, &entry->cmp_proc_finfo, collation(binding),
      input(type, literal_text(literal)));
}

std::unique_ptr<Predicate> PgHost::in_list(const Binding& binding, bool negated,
                                           const std::vector<Literal>& literals,
                                           ProgramBuilder& builder) {
  const Oid type = comparison_type(binding);
  TypeCacheEntry* entry =
      pg_guard([&] { return lookup_type_cache(type, TYPECACHE_CMP_PROC_FINFO); });
  std::vector<Datum> constants;
  for (const Literal& literal : literals) constants.push_back(input(type, literal_text(literal)));
  const bool json = binding.kind == ValueKind::kJsonNumber;
  return std::make_unique<DatumIn>(
      builder.slot(binding, json ? SlotKind::kJsonHandle : SlotKind::kRaw),
      json ? Access::kJsonNumber : Access::kDatum, negated, &entry->cmp_proc_finfo,
      collation(binding), std::move(constants));
}

std::unique_ptr<Predicate> PgHost::like(const Binding& binding, bool negated, bool case_insensitive,
                                        const std::string& pattern, ProgramBuilder& builder) {
  const bool json = !binding.json_path.empty();
  const Oid left = json ? TEXTOID : schema_.pg_column(*binding.column).base_type;
  const char* name = case_insensitive ? "~~*" : "~~";
  // Resolve the operator exactly as the parser does for "column LIKE 'literal'".
  struct Resolved {
    Oid function;
    Oid right;
  };
  Resolved resolved = pg_guard([&] {
    List* opname = list_make1(makeString(pstrdup(name)));
    Operator op = oper(nullptr, opname, left, UNKNOWNOID, false, -1);
    Form_pg_operator form = reinterpret_cast<Form_pg_operator>(GETSTRUCT(op));
    Resolved r{form->oprcode, form->oprright};
    ReleaseSysCache(op);
    return r;
  });
  FmgrInfo* function = pg_guard([&] {
    auto* info = static_cast<FmgrInfo*>(MemoryContextAllocZero(memory_, sizeof(FmgrInfo)));
    fmgr_info_cxt(resolved.function, info, memory_);
    return info;
  });
  return std::make_unique<DatumLike>(
      builder.slot(binding, json ? SlotKind::kJsonString : SlotKind::kRaw), json, negated, function,
      collation(binding), input(resolved.right, pattern));
}

std::unique_ptr<Predicate> PgHost::contains(const Binding& binding, bool negated, ContainsMode mode,
                                            const std::vector<Literal>& literals,
                                            ProgramBuilder& builder) {
  if (!binding.json_path.empty()) {
    std::vector<Datum> groups;
    auto add_group = [&](const std::vector<Literal>& members) {
      Json array = Json::array();
      for (const Literal& literal : members) array.push(literal_json(literal));
      groups.push_back(input(JSONBOID, to_json_text(array)));
    };
    if (mode == ContainsMode::kAny) {
      for (const Literal& literal : literals) add_group({literal});
    } else {
      add_group(literals);
    }
    return std::make_unique<JsonContains>(builder.slot(binding, SlotKind::kJsonHandle), negated,
                                          std::move(groups));
  }
  const PgColumn& pg = schema_.pg_column(*binding.column);
  const Oid function_oid = mode == ContainsMode::kAny ? F_ARRAYOVERLAP : F_ARRAYCONTAINS;
  FmgrInfo* function = pg_guard([&] {
    auto* info = static_cast<FmgrInfo*>(MemoryContextAllocZero(memory_, sizeof(FmgrInfo)));
    fmgr_info_cxt(function_oid, info, memory_);
    return info;
  });
  return std::make_unique<ArrayContains>(builder.slot(binding, SlotKind::kRaw), negated, function,
                                         pg.collation,
                                         input(pg.base_type, array_literal_text(literals)));
}

namespace {

std::vector<SPIPlanPtr>& released_plans() {
  static auto* plans = new std::vector<SPIPlanPtr>();  // never destroyed (no global destructor)
  return *plans;
}

// A condition evaluated by its compiled SQL (SELECT <condition>), prepared once and run with
// the row's columns as parameters, under a pinned search_path.
class SqlPredicate final : public Predicate {
 public:
  SqlPredicate(std::string sql, std::vector<int> slots, std::vector<Oid> types)
      : sql_(std::move(sql)), slots_(std::move(slots)), types_(std::move(types)) {}
  SqlPredicate(const SqlPredicate&) = delete;
  SqlPredicate& operator=(const SqlPredicate&) = delete;

  // No PostgreSQL call here: the saved plan is handed over, and freed at the end of the
  // transaction (free_released_plans).
  ~SqlPredicate() override {
    if (plan_ != nullptr) released_plans().push_back(plan_);
  }

  Tri eval(const RowView& row) const override {
    const int count = static_cast<int>(slots_.size());
    std::vector<Datum> values(static_cast<std::size_t>(count));
    std::vector<char> nulls(static_cast<std::size_t>(count) + 1, ' ');
    for (int i = 0; i < count; ++i) {
      const Cell& cell = row.cell(slots_[static_cast<std::size_t>(i)]);
      if (cell.kind == CellKind::kHandle) {
        values[static_cast<std::size_t>(i)] = reinterpret_cast<Datum>(cell.handle);
      } else {
        values[static_cast<std::size_t>(i)] = 0;
        nulls[static_cast<std::size_t>(i)] = 'n';
      }
    }
    return as_role(InvalidOid, [&] {
      return pg_guard([&] {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
        if (plan_ == nullptr) {
          SPIPlanPtr plan = SPI_prepare(sql_.c_str(), count, const_cast<Oid*>(types_.data()));
          if (plan == nullptr) elog(ERROR, "pg_segments: preparing a related condition failed");
          SPI_keepplan(plan);
          plan_ = plan;
        }
        if (SPI_execute_plan(plan_, values.data(), nulls.data(), true, 1) != SPI_OK_SELECT ||
            SPI_processed != 1) {
          elog(ERROR, "pg_segments: evaluating a related condition failed");
        }
        bool isnull;
        Datum answer = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        Tri result = isnull ? Tri::kUnknown : (DatumGetBool(answer) ? Tri::kTrue : Tri::kFalse);
        SPI_finish();
        return result;
      });
    });
  }

 private:
  std::string sql_;
  std::vector<int> slots_;
  std::vector<Oid> types_;
  mutable SPIPlanPtr plan_ = nullptr;
};

}  // namespace

std::unique_ptr<Predicate> PgHost::related(const Node& node, const BoundFilter& bound,
                                           ProgramBuilder& builder) {
  std::vector<const Column*> parameters;
  SqlOptions options;
  options.parameters = &parameters;
  std::string sql = "SELECT " + compile_sql(node, bound, PgDialect(), options);
  std::vector<int> slots;
  std::vector<Oid> types;
  for (const Column* column : parameters) {
    Binding binding;
    binding.column = column;
    binding.schema = &schema_;
    slots.push_back(builder.slot(binding, SlotKind::kRaw));
    types.push_back(schema_.pg_column(*column).type);
  }
  return std::make_unique<SqlPredicate>(std::move(sql), std::move(slots), std::move(types));
}

void free_released_plans() {
  std::vector<SPIPlanPtr> plans;
  plans.swap(released_plans());
  for (SPIPlanPtr plan : plans) pg_guard([&] { SPI_freeplan(plan); });
}

}  // namespace pgseg::pg
