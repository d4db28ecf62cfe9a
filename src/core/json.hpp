// A small strict JSON value, parser and printer for the filter's JSON form.
#pragma once

#include "core/no_postgres.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgseg {

class Json {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  Json() = default;
  static Json null() { return Json(); }
  static Json boolean(bool b) {
    Json j;
    j.kind_ = Kind::kBool;
    j.bool_ = b;
    return j;
  }
  static Json number(std::string text) {
    Json j;
    j.kind_ = Kind::kNumber;
    j.text_ = std::move(text);
    return j;
  }
  static Json string(std::string text) {
    Json j;
    j.kind_ = Kind::kString;
    j.text_ = std::move(text);
    return j;
  }
  static Json array() {
    Json j;
    j.kind_ = Kind::kArray;
    return j;
  }
  static Json object() {
    Json j;
    j.kind_ = Kind::kObject;
    return j;
  }

  Kind kind() const { return kind_; }
  bool is(Kind k) const { return kind_ == k; }
  bool as_bool() const { return bool_; }
  const std::string& text() const { return text_; }  // string contents or number text
  const std::vector<Json>& items() const { return items_; }
  const std::vector<std::pair<std::string, Json>>& members() const { return members_; }

  Json& push(Json value) {
    items_.push_back(std::move(value));
    return items_.back();
  }
  Json& set(std::string key, Json value) {
    members_.emplace_back(std::move(key), std::move(value));
    return members_.back().second;
  }
  const Json* find(std::string_view key) const {
    for (const auto& member : members_) {
      if (member.first == key) return &member.second;
    }
    return nullptr;
  }

 private:
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  std::string text_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
};

// Parses JSON text (RFC 8259; no duplicate keys, no \u0000). Throws Error 22032 with position.
Json parse_json(std::string_view text);

// Compact JSON text with keys in insertion order.
std::string to_json_text(const Json& value);

const char* json_kind_name(Json::Kind kind);

}  // namespace pgseg
