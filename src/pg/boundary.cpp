// Error conversion between C++ exceptions and PostgreSQL errors.
#include "pg/boundary.hpp"

#include <cstring>
#include <new>

namespace pgseg::pg {

namespace {

// Where a caught C++ error waits until the catch block has ended. Static storage: copying
// into it cannot fail, so nothing can raise while an exception is being handled.
struct PendingError {
  char sqlstate[6];
  char message[4096];
  char detail[8192];
  char hint[2048];
};
PendingError pending;

void copy_text(char* target, std::size_t capacity, const char* source) {
  if (source == nullptr) source = "";
  std::size_t length = std::strlen(source);
  if (length >= capacity) length = capacity - 1;
  std::memcpy(target, source, length);
  target[length] = '\0';
}

void stash(const char* code, const char* message, const char* detail, const char* hint) {
  copy_text(pending.sqlstate, sizeof(pending.sqlstate),
            (code != nullptr && std::strlen(code) == 5) ? code : "XX000");
  copy_text(pending.message, sizeof(pending.message), message);
  copy_text(pending.detail, sizeof(pending.detail), detail);
  copy_text(pending.hint, sizeof(pending.hint), hint);
}

[[noreturn]] void raise_pending() {
  const char* s = pending.sqlstate;
  ereport(ERROR, (errcode(MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4])),
                  errmsg_internal("%s", pending.message),
                  pending.detail[0] != '\0' ? errdetail_internal("%s", pending.detail) : 0,
                  pending.hint[0] != '\0' ? errhint("%s", pending.hint) : 0));
  pg_unreachable();
}

}  // namespace

const char* PgError::what() const noexcept {
  return (data_ != nullptr && data_->message != nullptr) ? data_->message : "PostgreSQL error";
}

ErrorData* detail::call_guarded(void (*function)(void*), void* argument) noexcept {
  MemoryContext caller_context = CurrentMemoryContext;
  ErrorData* volatile error = nullptr;
  PG_TRY();
  { function(argument); }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller_context);
    error = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  return error;
}

Error to_core_error(const PgError& e) {
  ErrorData* data = e.data();
  return Error(unpack_sql_state(data->sqlerrcode), data->message ? data->message : "",
               data->detail ? data->detail : "", data->hint ? data->hint : "");
}

Datum run_entry(FunctionCallInfo fcinfo, Datum (*body)(FunctionCallInfo)) {
  ErrorData* postgres_error = nullptr;
  bool interrupted = false;
  try {
    return body(fcinfo);
  } catch (const PgError& e) {
    postgres_error = e.data();
  } catch (const InterruptRequested&) {
    interrupted = true;
  } catch (const Error& e) {
    stash(e.sqlstate(), e.what(), e.detail().c_str(), e.hint().c_str());
  } catch (const std::bad_alloc&) {
    stash("53200", "out of memory", "pg_segments could not allocate memory.", "");
  } catch (const std::exception& e) {
    stash("XX000", "pg_segments internal error", e.what(), "");
  } catch (...) {
    stash("XX000", "pg_segments internal error", "unknown C++ exception", "");
  }
  // Every C++ frame of the body is gone now; raising is safe.
  if (postgres_error != nullptr) ReThrowError(postgres_error);
  if (interrupted) {
    CHECK_FOR_INTERRUPTS();
    ereport(ERROR,
            (errcode(ERRCODE_QUERY_CANCELED), errmsg("canceling statement due to user request")));
  }
  raise_pending();
}

}  // namespace pgseg::pg
