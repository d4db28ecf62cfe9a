// The C++ / PostgreSQL error boundary.
//
// PostgreSQL reports errors with longjmp, which must never cross a C++ frame with live
// destructors, and C++ exceptions must never unwind through PostgreSQL's C frames. So:
//  - every entry point PostgreSQL calls is declared with PGSEG_FUNCTION, which runs the C++
//    body inside try/catch and raises the PostgreSQL error only after the catch has ended;
//  - every PostgreSQL call that can raise, made while C++ objects are live, goes through
//    pg_guard, which turns the PostgreSQL error into a PgError exception (SQLSTATE kept).
#pragma once

#include "pg/postgres.hpp"

#include <exception>
#include <type_traits>

#include "core/error.hpp"

namespace pgseg::pg {

// A PostgreSQL error caught by pg_guard, carried through C++ frames as an exception.
class PgError final : public std::exception {
 public:
  explicit PgError(ErrorData* data) noexcept : data_(data) {}
  ErrorData* data() const noexcept { return data_; }
  const char* what() const noexcept override;

 private:
  ErrorData* data_;  // palloc'd copy, in the memory context that was current in pg_guard
};

// Thrown by check_for_interrupts; the entry point then services the interrupt.
class InterruptRequested final : public std::exception {
 public:
  const char* what() const noexcept override { return "interrupt requested"; }
};

// Polls for query cancel or backend termination from long C++ loops.
inline void check_for_interrupts() {
  if (unlikely(InterruptPending)) throw InterruptRequested();
}

namespace detail {
// Calls function(argument) inside PG_TRY; returns the caught PostgreSQL error (copied into
// the caller's memory context, error state cleared), or nullptr when none was raised.
ErrorData* call_guarded(void (*function)(void*), void* argument) noexcept;
}  // namespace detail

// Runs body, a PostgreSQL call, and rethrows a PostgreSQL error as PgError. body must not
// throw and must not hold C++ objects with destructors on its own frames.
template <typename F>
auto pg_guard(F&& body) -> decltype(body()) {
  using Result = decltype(body());
  if constexpr (std::is_void_v<Result>) {
    auto call = [](void* argument) { (*static_cast<std::remove_reference_t<F>*>(argument))(); };
    ErrorData* error = detail::call_guarded(call, static_cast<void*>(&body));
    if (error != nullptr) throw PgError(error);
  } else {
    struct Frame {
      std::remove_reference_t<F>* body;
      Result result;
    } frame{&body, Result{}};
    auto call = [](void* argument) {
      auto* f = static_cast<Frame*>(argument);
      f->result = (*f->body)();
    };
    ErrorData* error = detail::call_guarded(call, static_cast<void*>(&frame));
    if (error != nullptr) throw PgError(error);
    return frame.result;
  }
}

// The PostgreSQL error inside e as a core Error (same SQLSTATE, message, detail and hint).
Error to_core_error(const PgError& e);

// Runs an entry point's C++ body and converts any exception into a PostgreSQL error.
Datum run_entry(FunctionCallInfo fcinfo, Datum (*body)(FunctionCallInfo));

}  // namespace pgseg::pg

// Declares a SQL-callable C function whose body is C++:
//   PGSEG_FUNCTION(pgseg_thing) { ... return ...; }
#define PGSEG_FUNCTION(name)                                          \
  extern "C" {                                                        \
  PG_FUNCTION_INFO_V1(name);                                          \
  }                                                                   \
  static Datum name##_body([[maybe_unused]] FunctionCallInfo fcinfo); \
  extern "C" Datum name(PG_FUNCTION_ARGS) {                           \
    return ::pgseg::pg::run_entry(fcinfo, name##_body);               \
  }                                                                   \
  static Datum name##_body([[maybe_unused]] FunctionCallInfo fcinfo)
