// A customers-like object for core tests, and a host that evaluates rows held in memory.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/binder.hpp"
#include "core/error.hpp"
#include "core/eval.hpp"
#include "core/printer.hpp"
#include "core/sql_compiler.hpp"

namespace pgseg::testing {

inline ColumnType type(TypeCategory c, const char* name,
                       TypeCategory element = TypeCategory::kUnsupported) {
  ColumnType t;
  t.category = c;
  t.name = name;
  t.element = element;
  return t;
}

// Dates are written YYYY-MM-DD; their int form is days since 2000-01-01 (PostgreSQL's epoch).
inline std::optional<std::int64_t> parse_date(const std::string& s) {
  int y, m, d;
  char tail;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) return std::nullopt;
  if (m < 1 || m > 12 || d < 1 || d > 31) return std::nullopt;
  // Days from civil (Howard Hinnant's algorithm), shifted to the 2000-01-01 epoch.
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + doe - 719468 - 10957;
}

class MockSchema : public ObjectSchema {
 public:
  MockSchema() {
    add("id", type(TypeCategory::kInteger, "bigint"));
    add("tier", type(TypeCategory::kText, "text"));
    add("country", type(TypeCategory::kText, "text"));
    ColumnType c_text = type(TypeCategory::kText, "text");
    c_text.collation_is_c = true;
    add("code", c_text);
    add("lifetime_value", type(TypeCategory::kNumeric, "numeric"));
    add("score", type(TypeCategory::kFloat, "double precision"));
    add("opted_out", type(TypeCategory::kBool, "boolean"));
    add("created_at", type(TypeCategory::kTimestampTz, "timestamp with time zone"));
    add("birthday", type(TypeCategory::kDate, "date"));
    add("tags", type(TypeCategory::kArray, "text[]", TypeCategory::kText));
    add("nums", type(TypeCategory::kArray, "integer[]", TypeCategory::kInteger));
    add("attrs", type(TypeCategory::kJsonb, "jsonb"));
    add("status", type(TypeCategory::kEnum, "status"));
    add("padded", type(TypeCategory::kBpchar, "character(5)"));
    add("shape", type(TypeCategory::kUnsupported, "point"));
    add("Mixed Case", type(TypeCategory::kText, "text"));
  }

  std::string object_name() const override { return "public.customers"; }
  const Column* find_column(std::string_view name) const override {
    for (const Column& c : columns_) {
      if (c.name == name) return &c;
    }
    return nullptr;
  }
  std::vector<std::string> column_names() const override {
    std::vector<std::string> names;
    for (const Column& c : columns_) names.push_back(c.name);
    return names;
  }
  void check_literal(const Column& column, const Literal& literal, bool element) const override {
    TypeCategory c = element ? column.type.element : column.type.category;
    if (c == TypeCategory::kDate && !parse_date(literal.text)) {
      throw Error("22007", "invalid input syntax for type date: \"" + literal.text + "\"");
    }
    if (c == TypeCategory::kEnum && enum_index(literal.text) < 0) {
      throw Error("22P02", "invalid input value for enum status: \"" + literal.text + "\"");
    }
    if (c == TypeCategory::kInteger && element && literal.text.find('.') != std::string::npos) {
      throw Error("22P02", "invalid input syntax for type integer: \"" + literal.text + "\"");
    }
  }
  bool default_collation_is_c() const override { return false; }

  static int enum_index(const std::string& label) {
    const char* labels[] = {"new", "active", "churned"};
    for (int i = 0; i < 3; ++i) {
      if (label == labels[i]) return i;
    }
    return -1;
  }

 private:
  void add(const char* name, ColumnType t) {
    Column c;
    c.name = name;
    c.index = static_cast<int>(columns_.size()) + 1;
    c.type = std::move(t);
    columns_.push_back(std::move(c));
  }
  std::vector<Column> columns_;
};

class QuoteAlways : public SqlDialect {
 public:
  std::string quote_identifier(std::string_view name) const override {
    return "\"" + std::string(name) + "\"";
  }
};

// Host predicates for the mock: numerics as doubles, text ordering as bytes, LIKE with % and _.
class MockHost : public ProgramHost {
 public:
  std::int64_t literal_to_int(const Binding& b, const Literal& l, bool element) override {
    TypeCategory c = element ? b.column->type.element : b.column->type.category;
    if (c == TypeCategory::kEnum) return MockSchema::enum_index(l.text);
    if (c == TypeCategory::kDate) return *parse_date(l.text);
    return *parse_date(l.text) * 86400000000LL;  // timestamps: midnight UTC
  }
  std::unique_ptr<Predicate> compare(const Binding& b, CompareOp op, const Literal& l,
                                     ProgramBuilder& builder) override {
    ++host_predicates;
    if (b.column->type.category == TypeCategory::kEnum) {
      return std::make_unique<Fn>(builder.slot(b, SlotKind::kInt),
                                  [op, v = MockSchema::enum_index(l.text)](const Cell& c) {
                                    return holds(c.i < v ? -1 : c.i > v, op);
                                  });
    }
    if (b.kind == ValueKind::kJsonString || b.column->type.category == TypeCategory::kText ||
        b.column->type.category == TypeCategory::kBpchar) {
      return std::make_unique<Fn>(
          builder.slot(b,
                       b.kind == ValueKind::kJsonString ? SlotKind::kJsonString : SlotKind::kBytes),
          [op, v = l.text](const Cell& c) {
            int cmp = c.view().compare(v);
            return holds(cmp < 0 ? -1 : cmp > 0, op);
          });
    }
    double v = std::strtod(l.text.c_str(), nullptr);
    return std::make_unique<Fn>(builder.slot(b, SlotKind::kFloat), [op, v](const Cell& c) {
      return holds(compare_float(c.f, v), op);
    });
  }
  std::unique_ptr<Predicate> in_list(const Binding& b, bool negated, const std::vector<Literal>& ls,
                                     ProgramBuilder& builder) override {
    ++host_predicates;
    std::vector<double> values;
    for (const Literal& l : ls) values.push_back(std::strtod(l.text.c_str(), nullptr));
    return std::make_unique<Fn>(builder.slot(b, SlotKind::kFloat),
                                [negated, values](const Cell& c) {
                                  bool found = false;
                                  for (double v : values)
                                    found = found || compare_float(c.f, v) == 0;
                                  return found != negated;
                                });
  }
  std::unique_ptr<Predicate> like(const Binding& b, bool negated, bool ci,
                                  const std::string& pattern, ProgramBuilder& builder) override {
    ++host_predicates;
    return std::make_unique<Fn>(
        builder.slot(b, b.json_path.empty() ? SlotKind::kBytes : SlotKind::kJsonString),
        [negated, ci, pattern](const Cell& c) {
          return like_match(std::string(c.view()), pattern, ci) != negated;
        });
  }
  std::unique_ptr<Predicate> contains(const Binding&, bool, ContainsMode,
                                      const std::vector<Literal>&, ProgramBuilder&) override {
    throw Error("0A000", "mock host has no generic contains");
  }

  int host_predicates = 0;

  static bool holds(int cmp, CompareOp op) {
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

  static bool like_match(const std::string& s, const std::string& p, bool ci, size_t i = 0,
                         size_t j = 0) {
    if (j == p.size()) return i == s.size();
    if (p[j] == '%') {
      for (size_t k = i; k <= s.size(); ++k) {
        if (like_match(s, p, ci, k, j + 1)) return true;
      }
      return false;
    }
    if (i == s.size()) return false;
    char a = s[i], b = p[j];
    if (ci) {
      a = static_cast<char>(std::tolower(static_cast<unsigned char>(a)));
      b = static_cast<char>(std::tolower(static_cast<unsigned char>(b)));
    }
    if (p[j] != '_' && a != b) return false;
    return like_match(s, p, ci, i + 1, j + 1);
  }

 private:
  template <typename F>
  class FnImpl : public Predicate {
   public:
    FnImpl(int slot, F f) : slot_(slot), f_(std::move(f)) {}
    Tri eval(const RowView& row) const override {
      const Cell& c = row.cell(slot_);
      if (c.is_null()) return Tri::kUnknown;
      return tri_of(f_(c));
    }

   private:
    int slot_;
    F f_;
  };
  struct Fn : Predicate {
    template <typename F>
    Fn(int slot, F f) : impl(std::make_unique<FnImpl<F>>(slot, std::move(f))) {}
    Tri eval(const RowView& row) const override { return impl->eval(row); }
    std::unique_ptr<Predicate> impl;
  };
};

// A row of the mock object: column name -> value. Absent means NULL.
using Value = std::variant<std::int64_t, double, bool, std::string, std::vector<std::string>,
                           std::vector<std::int64_t>>;
struct Row {
  std::map<std::string, Value> values;
  std::map<std::string, Value> json;  // attrs keys (one level) -> value
};

// Fills cells for program's slots from row, and params for a fixed "now".
class RowFiller {
 public:
  RowFiller(const Program& program, const MockSchema& schema, std::int64_t now_us)
      : program_(program), schema_(schema) {
    for (const ParamSpec& p : program.params()) {
      std::int64_t unit_us = 60000000LL;
      switch (p.unit) {
        case TimeUnit::kMinute:
          unit_us = 60000000LL;
          break;
        case TimeUnit::kHour:
          unit_us = 3600000000LL;
          break;
        case TimeUnit::kDay:
          unit_us = 86400000000LL;
          break;
        case TimeUnit::kWeek:
          unit_us = 7 * 86400000000LL;
          break;
        case TimeUnit::kMonth:
          unit_us = 30 * 86400000000LL;
          break;
      }
      params_.push_back(now_us + p.sign * p.amount * unit_us);
    }
  }

  Tri eval(const Row& row) {
    cells_.assign(program_.slots().size(), Cell());
    lists_.assign(program_.slots().size(), {});
    for (std::size_t i = 0; i < program_.slots().size(); ++i) fill(i, row);
    RowView view{cells_.data(), params_.data()};
    return program_.eval(view);
  }

 private:
  const Column& column(int index) {
    for (const std::string& name : schema_.column_names()) {
      const Column* c = schema_.find_column(name);
      if (c->index == index) return *c;
    }
    throw std::logic_error("no column");
  }

  void fill(std::size_t i, const Row& row) {
    const SlotSpec& spec = program_.slots()[i];
    const Column& col = column(spec.column_index);
    const Value* value = nullptr;
    if (spec.json_path.empty()) {
      auto it = row.values.find(col.name);
      if (it != row.values.end()) value = &it->second;
    } else {
      auto it = row.json.find(spec.json_path.front());
      if (it != row.json.end()) value = &it->second;
    }
    if (value == nullptr) return;
    Cell& cell = cells_[i];
    switch (spec.kind) {
      case SlotKind::kRaw:
      case SlotKind::kJsonHandle:
        cell = Cell::of_handle(value);
        return;
      case SlotKind::kInt:
      case SlotKind::kTime:
      case SlotKind::kJsonBool:
        if (auto* b = std::get_if<bool>(value)) cell = Cell::of_int(*b ? 1 : 0);
        if (auto* n = std::get_if<std::int64_t>(value)) cell = Cell::of_int(*n);
        if (spec.kind == SlotKind::kTime && col.type.category == TypeCategory::kDate &&
            !cell.is_null()) {
          cell.i *= 86400000000LL;
        }
        return;
      case SlotKind::kJsonTime:
        if (auto* n = std::get_if<std::int64_t>(value)) cell = Cell::of_int(*n);
        return;
      case SlotKind::kFloat:
        if (auto* d = std::get_if<double>(value)) cell = Cell::of_float(*d);
        return;
      case SlotKind::kBytes:
      case SlotKind::kJsonString:
        if (auto* s = std::get_if<std::string>(value)) {
          cell = Cell::of_bytes(s->data(), static_cast<std::uint32_t>(s->size()));
        }
        return;
      case SlotKind::kBytesList:
        if (auto* v = std::get_if<std::vector<std::string>>(value)) {
          for (const std::string& s : *v)
            lists_[i].push_back(Cell::of_bytes(s.data(), static_cast<std::uint32_t>(s.size())));
          cell = Cell::of_list(lists_[i].data(), static_cast<std::uint32_t>(lists_[i].size()));
        }
        return;
      case SlotKind::kIntList:
        if (auto* v = std::get_if<std::vector<std::int64_t>>(value)) {
          for (std::int64_t n : *v) lists_[i].push_back(Cell::of_int(n));
          cell = Cell::of_list(lists_[i].data(), static_cast<std::uint32_t>(lists_[i].size()));
        }
        return;
    }
  }

  const Program& program_;
  const MockSchema& schema_;
  std::vector<std::int64_t> params_;
  std::vector<Cell> cells_;
  std::vector<std::vector<Cell>> lists_;
};

}  // namespace pgseg::testing
