// Evaluates a compiled program on heap tuples of its object.
#pragma once

#include "pg/postgres.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/eval.hpp"
#include "pg/relation_schema.hpp"

namespace pgseg::pg {

class RowEvaluator {
 public:
  RowEvaluator(const Program& program, const RelationSchema& schema);

  // The filter's three-valued answer for tuple. Per-row memory (detoasted values, array
  // elements) is allocated in CurrentMemoryContext, which the caller resets.
  Tri eval(HeapTuple tuple, TupleDesc desc);

  // The same for a row already deformed into values/nulls (natts attributes).
  Tri eval_values(const Datum* values, const bool* nulls, int natts);

  // Makes values/nulls the row that leaf() reads, until the next call of this or eval.
  void set_row(const Datum* values, const bool* nulls, int natts);
  // One leaf of the program (Program::leaf_info) on the row set last.
  Tri leaf(std::size_t index) {
    return program_.eval_leaf(index,
                              RowView{cells_.data(), params_.data(), &filler_, filled_.data()});
  }

  // After an evaluation: the earliest time after now at which the answer for that row may
  // change as time passes (a lower bound, or the exact time), if any.
  std::optional<TimestampTz> next_due();

 private:
  struct SlotPlan {
    AttrNumber attnum = 0;
    SlotKind kind = SlotKind::kRaw;
    Oid base_type = InvalidOid;
    Oid element_type = InvalidOid;
    int16 element_length = 0;
    bool element_by_value = false;
    char element_align = 'i';
    std::vector<std::string> keys;
    std::vector<const char*> key_pointers;
    std::vector<int> key_lengths;
  };

  // Fills cells on demand from the row being evaluated.
  class Filler final : public CellSource {
   public:
    explicit Filler(RowEvaluator& owner) : owner_(owner) {}
    void fill(int slot) const override { owner_.fill_one(slot); }

   private:
    RowEvaluator& owner_;
  };

  void refresh_params();
  void fill_one(int slot);
  TimestampTz exact_flip(std::int64_t value, const ParamSpec& spec);
  void fill_slot(std::size_t index, Datum value);

  const Program& program_;
  std::vector<SlotPlan> plans_;
  std::vector<Cell> cells_;
  std::vector<std::uint8_t> filled_;
  Filler filler_{*this};
  const Datum* row_values_ = nullptr;
  const bool* row_nulls_ = nullptr;
  int row_natts_ = 0;
  std::vector<Datum> values_;
  std::unique_ptr<bool[]> nulls_;
  std::vector<std::int64_t> params_;
  TimestampTz params_now_ = 0;
  const void* params_zone_ = nullptr;
  bool params_valid_ = false;
};

}  // namespace pgseg::pg
