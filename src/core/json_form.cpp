// Conversion between filters and their JSON form, strict in both directions.
#include "core/json_form.hpp"

#include <algorithm>
#include <cctype>

#include "core/error.hpp"
#include "core/limits.hpp"
#include "core/number.hpp"
#include "core/parser.hpp"
#include "core/printer.hpp"

namespace pgseg {

namespace {

// ---------------------------------------------------------------- filter -> JSON

Json condition_to_json(const Node& node);

Json literal_to_json(const Literal& literal) {
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

Json literals_to_json(const std::vector<Literal>& literals) {
  Json array = Json::array();
  for (const Literal& literal : literals) array.push(literal_to_json(literal));
  return array;
}

Json group_to_json(const Node& node) {
  Json group = Json::object();
  Json& conditions = group.set("conditions", Json::array());
  if (node.kind == NodeKind::kAnd) {
    for (const auto& child : node.children) conditions.push(condition_to_json(*child));
  } else {
    conditions.push(condition_to_json(node));
  }
  return group;
}

Json groups_to_json(const Node& node) {
  Json root = Json::object();
  Json& groups = root.set("groups", Json::array());
  if (node.kind == NodeKind::kOr) {
    for (const auto& child : node.children) groups.push(group_to_json(*child));
  } else {
    groups.push(group_to_json(node));
  }
  return root;
}

std::string op_name(const Node& node) {
  std::string prefix = node.negated ? "not " : "";
  switch (node.kind) {
    case NodeKind::kCompare:
      return compare_op_text(node.op);
    case NodeKind::kIn:
      return prefix + "in";
    case NodeKind::kBetween:
      return prefix + "between";
    case NodeKind::kIsNull:
      return node.negated ? "is not null" : "is null";
    case NodeKind::kLike:
      return prefix + (node.case_insensitive ? "ilike" : "like");
    case NodeKind::kContains:
      return prefix + (node.mode == ContainsMode::kOne   ? "contains"
                       : node.mode == ContainsMode::kAny ? "contains any"
                                                         : "contains all");
    case NodeKind::kRelTime:
      return node.rel_kind == RelTimeKind::kWithinLast   ? "within last"
             : node.rel_kind == RelTimeKind::kWithinNext ? "within next"
                                                         : "older than";
    case NodeKind::kInSegment:
      return prefix + "in segment";
    default:
      return {};
  }
}

Json condition_to_json(const Node& node) {
  switch (node.kind) {
    case NodeKind::kAnd:
    case NodeKind::kOr:
      return groups_to_json(node);
    case NodeKind::kNot: {
      Json object = Json::object();
      object.set("not", condition_to_json(*node.children.front()));
      return object;
    }
    case NodeKind::kConst: {
      Json object = Json::object();
      object.set("constant", Json::boolean(node.value));
      return object;
    }
    case NodeKind::kInSegment: {
      Json object = Json::object();
      object.set("op", Json::string(op_name(node)));
      object.set("segment", Json::string(node.segment));
      return object;
    }
    default:
      break;
  }
  Json object = Json::object();
  if (node.operand.aggregate) {
    const Aggregate& aggregate = *node.operand.aggregate;
    Json& spec = object.set("aggregate", Json::object());
    spec.set("relation", Json::string(print_path(node.operand.path)));
    spec.set("function", Json::string(aggregate_func_name(aggregate.func)));
    if (!aggregate.column.empty()) spec.set("column", Json::string(print_path(aggregate.column)));
    if (aggregate.condition) spec.set("where", condition_to_json(*aggregate.condition));
  } else {
    object.set("field", Json::string(print_path(node.operand.path)));
  }
  if (node.kind == NodeKind::kTruth) return object;
  object.set("op", Json::string(op_name(node)));
  switch (node.kind) {
    case NodeKind::kCompare:
    case NodeKind::kLike:
      object.set("value", literal_to_json(node.literals.front()));
      break;
    case NodeKind::kContains:
      if (node.mode == ContainsMode::kOne) {
        object.set("value", literal_to_json(node.literals.front()));
      } else {
        object.set("values", literals_to_json(node.literals));
      }
      break;
    case NodeKind::kIn:
    case NodeKind::kBetween:
      object.set("values", literals_to_json(node.literals));
      break;
    case NodeKind::kRelTime: {
      object.set("amount", Json::number(std::to_string(node.amount)));
      std::string unit = time_unit_name(node.unit, true);
      std::transform(unit.begin(), unit.end(), unit.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      object.set("unit", Json::string(unit));
      break;
    }
    default:
      break;
  }
  return object;
}

// ---------------------------------------------------------------- JSON -> filter

class JsonReader {
 public:
  NodePtr read_root(const Json& document) { return read_condition(document, "$", 0); }

 private:
  [[noreturn]] static void fail(const std::string& path, const std::string& message,
                                std::string hint = {}) {
    throw Error(sqlstate::kInvalidParameterValue, "invalid segment filter JSON: " + message,
                "at " + path, std::move(hint));
  }

  static void check_keys(const Json& object, const std::string& path,
                         std::initializer_list<const char*> allowed) {
    for (const auto& member : object.members()) {
      bool known = false;
      for (const char* key : allowed) known = known || member.first == key;
      if (!known) {
        std::string list;
        for (const char* key : allowed) {
          if (!list.empty()) list += ", ";
          list += quoted(key);
        }
        fail(path, "unknown key " + quoted(member.first), "Allowed keys here: " + list + ".");
      }
    }
  }

  static const Json& require(const Json& object, const std::string& path, const char* key,
                             Json::Kind kind) {
    const Json* value = object.find(key);
    if (value == nullptr) fail(path, std::string("missing key ") + quoted(key));
    if (!value->is(kind)) {
      fail(path + "." + key, std::string("expected ") + json_kind_name(kind) + ", found " +
                                 json_kind_name(value->kind()));
    }
    return *value;
  }

  NodePtr read_condition(const Json& json, const std::string& path, std::size_t depth) {
    (void)depth;  // bounded by the JSON parser's depth limit
    if (!json.is(Json::Kind::kObject)) {
      fail(path, std::string("expected a condition object, found ") + json_kind_name(json.kind()),
           "A condition is an object such as {\"field\": \"tier\", \"op\": \"=\", \"value\": "
           "\"gold\"}.");
    }
    if (json.find("groups") != nullptr) return read_groups(json, path, depth);
    if (json.find("not") != nullptr) {
      check_keys(json, path, {"not"});
      NodePtr inner = read_condition(*json.find("not"), path + ".not", depth + 1);
      NodePtr node = make_not(std::move(inner));
      return node;
    }
    if (json.find("constant") != nullptr) {
      check_keys(json, path, {"constant"});
      return make_const(require(json, path, "constant", Json::Kind::kBool).as_bool());
    }
    if (json.find("segment") != nullptr) return read_segment(json, path);
    if (json.find("field") != nullptr || json.find("aggregate") != nullptr) {
      return read_predicate(json, path, depth);
    }
    fail(path,
         "a condition needs \"field\", \"aggregate\", \"segment\", \"groups\", \"not\" or "
         "\"constant\"");
  }

  NodePtr read_groups(const Json& json, const std::string& path, std::size_t depth) {
    check_keys(json, path, {"groups"});
    const Json& groups = require(json, path, "groups", Json::Kind::kArray);
    if (groups.items().empty()) {
      fail(path + ".groups", "at least one group is required",
           "Use {\"constant\": false} for a filter that matches nothing.");
    }
    std::vector<NodePtr> alternatives;
    for (std::size_t g = 0; g < groups.items().size(); ++g) {
      std::string group_path = path + ".groups[" + std::to_string(g) + "]";
      const Json& group = groups.items()[g];
      if (!group.is(Json::Kind::kObject)) {
        fail(group_path,
             std::string("expected a group object, found ") + json_kind_name(group.kind()));
      }
      check_keys(group, group_path, {"conditions"});
      const Json& conditions = require(group, group_path, "conditions", Json::Kind::kArray);
      if (conditions.items().empty()) {
        fail(group_path + ".conditions", "at least one condition is required",
             "Use {\"constant\": true} for a filter that matches every row.");
      }
      std::vector<NodePtr> conjuncts;
      for (std::size_t c = 0; c < conditions.items().size(); ++c) {
        conjuncts.push_back(read_condition(conditions.items()[c],
                                           group_path + ".conditions[" + std::to_string(c) + "]",
                                           depth + 1));
      }
      alternatives.push_back(make_group(NodeKind::kAnd, std::move(conjuncts)));
    }
    return make_group(NodeKind::kOr, std::move(alternatives));
  }

  static std::string normalized_op(const std::string& raw) {
    std::string op;
    bool space = false;
    for (char c : raw) {
      if (c == '_' || c == ' ') {
        space = !op.empty();
        continue;
      }
      if (space) op += ' ';
      space = false;
      op += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return op;
  }

  NodePtr read_segment(const Json& json, const std::string& path) {
    check_keys(json, path, {"op", "segment"});
    const Json& segment = require(json, path, "segment", Json::Kind::kString);
    std::string op = normalized_op(require(json, path, "op", Json::Kind::kString).text());
    if (op != "in segment" && op != "not in segment") {
      fail(path + ".op", "a \"segment\" condition takes op \"in segment\" or \"not in segment\"");
    }
    if (segment.text().empty()) fail(path + ".segment", "the segment name is empty");
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::kInSegment;
    node->negated = op == "not in segment";
    node->segment = segment.text();
    return node;
  }

  static std::vector<std::string> read_path(const Json& json, const std::string& path) {
    if (json.is(Json::Kind::kString)) {
      if (json.text().empty()) fail(path, "the name is empty");
      try {
        return parse_path(json.text());
      } catch (const Error& e) {
        throw Error(e.sqlstate(), e.what(), "at " + path + ", " + e.detail(), e.hint());
      }
    }
    if (json.is(Json::Kind::kArray) && !json.items().empty()) {
      std::vector<std::string> parts;
      for (const Json& part : json.items()) {
        if (!part.is(Json::Kind::kString) || part.text().empty()) {
          fail(path, "a path array must hold non-empty strings");
        }
        parts.push_back(part.text());
      }
      return parts;
    }
    fail(path, "expected a name such as \"attrs.plan\" or an array of names");
  }

  static Literal read_literal(const Json& json, const std::string& path) {
    switch (json.kind()) {
      case Json::Kind::kString:
        return Literal::string(json.text());
      case Json::Kind::kNumber: {
        std::optional<std::string> canonical = canonical_number(json.text());
        if (!canonical) fail(path, "invalid number");
        return Literal::number(std::move(*canonical));
      }
      case Json::Kind::kBool:
        return Literal::boolean_value(json.as_bool());
      case Json::Kind::kNull:
        fail(path, "null is not a value", "Use op \"is null\" or \"is not null\".");
      default:
        fail(path, std::string("expected a string, number or boolean, found ") +
                       json_kind_name(json.kind()));
    }
  }

  static std::vector<Literal> read_values(const Json& object, const std::string& path,
                                          std::size_t exact_count) {
    const Json& values = require(object, path, "values", Json::Kind::kArray);
    if (values.items().empty()) fail(path + ".values", "at least one value is required");
    if (exact_count != 0 && values.items().size() != exact_count) {
      fail(path + ".values", "expected exactly " + std::to_string(exact_count) + " values");
    }
    std::vector<Literal> literals;
    for (std::size_t i = 0; i < values.items().size(); ++i) {
      literals.push_back(
          read_literal(values.items()[i], path + ".values[" + std::to_string(i) + "]"));
    }
    return literals;
  }

  void read_operand(const Json& json, const std::string& path, std::size_t depth, Node& node) {
    if (const Json* field = json.find("field")) {
      if (json.find("aggregate") != nullptr) {
        fail(path, "a condition has either \"field\" or \"aggregate\", not both");
      }
      node.operand.path = read_path(*field, path + ".field");
      return;
    }
    std::string spec_path = path + ".aggregate";
    const Json& spec = require(json, path, "aggregate", Json::Kind::kObject);
    check_keys(spec, spec_path, {"relation", "function", "column", "where"});
    const Json* relation = spec.find("relation");
    if (relation == nullptr) fail(spec_path, "missing key \"relation\"");
    node.operand.path = read_path(*relation, spec_path + ".relation");
    auto aggregate = std::make_unique<Aggregate>();
    std::string func =
        normalized_op(require(spec, spec_path, "function", Json::Kind::kString).text());
    static const struct {
      const char* name;
      AggregateFunc func;
    } kFuncs[] = {{"count", AggregateFunc::kCount}, {"sum", AggregateFunc::kSum},
                  {"min", AggregateFunc::kMin},     {"max", AggregateFunc::kMax},
                  {"avg", AggregateFunc::kAvg},     {"exists", AggregateFunc::kExists}};
    bool known = false;
    for (const auto& f : kFuncs) {
      if (func == f.name) {
        aggregate->func = f.func;
        known = true;
      }
    }
    if (!known) {
      fail(spec_path + ".function", "unknown aggregate " + quoted(func),
           "Aggregates are count, sum, min, max, avg and exists.");
    }
    bool takes_column =
        aggregate->func != AggregateFunc::kCount && aggregate->func != AggregateFunc::kExists;
    const Json* column = spec.find("column");
    if (takes_column && column == nullptr) {
      fail(spec_path, std::string(aggregate_func_name(aggregate->func)) + " needs a \"column\"");
    }
    if (!takes_column && column != nullptr) {
      fail(spec_path + ".column",
           std::string(aggregate_func_name(aggregate->func)) + " takes no column");
    }
    if (column != nullptr) aggregate->column = read_path(*column, spec_path + ".column");
    if (const Json* where = spec.find("where")) {
      aggregate->condition = read_condition(*where, spec_path + ".where", depth + 1);
    }
    node.operand.aggregate = std::move(aggregate);
  }

  NodePtr read_predicate(const Json& json, const std::string& path, std::size_t depth) {
    auto node = std::make_unique<Node>();
    read_operand(json, path, depth, *node);
    const Json* op_json = json.find("op");
    if (op_json == nullptr) {
      check_keys(json, path, {"field", "aggregate"});
      node->kind = NodeKind::kTruth;
      return node;
    }
    if (!op_json->is(Json::Kind::kString)) fail(path + ".op", "expected a string");
    std::string op = normalized_op(op_json->text());
    std::string op_path = path + ".op";
    static const struct {
      const char* name;
      CompareOp op;
    } kCompare[] = {{"=", CompareOp::kEq}, {"<>", CompareOp::kNe}, {"!=", CompareOp::kNe},
                    {"<", CompareOp::kLt}, {"<=", CompareOp::kLe}, {">", CompareOp::kGt},
                    {">=", CompareOp::kGe}};
    for (const auto& c : kCompare) {
      if (op == c.name) {
        check_keys(json, path, {"field", "aggregate", "op", "value"});
        node->kind = NodeKind::kCompare;
        node->op = c.op;
        node->literals.push_back(read_literal(require_value(json, path), path + ".value"));
        return node;
      }
    }
    bool negated = op.rfind("not ", 0) == 0;
    std::string base = negated ? op.substr(4) : op;
    node->negated = negated;
    if (base == "in" || base == "between") {
      check_keys(json, path, {"field", "aggregate", "op", "values"});
      node->kind = base == "in" ? NodeKind::kIn : NodeKind::kBetween;
      node->literals = read_values(json, path, base == "in" ? 0 : 2);
    } else if (op == "is null" || op == "is not null") {
      check_keys(json, path, {"field", "aggregate", "op"});
      node->kind = NodeKind::kIsNull;
      node->negated = op == "is not null";
    } else if (base == "like" || base == "ilike") {
      check_keys(json, path, {"field", "aggregate", "op", "value"});
      node->kind = NodeKind::kLike;
      node->case_insensitive = base == "ilike";
      const Json& pattern = require_value(json, path);
      if (!pattern.is(Json::Kind::kString)) fail(path + ".value", "a LIKE pattern is a string");
      if (like_pattern_ends_with_escape(pattern.text())) {
        fail(path + ".value", "LIKE pattern must not end with the escape character",
             "Write \\\\ to match a backslash.");
      }
      node->literals.push_back(Literal::string(pattern.text()));
    } else if (base == "contains") {
      check_keys(json, path, {"field", "aggregate", "op", "value"});
      node->kind = NodeKind::kContains;
      node->mode = ContainsMode::kOne;
      node->literals.push_back(read_literal(require_value(json, path), path + ".value"));
    } else if (base == "contains any" || base == "contains all") {
      check_keys(json, path, {"field", "aggregate", "op", "values"});
      node->kind = NodeKind::kContains;
      node->mode = base == "contains any" ? ContainsMode::kAny : ContainsMode::kAll;
      node->literals = read_values(json, path, 0);
    } else if (!negated && (op == "within last" || op == "within next" || op == "older than")) {
      check_keys(json, path, {"field", "aggregate", "op", "amount", "unit"});
      node->kind = NodeKind::kRelTime;
      node->rel_kind = op == "within last"   ? RelTimeKind::kWithinLast
                       : op == "within next" ? RelTimeKind::kWithinNext
                                             : RelTimeKind::kOlderThan;
      read_amount(json, path, *node);
    } else {
      fail(op_path, "unknown op " + quoted(op_json->text()),
           "Ops are =, <>, <, <=, >, >=, in, between, is null, like, ilike, contains, "
           "contains any, contains all (each but = and the comparisons also with \"not \"), "
           "within last, within next, older than.");
    }
    return node;
  }

  static const Json& require_value(const Json& json, const std::string& path) {
    const Json* value = json.find("value");
    if (value == nullptr) {
      if (json.find("values") != nullptr) {
        fail(path, "this op takes one \"value\", not \"values\"");
      }
      fail(path, "missing key \"value\"");
    }
    return *value;
  }

  static void read_amount(const Json& json, const std::string& path, Node& node) {
    const Json& amount = require(json, path, "amount", Json::Kind::kNumber);
    std::optional<std::string> canonical = canonical_number(amount.text());
    std::optional<std::int64_t> value = canonical ? parse_int64(*canonical) : std::nullopt;
    if (!value || *value < 1 || *value > limits::kMaxRelativeAmount) {
      fail(path + ".amount",
           "expected a whole number from 1 to " + std::to_string(limits::kMaxRelativeAmount));
    }
    node.amount = *value;
    std::string unit = normalized_op(require(json, path, "unit", Json::Kind::kString).text());
    static const struct {
      const char* name;
      TimeUnit unit;
    } kUnits[] = {{"minute", TimeUnit::kMinute}, {"minutes", TimeUnit::kMinute},
                  {"hour", TimeUnit::kHour},     {"hours", TimeUnit::kHour},
                  {"day", TimeUnit::kDay},       {"days", TimeUnit::kDay},
                  {"week", TimeUnit::kWeek},     {"weeks", TimeUnit::kWeek},
                  {"month", TimeUnit::kMonth},   {"months", TimeUnit::kMonth}};
    for (const auto& u : kUnits) {
      if (unit == u.name) {
        node.unit = u.unit;
        return;
      }
    }
    fail(path + ".unit", "unknown unit " + quoted(unit),
         "Units are minutes, hours, days, weeks and months.");
  }
};

}  // namespace

Json filter_to_json(const Node& root) {
  return groups_to_json(root);
}

std::string filter_to_json_text(const Node& root) {
  return to_json_text(filter_to_json(root));
}

NodePtr filter_from_json(const Json& document) {
  NodePtr node = JsonReader().read_root(document);
  // The same limit as the text form, measured on the text this filter prints as, so every
  // filter accepted here also reads back from its canonical text.
  if (nesting_depth(*node) > limits::kMaxNestingDepth) {
    throw Error(sqlstate::kStatementTooComplex, "segment filter JSON is nested too deeply",
                "The filter needs " + std::to_string(nesting_depth(*node)) +
                    " levels of parentheses, NOT and aggregates in its text form.",
                "At most " + std::to_string(limits::kMaxNestingDepth) + " levels are allowed.");
  }
  return node;
}

NodePtr filter_from_json_text(std::string_view text) {
  return filter_from_json(parse_json(text));
}

}  // namespace pgseg
