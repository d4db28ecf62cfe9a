// Filling the program's cells from a tuple: one deform, then per-slot conversions.
#include "pg/row_evaluator.hpp"

#include <algorithm>
#include <utility>

#include "pg/boundary.hpp"
#include "pg/jsonb_access.hpp"

namespace pgseg::pg {

namespace {

std::int64_t int_of(Oid type, Datum value) {
  switch (type) {
    case INT2OID:
      return DatumGetInt16(value);
    case INT4OID:
      return DatumGetInt32(value);
    case INT8OID:
      return DatumGetInt64(value);
    case BOOLOID:
      return DatumGetBool(value) ? 1 : 0;
    case DATEOID:
      return DatumGetDateADT(value);
    case TIMESTAMPOID:
    case TIMESTAMPTZOID:
      return DatumGetInt64(value);
    default:
      return static_cast<std::int64_t>(DatumGetObjectId(value));  // enum label
  }
}

// A date or timestamp as timestamptz, clamped the way PostgreSQL's cross-type comparisons
// treat values beyond the timestamptz range (above or below every finite time).
std::int64_t time_of(Oid type, Datum value) {
  int overflow = 0;
  TimestampTz result;
  switch (type) {
    case DATEOID:
      result = date2timestamptz_opt_overflow(DatumGetDateADT(value), &overflow);
      break;
    case TIMESTAMPOID:
      result = timestamp2timestamptz_opt_overflow(DatumGetTimestamp(value), &overflow);
      break;
    default:
      result = DatumGetTimestampTz(value);
      break;
  }
  if (overflow > 0) return DT_NOEND - 1;
  if (overflow < 0) return DT_NOBEGIN + 1;
  return result;
}

Cell bytes_of(Datum value) {
  auto* text = reinterpret_cast<struct varlena*>(DatumGetPointer(value));
  if (VARATT_IS_EXTENDED(text)) text = pg_detoast_datum_packed(text);
  return Cell::of_bytes(VARDATA_ANY(text), static_cast<std::uint32_t>(VARSIZE_ANY_EXHDR(text)));
}

Interval interval_of(const ParamSpec& spec) {
  Interval span{};
  switch (spec.unit) {
    case TimeUnit::kMinute:
      span.time = spec.amount * USECS_PER_MINUTE;
      break;
    case TimeUnit::kHour:
      span.time = spec.amount * USECS_PER_HOUR;
      break;
    case TimeUnit::kDay:
      span.day = static_cast<int32>(spec.amount);
      break;
    case TimeUnit::kWeek:
      span.day = static_cast<int32>(spec.amount * 7);
      break;
    case TimeUnit::kMonth:
      span.month = static_cast<int32>(spec.amount);
      break;
  }
  return span;
}

// t +/- the spec's interval, with the session time zone's calendar (as now() - interval).
TimestampTz shift(TimestampTz t, const ParamSpec& spec, int sign) {
  Interval span = interval_of(spec);
  return pg_guard([&] {
    return DatumGetTimestampTz(
        DirectFunctionCall2(sign < 0 ? timestamptz_mi_interval : timestamptz_pl_interval,
                            TimestampTzGetDatum(t), IntervalPGetDatum(&span)));
  });
}

// now() +/- each distinct interval, computed once per transaction start and time zone for every
// evaluator of the backend (a thousand segments use a handful of distinct intervals).
struct SharedParams {
  TimestampTz now = 0;
  const void* zone = nullptr;
  bool valid = false;
  std::vector<std::pair<ParamSpec, TimestampTz>> values;
};

SharedParams& shared_params() {
  static SharedParams* params = new SharedParams();  // never destroyed (STYLE.md)
  return *params;
}

TimestampTz shifted_now(TimestampTz now, const void* zone, const ParamSpec& spec) {
  SharedParams& shared = shared_params();
  if (!shared.valid || shared.now != now || shared.zone != zone) {
    shared.values.clear();
    shared.now = now;
    shared.zone = zone;
    shared.valid = true;
  }
  for (const auto& [known, value] : shared.values) {
    if (known == spec) return value;
  }
  const TimestampTz value = shift(now, spec, spec.sign);
  // Bounded: a backend with more distinct intervals than this recomputes the rest.
  if (shared.values.size() < 64) shared.values.emplace_back(spec, value);
  return value;
}

}  // namespace

RowEvaluator::RowEvaluator(const Program& program, const RelationSchema& schema)
    : program_(program) {
  for (const SlotSpec& spec : program.slots()) {
    SlotPlan plan;
    plan.attnum = static_cast<AttrNumber>(spec.column_index);
    plan.kind = spec.kind;
    const Column* column = nullptr;
    for (const std::string& name : schema.column_names()) {
      const Column* candidate = schema.find_column(name);
      if (candidate->index == spec.column_index) column = candidate;
    }
    if (column == nullptr) throw Error(sqlstate::kInternalError, "slot column not found");
    const PgColumn& pg = schema.pg_column(*column);
    plan.base_type = pg.base_type;
    plan.element_type = pg.element_type;
    if (OidIsValid(pg.element_type)) {
      pg_guard([&] {
        get_typlenbyvalalign(plan.element_type, &plan.element_length, &plan.element_by_value,
                             &plan.element_align);
      });
    }
    plan.keys = spec.json_path;
    for (const std::string& key : plan.keys) {
      plan.key_pointers.push_back(key.data());
      plan.key_lengths.push_back(static_cast<int>(key.size()));
    }
    plans_.push_back(std::move(plan));
  }
  // Keys were copied into plans_ before their addresses were taken; refresh the pointers
  // now that the vector no longer moves.
  for (SlotPlan& plan : plans_) {
    for (std::size_t i = 0; i < plan.keys.size(); ++i) plan.key_pointers[i] = plan.keys[i].data();
  }
  cells_.resize(plans_.size());
  filled_.resize(plans_.size(), 0);
  params_.resize(program.params().size());
  values_.resize(static_cast<std::size_t>(schema.natts()) + 1);
  nulls_ = std::make_unique<bool[]>(values_.size());
}

void RowEvaluator::refresh_params() {
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  const void* zone = session_timezone;
  if (params_valid_ && now == params_now_ && zone == params_zone_) return;
  const std::vector<ParamSpec>& specs = program_.params();
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const ParamSpec& spec = specs[i];
    if (spec.sign == 0) {
      params_[i] = now;
      continue;
    }
    // now() +/- interval, with the session time zone's calendar, as the SQL computes it.
    params_[i] = shifted_now(now, zone, spec);
  }
  params_now_ = now;
  params_zone_ = zone;
  params_valid_ = true;
}

void RowEvaluator::fill_slot(std::size_t index, Datum value) {
  const SlotPlan& plan = plans_[index];
  Cell& cell = cells_[index];
  switch (plan.kind) {
    case SlotKind::kRaw:
      cell = Cell::of_handle(reinterpret_cast<const void*>(value));
      return;
    case SlotKind::kInt:
      cell = Cell::of_int(int_of(plan.base_type, value));
      return;
    case SlotKind::kFloat:
      cell = Cell::of_float(plan.base_type == FLOAT4OID ? DatumGetFloat4(value)
                                                        : DatumGetFloat8(value));
      return;
    case SlotKind::kBytes:
      cell = bytes_of(value);
      return;
    case SlotKind::kTime:
      cell = Cell::of_int(time_of(plan.base_type, value));
      return;
    case SlotKind::kIntList:
    case SlotKind::kBytesList: {
      ArrayType* array = DatumGetArrayTypeP(value);
      Datum* elements;
      bool* element_nulls;
      int count;
      deconstruct_array(array, plan.element_type, plan.element_length, plan.element_by_value,
                        plan.element_align, &elements, &element_nulls, &count);
      auto* list = static_cast<Cell*>(palloc(sizeof(Cell) * (count > 0 ? count : 1)));
      std::uint32_t used = 0;
      for (int i = 0; i < count; ++i) {
        if (element_nulls[i]) continue;  // NULL elements equal nothing, as in @> and &&
        if (plan.kind == SlotKind::kIntList) {
          list[used].kind = CellKind::kInt;
          list[used].length = 0;
          list[used].i = int_of(plan.element_type, elements[i]);
        } else {
          list[used] = bytes_of(elements[i]);
        }
        ++used;
      }
      cell = Cell::of_list(list, used);
      return;
    }
    case SlotKind::kJsonString:
    case SlotKind::kJsonBool:
    case SlotKind::kJsonTime:
    case SlotKind::kJsonHandle: {
      Jsonb* document = DatumGetJsonbP(value);
      JsonbValue found;
      if (!jsonb_find(&document->root, plan.key_pointers.data(), plan.key_lengths.data(),
                      static_cast<int>(plan.keys.size()), &found)) {
        return;  // missing, not reachable or JSON null: NULL
      }
      if (plan.kind == SlotKind::kJsonString) {
        if (found.type == jbvString) {
          cell = Cell::of_bytes(found.val.string.val,
                                static_cast<std::uint32_t>(found.val.string.len));
        }
      } else if (plan.kind == SlotKind::kJsonBool) {
        if (found.type == jbvBool) cell = Cell::of_int(found.val.boolean ? 1 : 0);
      } else if (plan.kind == SlotKind::kJsonTime) {
        TimestampTz time;
        if (found.type == jbvString &&
            parse_timestamptz_quietly(found.val.string.val, found.val.string.len, &time)) {
          cell = Cell::of_int(time);
        }
      } else {
        auto* copy = static_cast<JsonbValue*>(palloc(sizeof(JsonbValue)));
        *copy = found;
        cell = Cell::of_handle(copy);
      }
      return;
    }
  }
}

void RowEvaluator::fill_one(int slot) {
  const std::size_t i = static_cast<std::size_t>(slot);
  filled_[i] = 1;
  cells_[i] = Cell();
  const AttrNumber attnum = plans_[i].attnum;
  if (attnum < 1 || attnum > row_natts_ || row_nulls_[attnum - 1]) return;
  const Datum value = row_values_[attnum - 1];
  switch (plans_[i].kind) {
    case SlotKind::kRaw:
    case SlotKind::kInt:
    case SlotKind::kFloat:
    case SlotKind::kTime:
      fill_slot(i, value);  // plain conversions of by-value data: nothing can raise
      return;
    default:
      // Detoasting, arrays and jsonb can raise (e.g. out of memory).
      pg_guard([&] { fill_slot(i, value); });
      return;
  }
}

Tri RowEvaluator::eval(HeapTuple tuple, TupleDesc desc) {
  if (static_cast<std::size_t>(desc->natts) > values_.size()) {
    values_.resize(static_cast<std::size_t>(desc->natts));
    nulls_ = std::make_unique<bool[]>(values_.size());
  }
  pg_guard([&] { heap_deform_tuple(tuple, desc, values_.data(), nulls_.get()); });
  return eval_values(values_.data(), nulls_.get(), desc->natts);
}

void RowEvaluator::set_row(const Datum* values, const bool* nulls, int natts) {
  refresh_params();
  row_values_ = values;
  row_nulls_ = nulls;
  row_natts_ = natts;
  std::fill(filled_.begin(), filled_.end(), 0);
}

Tri RowEvaluator::eval_values(const Datum* values, const bool* nulls, int natts) {
  set_row(values, nulls, natts);
  return program_.eval(RowView{cells_.data(), params_.data(), &filler_, filled_.data()});
}

TimestampTz RowEvaluator::exact_flip(std::int64_t value, const ParamSpec& spec) {
  // The bound's answer changes once: find the first microsecond after now where it has, by
  // bisection with the calendar's own arithmetic.
  auto changed = [&](TimestampTz t) {
    TimestampTz bound = shift(t, spec, spec.sign);
    return spec.sign < 0 ? bound > value : bound >= value;
  };
  TimestampTz low = params_now_;  // not changed yet
  TimestampTz high = spec.sign < 0 ? value + longest_interval(spec) + 1 : value;
  if (high <= low || !changed(high)) return high;
  while (high - low > 1) {
    check_for_interrupts();
    TimestampTz middle = low + (high - low) / 2;
    if (changed(middle)) {
      high = middle;
    } else {
      low = middle;
    }
  }
  return high;
}

std::optional<TimestampTz> RowEvaluator::next_due() {
  std::optional<TimestampTz> due;
  const std::vector<ParamSpec>& specs = program_.params();
  for (const TimeBound& bound : program_.time_bounds()) {
    // A bound the evaluation never reached cannot change the answer by itself: the answer was
    // decided by other conditions, which only a write can change.
    if (filled_[static_cast<std::size_t>(bound.slot)] == 0) continue;
    const Cell& cell = cells_[static_cast<std::size_t>(bound.slot)];
    if (cell.kind != CellKind::kInt) continue;
    const ParamSpec& spec = specs[static_cast<std::size_t>(bound.param)];
    Flip flip = next_flip(cell.i, spec, params_[static_cast<std::size_t>(bound.param)], params_now_,
                          bound.at_least);
    TimestampTz at;
    if (flip.kind == Flip::Kind::kAt) {
      at = flip.at;
    } else if (flip.kind == Flip::Kind::kExactNeeded) {
      at = exact_flip(cell.i, spec);
    } else {
      continue;
    }
    if (!due || at < *due) due = at;
  }
  return due;
}

}  // namespace pgseg::pg
