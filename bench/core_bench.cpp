// Micro-benchmarks of the core: evaluating a typical 5-condition filter on one row, and the
// parse / print / compile steps. Run: cmake --build build --target core_bench && build/core_bench
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "../test/unit/mock_schema.hpp"
#include "core/binder.hpp"
#include "core/eval.hpp"
#include "core/json_form.hpp"
#include "core/parser.hpp"
#include "core/printer.hpp"
#include "core/sql_compiler.hpp"

namespace {

using namespace pgseg;
using testing::MockHost;
using testing::MockSchema;

constexpr std::int64_t kDay = 86400000000LL;
constexpr std::int64_t kNow = 9000 * kDay;

const char* kTypical =
    "tier = 'gold' AND country IN ('OM', 'AE', 'SA') AND score > 500 AND tags CONTAINS 'vip' "
    "AND created_at WITHIN LAST 30 DAYS";

// Cells as the PostgreSQL host fills them for one customer row.
struct PreparedRow {
  std::vector<Cell> cells;
  std::vector<Cell> tag_cells;
  std::vector<std::int64_t> params;
  std::string tier = "gold";
  std::string country = "OM";
  std::vector<std::string> tags = {"lead", "newsletter", "vip"};

  PreparedRow(const Program& program, const MockSchema& schema) {
    cells.resize(program.slots().size());
    for (const std::string& t : tags) {
      tag_cells.push_back(Cell::of_bytes(t.data(), static_cast<std::uint32_t>(t.size())));
    }
    for (std::size_t i = 0; i < program.slots().size(); ++i) {
      const SlotSpec& slot = program.slots()[i];
      std::string name;
      for (const std::string& n : schema.column_names()) {
        if (schema.find_column(n)->index == slot.column_index) name = n;
      }
      if (name == "tier") cells[i] = Cell::of_bytes(tier.data(), 4);
      if (name == "country") cells[i] = Cell::of_bytes(country.data(), 2);
      if (name == "score") cells[i] = Cell::of_float(750.0);
      if (name == "tags") cells[i] = Cell::of_list(tag_cells.data(), 3);
      if (name == "created_at") cells[i] = Cell::of_int(kNow - 3 * kDay);
    }
    for (const ParamSpec& p : program.params()) {
      params.push_back(kNow + p.sign * p.amount * kDay);
    }
  }
};

void BM_EvaluateTypicalFilter(benchmark::State& state) {
  MockSchema schema;
  MockHost host;
  NodePtr ast = parse_filter(kTypical);
  BoundFilter bound = bind_filter(*ast, schema);
  std::unique_ptr<Program> program = compile_program(*ast, bound, schema, host);
  PreparedRow row(*program, schema);
  RowView view{row.cells.data(), row.params.data()};
  if (program->eval(view) != Tri::kTrue) state.SkipWithError("typical row should match");
  for (auto _ : state) {
    benchmark::DoNotOptimize(program->eval(view));
  }
  state.SetLabel("5 conditions, row matches (all evaluated)");
}
BENCHMARK(BM_EvaluateTypicalFilter);

void BM_EvaluateTypicalFilterEarlyExit(benchmark::State& state) {
  MockSchema schema;
  MockHost host;
  NodePtr ast = parse_filter(kTypical);
  BoundFilter bound = bind_filter(*ast, schema);
  std::unique_ptr<Program> program = compile_program(*ast, bound, schema, host);
  PreparedRow row(*program, schema);
  row.tier = "silver";
  for (std::size_t i = 0; i < program->slots().size(); ++i) {
    if (row.cells[i].kind == CellKind::kBytes && row.cells[i].length == 4) {
      row.cells[i] = Cell::of_bytes(row.tier.data(), 6);
    }
  }
  RowView view{row.cells.data(), row.params.data()};
  for (auto _ : state) {
    benchmark::DoNotOptimize(program->eval(view));
  }
  state.SetLabel("5 conditions, first fails");
}
BENCHMARK(BM_EvaluateTypicalFilterEarlyExit);

void BM_ParseTypicalFilter(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(parse_filter(kTypical));
}
BENCHMARK(BM_ParseTypicalFilter);

void BM_PrintTypicalFilter(benchmark::State& state) {
  NodePtr ast = parse_filter(kTypical);
  for (auto _ : state) benchmark::DoNotOptimize(print_filter(*ast));
}
BENCHMARK(BM_PrintTypicalFilter);

void BM_CompileTypicalFilterToSql(benchmark::State& state) {
  MockSchema schema;
  NodePtr ast = parse_filter(kTypical);
  BoundFilter bound = bind_filter(*ast, schema);
  testing::QuoteAlways dialect;
  for (auto _ : state) benchmark::DoNotOptimize(compile_sql(*ast, bound, dialect));
}
BENCHMARK(BM_CompileTypicalFilterToSql);

void BM_JsonFormRoundTrip(benchmark::State& state) {
  NodePtr ast = parse_filter(kTypical);
  for (auto _ : state) benchmark::DoNotOptimize(filter_from_json_text(filter_to_json_text(*ast)));
}
BENCHMARK(BM_JsonFormRoundTrip);

}  // namespace

BENCHMARK_MAIN();
