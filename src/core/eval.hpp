// The evaluator: a filter compiled to a program over the cells of one row.
//
// The host (PostgreSQL glue, or a test) fills one Cell per slot the program asks for and the
// relative-time parameters, then calls Program::eval. Predicates on common types run natively
// here; the host supplies predicates for the rest (numeric, collation-aware ordering, LIKE).
#pragma once

#include "core/no_postgres.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/ast.hpp"
#include "core/binder.hpp"

namespace pgseg {

// SQL's three-valued logic.
enum class Tri : std::uint8_t { kFalse = 0, kTrue = 1, kUnknown = 2 };

inline Tri tri_not(Tri t) {
  return t == Tri::kUnknown ? t : (t == Tri::kTrue ? Tri::kFalse : Tri::kTrue);
}
inline Tri tri_of(bool b) {
  return b ? Tri::kTrue : Tri::kFalse;
}

enum class CellKind : std::uint8_t { kNull, kInt, kFloat, kBytes, kList, kHandle };

// One value of a row, as a slot of the program wants it.
struct Cell {
  CellKind kind = CellKind::kNull;
  std::uint32_t length = 0;  // kBytes: bytes; kList: elements
  union {
    std::int64_t i;
    double f;
    const char* bytes;
    const Cell* list;
    const void* handle;
  };
  Cell() : i(0) {}
  static Cell null() { return Cell(); }
  static Cell of_int(std::int64_t v) {
    Cell c;
    c.kind = CellKind::kInt;
    c.i = v;
    return c;
  }
  static Cell of_float(double v) {
    Cell c;
    c.kind = CellKind::kFloat;
    c.f = v;
    return c;
  }
  static Cell of_bytes(const char* data, std::uint32_t size) {
    Cell c;
    c.kind = CellKind::kBytes;
    c.bytes = data;
    c.length = size;
    return c;
  }
  static Cell of_list(const Cell* items, std::uint32_t count) {
    Cell c;
    c.kind = CellKind::kList;
    c.list = items;
    c.length = count;
    return c;
  }
  static Cell of_handle(const void* h) {
    Cell c;
    c.kind = CellKind::kHandle;
    c.handle = h;
    return c;
  }
  bool is_null() const { return kind == CellKind::kNull; }
  std::string_view view() const { return {bytes, length}; }
};

// How the host must present a column (or a jsonb key) in a slot.
enum class SlotKind : std::uint8_t {
  kRaw,         // the host's own value (kHandle); used for IS NULL and host predicates
  kInt,         // integers; booleans as 0/1; enum labels, dates (days), timestamps (us)
  kFloat,       // real / double precision as double
  kBytes,       // text bytes
  kTime,        // date / timestamp / timestamptz as timestamptz microseconds (clamped)
  kIntList,     // array elements as kInt cells, NULL elements left out
  kBytesList,   // array elements as kBytes cells, NULL elements left out
  kJsonString,  // jsonb key: a JSON string's bytes, else NULL
  kJsonBool,    // jsonb key: a JSON boolean as 0/1, else NULL
  kJsonTime,    // jsonb key: a JSON string read as timestamptz microseconds, else NULL
  kJsonHandle,  // jsonb key: the host's handle to the JSON value; NULL when missing or null
};

struct SlotSpec {
  int column_index = 0;
  SlotKind kind = SlotKind::kRaw;
  std::vector<std::string> json_path;
  bool operator==(const SlotSpec& o) const {
    return column_index == o.column_index && kind == o.kind && json_path == o.json_path;
  }
};

// A time the host computes once per statement: now(), now() - interval, now() + interval.
struct ParamSpec {
  int sign = 0;  // 0: now(); -1: now() - amount unit; +1: now() + amount unit
  std::int64_t amount = 0;
  TimeUnit unit = TimeUnit::kDay;
  bool operator==(const ParamSpec& o) const {
    return sign == o.sign && amount == o.amount && unit == o.unit;
  }
};

// A relative-time comparison: the value in slot is compared with param (now +/- an interval).
struct TimeBound {
  int slot = 0;
  int param = 0;
  bool at_least = false;  // the value is compared with >= (else <, <=)
};

// Fills cells on first use, so that conditions an evaluation never reaches cost nothing.
class CellSource {
 public:
  virtual ~CellSource() = default;
  virtual void fill(int slot) const = 0;
};

struct RowView {
  const Cell* cells = nullptr;
  const std::int64_t* params = nullptr;
  // With a source, a cell whose state byte is 0 is filled by the source on first access.
  const CellSource* source = nullptr;
  const std::uint8_t* filled = nullptr;

  const Cell& cell(int slot) const {
    if (source != nullptr && filled[slot] == 0) source->fill(slot);
    return cells[slot];
  }
};

// A leaf test. eval never throws for any cell content.
class Predicate {
 public:
  virtual ~Predicate() = default;
  virtual Tri eval(const RowView& row) const = 0;
};

// Compares with PostgreSQL's float8 ordering: NaN equals NaN and sorts above everything.
int compare_float(double a, double b);

class ProgramBuilder;

// Predicates the core does not evaluate natively come from the host.
class ProgramHost {
 public:
  virtual ~ProgramHost() = default;
  // Value of a date, timestamp, timestamptz or enum literal as the host's kInt cells hold it.
  virtual std::int64_t literal_to_int(const Binding& binding, const Literal& literal,
                                      bool element) = 0;
  virtual std::unique_ptr<Predicate> compare(const Binding& binding, CompareOp op,
                                             const Literal& literal, ProgramBuilder& builder) = 0;
  virtual std::unique_ptr<Predicate> in_list(const Binding& binding, bool negated,
                                             const std::vector<Literal>& literals,
                                             ProgramBuilder& builder) = 0;
  virtual std::unique_ptr<Predicate> like(const Binding& binding, bool negated,
                                          bool case_insensitive, const std::string& pattern,
                                          ProgramBuilder& builder) = 0;
  virtual std::unique_ptr<Predicate> contains(const Binding& binding, bool negated,
                                              ContainsMode mode,
                                              const std::vector<Literal>& literals,
                                              ProgramBuilder& builder) = 0;
  // A condition that reads other rows (related tables, IN SEGMENT). The core cannot read them;
  // a host that can (PostgreSQL, by SQL) overrides this.
  virtual std::unique_ptr<Predicate> related(const Node& node, const BoundFilter& bound,
                                             ProgramBuilder& builder);
};

// A compiled filter.
class Program {
 public:
  Tri eval(const RowView& row) const { return code_.empty() ? Tri::kFalse : eval_at(0, row); }

  const std::vector<SlotSpec>& slots() const { return slots_; }
  const std::vector<ParamSpec>& params() const { return params_; }
  // Relative-time comparisons, whose answer changes as time passes.
  const std::vector<TimeBound>& time_bounds() const { return time_bounds_; }
  std::size_t leaf_count() const { return leaves_.size(); }
  // What each leaf tests: a signature that is equal for leaves of programs over the same object
  // exactly when they are the same test (the condition's canonical text and the leaf's place
  // in it), and the column it reads (-1 for conditions over other rows).
  struct LeafInfo {
    std::string signature;
    int column_index = -1;
  };
  const std::vector<LeafInfo>& leaf_info() const { return leaf_info_; }
  // One leaf's answer on row; with eval's cells and params.
  Tri eval_leaf(std::size_t leaf, const RowView& row) const { return leaves_[leaf]->eval(row); }
  // Column indexes the program reads (sorted, unique).
  std::vector<int> columns_read() const;
  // Column indexes compared with a relative time (sorted, unique): only a change of one of
  // these can move the time at which the answer for an unchanged evaluation path flips.
  std::vector<int> time_columns() const;

 private:
  friend class ProgramBuilder;
  enum class Op : std::uint8_t { kAnd, kOr, kNot, kLeaf, kConst };
  struct Instr {
    Op op;
    bool value;          // kConst
    std::uint32_t end;   // index one past this instruction's subtree
    std::uint32_t leaf;  // kLeaf
  };

  Tri eval_at(std::uint32_t index, const RowView& row) const;

  std::vector<Instr> code_;
  std::vector<std::unique_ptr<Predicate>> leaves_;
  std::vector<LeafInfo> leaf_info_;
  std::vector<SlotSpec> slots_;
  std::vector<ParamSpec> params_;
  std::vector<TimeBound> time_bounds_;
};

// When a time bound's answer for a value may change next.
struct Flip {
  enum class Kind { kNever, kAt, kExactNeeded };
  Kind kind = Kind::kNever;
  std::int64_t at = 0;
};

// The next change of a time bound comparing value with bound (the bound's current value,
// now +/- interval). kAt gives a lower bound, never later than the real change: intervals in
// days, weeks and months are widened for daylight-saving shifts and month lengths, and an early
// recheck simply evaluates the row again. kExactNeeded: that lower bound has already passed
// but the change has not happened yet; the host must compute the exact time with its calendar.
// kNever: the answer can no longer change as time passes.
// at_least: the comparison is value >= bound (else value < bound or value <= bound).
Flip next_flip(std::int64_t value, const ParamSpec& spec, std::int64_t bound, std::int64_t now,
               bool at_least = false);

// Longest real length of the spec's interval (microseconds), for bounding exact searches.
std::int64_t longest_interval(const ParamSpec& spec);

// Builds a Program from a bound filter.
class ProgramBuilder {
 public:
  ProgramBuilder(const ObjectSchema& schema, ProgramHost& host) : schema_(schema), host_(host) {}

  std::unique_ptr<Program> build(const Node& root, const BoundFilter& bound);

  // Index of the slot presenting binding's value as kind (shared between predicates).
  int slot(const Binding& binding, SlotKind kind);
  int param(const ParamSpec& spec);

 private:
  void emit(const Node& node);
  void begin(Program::Op op);
  void end();
  void leaf(std::unique_ptr<Predicate> predicate);
  void constant(bool value);

  void emit_compare(const Node& node, const Binding& binding, CompareOp op, const Literal& literal);
  void emit_in(const Node& node, const Binding& binding);
  void emit_between(const Node& node, const Binding& binding);
  void emit_contains(const Node& node, const Binding& binding);
  void emit_relative_time(const Node& node, const Binding& binding);
  bool native_bytes_equality(const Binding& binding) const;
  bool native_bytes_order(const Binding& binding) const;

  const ObjectSchema& schema_;
  ProgramHost& host_;
  const BoundFilter* bound_ = nullptr;
  std::unique_ptr<Program> program_;
  std::vector<std::uint32_t> open_;
  // The condition whose leaves are being emitted, for Program::LeafInfo.
  std::string condition_text_;
  int condition_column_ = -1;
  int condition_leaves_ = 0;
};

// Compiles root (bound to schema) into a program.
std::unique_ptr<Program> compile_program(const Node& root, const BoundFilter& bound,
                                         const ObjectSchema& schema, ProgramHost& host);

}  // namespace pgseg
