// Native predicates and the program builder.
#include "core/eval.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/error.hpp"
#include "core/number.hpp"
#include "core/printer.hpp"

namespace pgseg {

int compare_float(double a, double b) {
  if (std::isnan(a)) return std::isnan(b) ? 0 : 1;
  if (std::isnan(b)) return -1;
  return a < b ? -1 : (a > b ? 1 : 0);
}

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

int compare_int(std::int64_t a, std::int64_t b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

// Byte order, then length: PostgreSQL's text ordering under the C collation.
int compare_bytes(std::string_view a, std::string_view b) {
  std::size_t n = std::min(a.size(), b.size());
  int cmp = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
  if (cmp != 0) return cmp < 0 ? -1 : 1;
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

class IntCompare final : public Predicate {
 public:
  IntCompare(int slot, CompareOp op, std::int64_t value) : slot_(slot), op_(op), value_(value) {}
  Tri eval(const RowView& row) const override {
    const Cell& cell = row.cell(slot_);
    if (cell.kind != CellKind::kInt) return Tri::kUnknown;
    return tri_of(holds(compare_int(cell.i, value_), op_));
  }

 private:
  int slot_;
  CompareOp op_;
  std::int64_t value_;
};

class IntIn final : public Predicate {
 public:
  IntIn(int slot, bool negated, std::vector<std::int64_t> values)
      : slot_(slot), negated_(negated), values_(std::move(values)) {
    std::sort(values_.begin(), values_.end());
    values_.erase(std::unique(values_.begin(), values_.end()), values_.end());
  }
  Tri eval(const RowView& row) const override {
    const Cell& cell = row.cell(slot_);
    if (cell.kind != CellKind::kInt) return Tri::kUnknown;
    bool found = std::binary_search(values_.begin(), values_.end(), cell.i);
    return tri_of(found != negated_);
  }

 private:
  int slot_;
  bool negated_;
  std::vector<std::int64_t> values_;
};

class FloatCompare final : public Predicate {
 public:
  FloatCompare(int slot, CompareOp op, double value) : slot_(slot), op_(op), value_(value) {}
  Tri eval(const RowView& row) const override {
    const Cell& cell = row.cell(slot_);
    if (cell.kind != CellKind::kFloat) return Tri::kUnknown;
    return tri_of(holds(compare_float(cell.f, value_), op_));
  }

 private:
  int slot_;
  CompareOp op_;
  double value_;
};

class FloatIn final : public Predicate {
 public:
  FloatIn(int slot, bool negated, std::vector<double> values)
      : slot_(slot), negated_(negated), values_(std::move(values)) {}
  Tri eval(const RowView& row) const override {
    const Cell& cell = row.cell(slot_);
    if (cell.kind != CellKind::kFloat) return Tri::kUnknown;
    bool found = false;
    for (double v : values_) found = found || compare_float(cell.f, v) == 0;
    return tri_of(found != negated_);
  }

 private:
  int slot_;
  bool negated_;
  std::vector<double> values_;
};

class BytesEquals final : public Predicate {
 public:
  BytesEquals(int slot, bool negated, std::string value)
      : slot_(slot), negated_(negated), value_(std::move(value)) {}
  Tri eval(const RowView& row) const override {
    const Cell& cell = row.cell(slot_);
    if (cell.kind != CellKind::kBytes) return Tri::kUnknown;
    return tri_of((cell.view() == value_) != negated_);
  }

 private:
  int slot_;
  bool negated_;
  std::string value_;
};

class BytesIn final : public Predicate {
 public:
  BytesIn(int slot, bool negated, const std::vector<Literal>& literals)
      : slot_(slot), negated_(negated) {
    storage_.reserve(literals.size());
    for (const Literal& literal : literals) storage_.push_back(literal.text);
    // The set views the strings in storage_, which never changes after this point.
    for (const std::string& s : storage_) values_.insert(std::string_view(s));
  }
  Tri eval(const RowView& row) const override {
    const Cell& cell = row.cell(slot_);
    if (cell.kind != CellKind::kBytes) return Tri::kUnknown;
    return tri_of((values_.count(cell.view()) != 0) != negated_);
  }

 private:
  int slot_;
  bool negated_;
  std::vector<std::string> storage_;
  std::unordered_set<std::string_view> values_;
};

class BytesOrder final : public Predicate {
 public:
  BytesOrder(int slot, CompareOp op, std::string value)
      : slot_(slot), op_(op), value_(std::move(value)) {}
  Tri eval(const RowView& row) const override {
    const Cell& cell = row.cell(slot_);
    if (cell.kind != CellKind::kBytes) return Tri::kUnknown;
    return tri_of(holds(compare_bytes(cell.view(), value_), op_));
  }

 private:
  int slot_;
  CompareOp op_;
  std::string value_;
};

class IsNull final : public Predicate {
 public:
  IsNull(int slot, bool negated) : slot_(slot), negated_(negated) {}
  Tri eval(const RowView& row) const override {
    return tri_of(row.cell(slot_).is_null() != negated_);
  }

 private:
  int slot_;
  bool negated_;
};

class Truth final : public Predicate {
 public:
  explicit Truth(int slot) : slot_(slot) {}
  Tri eval(const RowView& row) const override {
    const Cell& cell = row.cell(slot_);
    if (cell.kind != CellKind::kInt) return Tri::kUnknown;
    return tri_of(cell.i != 0);
  }

 private:
  int slot_;
};

// Unknown for NULL, else a fixed answer (x = 2.5 on an integer column is never true).
class NullOr final : public Predicate {
 public:
  NullOr(int slot, bool result) : slot_(slot), result_(result) {}
  Tri eval(const RowView& row) const override {
    return row.cell(slot_).is_null() ? Tri::kUnknown : tri_of(result_);
  }

 private:
  int slot_;
  bool result_;
};

class TimeVersusParam final : public Predicate {
 public:
  TimeVersusParam(int slot, CompareOp op, int param) : slot_(slot), op_(op), param_(param) {}
  Tri eval(const RowView& row) const override {
    const Cell& cell = row.cell(slot_);
    if (cell.kind != CellKind::kInt) return Tri::kUnknown;
    return tri_of(holds(compare_int(cell.i, row.params[param_]), op_));
  }

 private:
  int slot_;
  CompareOp op_;
  int param_;
};

// CONTAINS family over list cells; a NULL list is the empty set.
template <typename Value, typename Match>
class ListContains final : public Predicate {
 public:
  ListContains(int slot, ContainsMode mode, bool negated, std::vector<Value> values, Match match)
      : slot_(slot), mode_(mode), negated_(negated), values_(std::move(values)), match_(match) {}
  Tri eval(const RowView& row) const override {
    const Cell& cell = row.cell(slot_);
    bool result = mode_ != ContainsMode::kAny;
    for (const Value& value : values_) {
      bool present = false;
      if (cell.kind == CellKind::kList) {
        for (std::uint32_t i = 0; i < cell.length && !present; ++i) {
          present = match_(cell.list[i], value);
        }
      }
      if (mode_ == ContainsMode::kAny && present) {
        result = true;
        break;
      }
      if (mode_ != ContainsMode::kAny && !present) {
        result = false;
        break;
      }
    }
    return tri_of(result != negated_);
  }

 private:
  int slot_;
  ContainsMode mode_;
  bool negated_;
  std::vector<Value> values_;
  Match match_;
};

template <typename Value, typename Match>
std::unique_ptr<Predicate> make_list_contains(int slot, ContainsMode mode, bool negated,
                                              std::vector<Value> values, Match match) {
  return std::make_unique<ListContains<Value, Match>>(slot, mode, negated, std::move(values),
                                                      match);
}

}  // namespace

namespace {

constexpr std::int64_t kMinute = 60LL * 1000000;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;
// Daylight-saving transitions move local days by at most this much (most zones: one hour).
constexpr std::int64_t kZoneSlack = 3 * kHour;

// Shortest and longest real length of amount units.
void interval_range(const ParamSpec& spec, std::int64_t* shortest, std::int64_t* longest) {
  const std::int64_t n = spec.amount;
  switch (spec.unit) {
    case TimeUnit::kMinute:
      *shortest = *longest = n * kMinute;
      return;
    case TimeUnit::kHour:
      *shortest = *longest = n * kHour;
      return;
    case TimeUnit::kDay:
      *shortest = n * kDay - kZoneSlack;
      *longest = n * kDay + kZoneSlack;
      return;
    case TimeUnit::kWeek:
      *shortest = 7 * n * kDay - kZoneSlack;
      *longest = 7 * n * kDay + kZoneSlack;
      return;
    case TimeUnit::kMonth:
      *shortest = 28 * n * kDay - kZoneSlack;
      *longest = 31 * n * kDay + kZoneSlack;
      return;
  }
}

}  // namespace

Flip next_flip(std::int64_t value, const ParamSpec& spec, std::int64_t bound, std::int64_t now,
               bool at_least) {
  std::int64_t shortest = 0;
  std::int64_t longest = 0;
  interval_range(spec, &shortest, &longest);
  Flip flip;
  std::int64_t at = 0;
  if (spec.sign < 0) {
    // value against now - I: the answer changes once now - I passes value, and never again.
    if (bound > value) return flip;
    if (__builtin_add_overflow(value, shortest, &at) ||
        __builtin_add_overflow(at, std::int64_t{1}, &at)) {
      return flip;
    }
  } else if (spec.sign > 0) {
    // value against now + I: changes once now + I reaches value.
    if (bound >= value) return flip;
    if (__builtin_sub_overflow(value, longest, &at)) return flip;
  } else if (at_least) {
    // value >= now (WITHIN NEXT): true while now has not passed value, false one microsecond
    // after (a row written with value = now() is true in its own statement).
    if (bound > value) return flip;
    if (__builtin_add_overflow(value, std::int64_t{1}, &at)) return flip;
  } else {
    // value <= now (WITHIN LAST): becomes true once now reaches value.
    if (bound >= value) return flip;
    at = value;
  }
  if (at > now) {
    flip.kind = Flip::Kind::kAt;
    flip.at = at;
  } else {
    flip.kind = Flip::Kind::kExactNeeded;
  }
  return flip;
}

std::int64_t longest_interval(const ParamSpec& spec) {
  std::int64_t shortest = 0;
  std::int64_t longest = 0;
  interval_range(spec, &shortest, &longest);
  return longest;
}

std::vector<int> Program::columns_read() const {
  std::vector<int> columns;
  for (const SlotSpec& slot : slots_) columns.push_back(slot.column_index);
  std::sort(columns.begin(), columns.end());
  columns.erase(std::unique(columns.begin(), columns.end()), columns.end());
  return columns;
}

std::vector<int> Program::time_columns() const {
  std::vector<int> columns;
  for (const TimeBound& bound : time_bounds_) {
    columns.push_back(slots_[static_cast<std::size_t>(bound.slot)].column_index);
  }
  std::sort(columns.begin(), columns.end());
  columns.erase(std::unique(columns.begin(), columns.end()), columns.end());
  return columns;
}

Tri Program::eval_at(std::uint32_t index, const RowView& row) const {
  const Instr& instr = code_[index];
  switch (instr.op) {
    case Op::kLeaf:
      return leaves_[instr.leaf]->eval(row);
    case Op::kConst:
      return tri_of(instr.value);
    case Op::kNot:
      return tri_not(eval_at(index + 1, row));
    case Op::kAnd: {
      Tri result = Tri::kTrue;
      for (std::uint32_t child = index + 1; child < instr.end; child = code_[child].end) {
        Tri t = eval_at(child, row);
        if (t == Tri::kFalse) return Tri::kFalse;
        if (t == Tri::kUnknown) result = Tri::kUnknown;
      }
      return result;
    }
    case Op::kOr: {
      Tri result = Tri::kFalse;
      for (std::uint32_t child = index + 1; child < instr.end; child = code_[child].end) {
        Tri t = eval_at(child, row);
        if (t == Tri::kTrue) return Tri::kTrue;
        if (t == Tri::kUnknown) result = Tri::kUnknown;
      }
      return result;
    }
  }
  return Tri::kUnknown;
}

int ProgramBuilder::slot(const Binding& binding, SlotKind kind) {
  SlotSpec spec;
  spec.column_index = binding.column->index;
  spec.kind = kind;
  spec.json_path = binding.json_path;
  auto& slots = program_->slots_;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (slots[i] == spec) return static_cast<int>(i);
  }
  slots.push_back(std::move(spec));
  return static_cast<int>(slots.size() - 1);
}

int ProgramBuilder::param(const ParamSpec& spec) {
  auto& params = program_->params_;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i] == spec) return static_cast<int>(i);
  }
  params.push_back(spec);
  return static_cast<int>(params.size() - 1);
}

void ProgramBuilder::begin(Program::Op op) {
  open_.push_back(static_cast<std::uint32_t>(program_->code_.size()));
  program_->code_.push_back({op, false, 0, 0});
}

void ProgramBuilder::end() {
  program_->code_[open_.back()].end = static_cast<std::uint32_t>(program_->code_.size());
  open_.pop_back();
}

void ProgramBuilder::leaf(std::unique_ptr<Predicate> predicate) {
  auto index = static_cast<std::uint32_t>(program_->code_.size());
  program_->code_.push_back(
      {Program::Op::kLeaf, false, index + 1, static_cast<std::uint32_t>(program_->leaves_.size())});
  program_->leaves_.push_back(std::move(predicate));
  program_->leaf_info_.push_back(
      {condition_text_ + "#" + std::to_string(condition_leaves_++), condition_column_});
}

void ProgramBuilder::constant(bool value) {
  auto index = static_cast<std::uint32_t>(program_->code_.size());
  program_->code_.push_back({Program::Op::kConst, value, index + 1, 0});
}

bool ProgramBuilder::native_bytes_equality(const Binding& binding) const {
  if (!binding.json_path.empty()) return true;  // the default collation is deterministic
  return binding.column->type.category == TypeCategory::kText &&
         binding.column->type.collation_deterministic;
}

bool ProgramBuilder::native_bytes_order(const Binding& binding) const {
  if (!binding.json_path.empty()) return schema_.default_collation_is_c();
  return binding.column->type.category == TypeCategory::kText &&
         binding.column->type.collation_is_c;
}

void ProgramBuilder::emit_compare(const Node& node, const Binding& binding, CompareOp op,
                                  const Literal& literal) {
  (void)node;
  const bool equality = op == CompareOp::kEq || op == CompareOp::kNe;
  if (!binding.json_path.empty()) {
    if (binding.kind == ValueKind::kJsonBool) {
      leaf(std::make_unique<IntCompare>(slot(binding, SlotKind::kJsonBool), op,
                                        literal.boolean ? 1 : 0));
    } else if (binding.kind == ValueKind::kJsonString && equality) {
      leaf(std::make_unique<BytesEquals>(slot(binding, SlotKind::kJsonString), op == CompareOp::kNe,
                                         literal.text));
    } else if (binding.kind == ValueKind::kJsonString && native_bytes_order(binding)) {
      leaf(std::make_unique<BytesOrder>(slot(binding, SlotKind::kJsonString), op, literal.text));
    } else {
      leaf(host_.compare(binding, op, literal, *this));
    }
    return;
  }
  switch (binding.column->type.category) {
    case TypeCategory::kInteger: {
      const int s = slot(binding, SlotKind::kInt);
      IntegerView view = integer_view(literal.text);
      switch (view.kind) {
        case IntegerView::Kind::kExact:
          leaf(std::make_unique<IntCompare>(s, op, view.value));
          return;
        case IntegerView::Kind::kNonIntegral:
          // x < 2.5 is x <= 2; x > 2.5 is x > 2; x = 2.5 never holds.
          if (op == CompareOp::kEq || op == CompareOp::kNe) {
            leaf(std::make_unique<NullOr>(s, op == CompareOp::kNe));
          } else if (op == CompareOp::kLt || op == CompareOp::kLe) {
            leaf(std::make_unique<IntCompare>(s, CompareOp::kLe, view.value));
          } else {
            leaf(std::make_unique<IntCompare>(s, CompareOp::kGt, view.value));
          }
          return;
        case IntegerView::Kind::kAboveRange:
          leaf(std::make_unique<NullOr>(
              s, op == CompareOp::kNe || op == CompareOp::kLt || op == CompareOp::kLe));
          return;
        case IntegerView::Kind::kBelowRange:
          leaf(std::make_unique<NullOr>(
              s, op == CompareOp::kNe || op == CompareOp::kGt || op == CompareOp::kGe));
          return;
      }
      return;
    }
    case TypeCategory::kFloat:
      leaf(std::make_unique<FloatCompare>(slot(binding, SlotKind::kFloat), op,
                                          std::strtod(literal.text.c_str(), nullptr)));
      return;
    case TypeCategory::kBool:
      leaf(
          std::make_unique<IntCompare>(slot(binding, SlotKind::kInt), op, literal.boolean ? 1 : 0));
      return;
    case TypeCategory::kDate:
    case TypeCategory::kTimestamp:
    case TypeCategory::kTimestampTz:
      leaf(std::make_unique<IntCompare>(slot(binding, SlotKind::kInt), op,
                                        host_.literal_to_int(binding, literal, false)));
      return;
    case TypeCategory::kEnum:
      if (equality) {
        leaf(std::make_unique<IntCompare>(slot(binding, SlotKind::kInt), op,
                                          host_.literal_to_int(binding, literal, false)));
        return;
      }
      break;
    case TypeCategory::kText:
      if (equality && native_bytes_equality(binding)) {
        leaf(std::make_unique<BytesEquals>(slot(binding, SlotKind::kBytes), op == CompareOp::kNe,
                                           literal.text));
        return;
      }
      if (!equality && native_bytes_order(binding)) {
        leaf(std::make_unique<BytesOrder>(slot(binding, SlotKind::kBytes), op, literal.text));
        return;
      }
      break;
    default:
      break;
  }
  leaf(host_.compare(binding, op, literal, *this));
}

void ProgramBuilder::emit_in(const Node& node, const Binding& binding) {
  if (!binding.json_path.empty()) {
    if (binding.kind == ValueKind::kJsonBool) {
      std::vector<std::int64_t> values;
      for (const Literal& literal : node.literals) values.push_back(literal.boolean ? 1 : 0);
      leaf(std::make_unique<IntIn>(slot(binding, SlotKind::kJsonBool), node.negated,
                                   std::move(values)));
    } else if (binding.kind == ValueKind::kJsonString) {
      leaf(std::make_unique<BytesIn>(slot(binding, SlotKind::kJsonString), node.negated,
                                     node.literals));
    } else {
      leaf(host_.in_list(binding, node.negated, node.literals, *this));
    }
    return;
  }
  switch (binding.column->type.category) {
    case TypeCategory::kInteger: {
      const int s = slot(binding, SlotKind::kInt);
      std::vector<std::int64_t> values;
      for (const Literal& literal : node.literals) {
        IntegerView view = integer_view(literal.text);
        // A non-integral or out-of-range value equals no integer.
        if (view.kind == IntegerView::Kind::kExact) values.push_back(view.value);
      }
      if (values.empty()) {
        leaf(std::make_unique<NullOr>(s, node.negated));
      } else {
        leaf(std::make_unique<IntIn>(s, node.negated, std::move(values)));
      }
      return;
    }
    case TypeCategory::kFloat: {
      std::vector<double> values;
      for (const Literal& literal : node.literals) {
        values.push_back(std::strtod(literal.text.c_str(), nullptr));
      }
      leaf(std::make_unique<FloatIn>(slot(binding, SlotKind::kFloat), node.negated,
                                     std::move(values)));
      return;
    }
    case TypeCategory::kBool:
    case TypeCategory::kDate:
    case TypeCategory::kTimestamp:
    case TypeCategory::kTimestampTz:
    case TypeCategory::kEnum: {
      std::vector<std::int64_t> values;
      for (const Literal& literal : node.literals) {
        values.push_back(binding.column->type.category == TypeCategory::kBool
                             ? (literal.boolean ? 1 : 0)
                             : host_.literal_to_int(binding, literal, false));
      }
      leaf(std::make_unique<IntIn>(slot(binding, SlotKind::kInt), node.negated, std::move(values)));
      return;
    }
    case TypeCategory::kText:
      if (native_bytes_equality(binding)) {
        leaf(std::make_unique<BytesIn>(slot(binding, SlotKind::kBytes), node.negated,
                                       node.literals));
        return;
      }
      break;
    default:
      break;
  }
  leaf(host_.in_list(binding, node.negated, node.literals, *this));
}

void ProgramBuilder::emit_between(const Node& node, const Binding& binding) {
  // x BETWEEN a AND b is x >= a AND x <= b; NOT BETWEEN is x < a OR x > b (as PostgreSQL).
  begin(node.negated ? Program::Op::kOr : Program::Op::kAnd);
  emit_compare(node, binding, node.negated ? CompareOp::kLt : CompareOp::kGe, node.literals[0]);
  emit_compare(node, binding, node.negated ? CompareOp::kGt : CompareOp::kLe, node.literals[1]);
  end();
}

void ProgramBuilder::emit_contains(const Node& node, const Binding& binding) {
  if (binding.json_path.empty()) {
    const ColumnType& type = binding.column->type;
    switch (type.element) {
      case TypeCategory::kInteger:
      case TypeCategory::kBool:
      case TypeCategory::kEnum:
      case TypeCategory::kDate:
      case TypeCategory::kTimestamp:
      case TypeCategory::kTimestampTz: {
        std::vector<std::int64_t> values;
        for (const Literal& literal : node.literals) {
          if (type.element == TypeCategory::kInteger) {
            // The binder checked that the element type reads the literal, so it is integral.
            values.push_back(parse_int64(literal.text).value_or(0));
          } else if (type.element == TypeCategory::kBool) {
            values.push_back(literal.boolean ? 1 : 0);
          } else {
            values.push_back(host_.literal_to_int(binding, literal, true));
          }
        }
        leaf(make_list_contains(slot(binding, SlotKind::kIntList), node.mode, node.negated,
                                std::move(values), [](const Cell& cell, std::int64_t v) {
                                  return cell.kind == CellKind::kInt && cell.i == v;
                                }));
        return;
      }
      case TypeCategory::kText:
        if (type.collation_deterministic) {
          std::vector<std::string> values;
          for (const Literal& literal : node.literals) values.push_back(literal.text);
          leaf(make_list_contains(slot(binding, SlotKind::kBytesList), node.mode, node.negated,
                                  std::move(values), [](const Cell& cell, const std::string& v) {
                                    return cell.kind == CellKind::kBytes && cell.view() == v;
                                  }));
          return;
        }
        break;
      default:
        break;
    }
  }
  leaf(host_.contains(binding, node.negated, node.mode, node.literals, *this));
}

void ProgramBuilder::emit_relative_time(const Node& node, const Binding& binding) {
  const int s = binding.json_path.empty() ? slot(binding, SlotKind::kTime)
                                          : slot(binding, SlotKind::kJsonTime);
  const int now = param(ParamSpec{0, 0, node.unit});
  auto remember = [&](int p, bool at_least) {
    for (const TimeBound& b : program_->time_bounds_) {
      if (b.slot == s && b.param == p && b.at_least == at_least) return;
    }
    program_->time_bounds_.push_back(TimeBound{s, p, at_least});
  };
  switch (node.rel_kind) {
    case RelTimeKind::kWithinLast: {
      const int lower = param(ParamSpec{-1, node.amount, node.unit});
      remember(lower, true);
      remember(now, false);
      begin(Program::Op::kAnd);
      leaf(std::make_unique<TimeVersusParam>(s, CompareOp::kGe, lower));
      leaf(std::make_unique<TimeVersusParam>(s, CompareOp::kLe, now));
      end();
      return;
    }
    case RelTimeKind::kWithinNext: {
      const int upper = param(ParamSpec{1, node.amount, node.unit});
      remember(now, true);
      remember(upper, false);
      begin(Program::Op::kAnd);
      leaf(std::make_unique<TimeVersusParam>(s, CompareOp::kGe, now));
      leaf(std::make_unique<TimeVersusParam>(s, CompareOp::kLe, upper));
      end();
      return;
    }
    case RelTimeKind::kOlderThan: {
      const int lower = param(ParamSpec{-1, node.amount, node.unit});
      remember(lower, false);
      leaf(std::make_unique<TimeVersusParam>(s, CompareOp::kLt, lower));
      return;
    }
  }
}

void ProgramBuilder::emit(const Node& node) {
  switch (node.kind) {
    case NodeKind::kAnd:
    case NodeKind::kOr:
      begin(node.kind == NodeKind::kAnd ? Program::Op::kAnd : Program::Op::kOr);
      for (const auto& child : node.children) emit(*child);
      end();
      return;
    case NodeKind::kNot:
      begin(Program::Op::kNot);
      emit(*node.children.front());
      end();
      return;
    case NodeKind::kConst:
      constant(node.value);
      return;
    default:
      break;
  }
  const Binding& binding = bound_->binding(node);
  condition_text_ = print_filter(node);
  condition_column_ = binding.related() ? -1 : binding.column->index;
  condition_leaves_ = 0;
  if (binding.related()) {
    leaf(host_.related(node, *bound_, *this));
    return;
  }
  switch (node.kind) {
    case NodeKind::kCompare:
      emit_compare(node, binding, node.op, node.literals.front());
      return;
    case NodeKind::kIn:
      emit_in(node, binding);
      return;
    case NodeKind::kBetween:
      emit_between(node, binding);
      return;
    case NodeKind::kIsNull:
      leaf(std::make_unique<IsNull>(binding.json_path.empty()
                                        ? slot(binding, SlotKind::kRaw)
                                        : slot(binding, SlotKind::kJsonHandle),
                                    node.negated));
      return;
    case NodeKind::kLike:
      leaf(host_.like(binding, node.negated, node.case_insensitive, node.literals.front().text,
                      *this));
      return;
    case NodeKind::kContains:
      emit_contains(node, binding);
      return;
    case NodeKind::kRelTime:
      emit_relative_time(node, binding);
      return;
    case NodeKind::kTruth:
      leaf(std::make_unique<Truth>(binding.json_path.empty() ? slot(binding, SlotKind::kInt)
                                                             : slot(binding, SlotKind::kJsonBool)));
      return;
    default:
      constant(false);
      return;
  }
}

std::unique_ptr<Predicate> ProgramHost::related(const Node& node, const BoundFilter&,
                                                ProgramBuilder&) {
  throw Error(sqlstate::kFeatureNotSupported,
              "conditions over related tables and segments cannot be evaluated here",
              "in condition: " + print_filter(node));
}

std::unique_ptr<Program> ProgramBuilder::build(const Node& root, const BoundFilter& bound) {
  program_ = std::make_unique<Program>();
  bound_ = &bound;
  open_.clear();
  emit(root);
  return std::move(program_);
}

std::unique_ptr<Program> compile_program(const Node& root, const BoundFilter& bound,
                                         const ObjectSchema& schema, ProgramHost& host) {
  return ProgramBuilder(schema, host).build(root, bound);
}

}  // namespace pgseg
