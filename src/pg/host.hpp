// The evaluator's PostgreSQL host: literal conversion and predicates that call PostgreSQL's
// own comparison, LIKE and containment functions (numeric, collation-aware ordering, ...).
#pragma once

#include "pg/postgres.hpp"

#include <memory>
#include <string>
#include <vector>

#include "core/eval.hpp"
#include "pg/relation_schema.hpp"

namespace pgseg::pg {

// Frees the saved plans of conditions evaluated by SQL whose compiled filters were destroyed;
// called at the end of each transaction.
void free_released_plans();

class PgHost final : public ProgramHost {
 public:
  // Constants and function lookups are allocated in memory, which must outlive the program.
  PgHost(const RelationSchema& schema, MemoryContext memory) : schema_(schema), memory_(memory) {}

  std::int64_t literal_to_int(const Binding& binding, const Literal& literal,
                              bool element) override;
  std::unique_ptr<Predicate> compare(const Binding& binding, CompareOp op, const Literal& literal,
                                     ProgramBuilder& builder) override;
  std::unique_ptr<Predicate> in_list(const Binding& binding, bool negated,
                                     const std::vector<Literal>& literals,
                                     ProgramBuilder& builder) override;
  std::unique_ptr<Predicate> like(const Binding& binding, bool negated, bool case_insensitive,
                                  const std::string& pattern, ProgramBuilder& builder) override;
  std::unique_ptr<Predicate> contains(const Binding& binding, bool negated, ContainsMode mode,
                                      const std::vector<Literal>& literals,
                                      ProgramBuilder& builder) override;
  // Conditions over related tables and IN SEGMENT: the condition's own compiled SQL, run with
  // the row's columns as parameters.
  std::unique_ptr<Predicate> related(const Node& node, const BoundFilter& bound,
                                     ProgramBuilder& builder) override;

 private:
  // A literal read by type's input function, copied into memory_.
  Datum input(Oid type, const std::string& text);
  Oid comparison_type(const Binding& binding) const;
  Oid collation(const Binding& binding) const;

  const RelationSchema& schema_;
  MemoryContext memory_;
};

}  // namespace pgseg::pg
