// A small libpq wrapper for the integration tests.
#pragma once

#include <libpq-fe.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgseg::integration {

// One query result; rows and columns as text.
class Result {
 public:
  explicit Result(PGresult* result) : result_(result, PQclear) {}
  bool ok() const {
    ExecStatusType s = PQresultStatus(result_.get());
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
  }
  std::string error() const { return PQresultErrorMessage(result_.get()); }
  std::string sqlstate() const {
    const char* s = PQresultErrorField(result_.get(), PG_DIAG_SQLSTATE);
    return s ? s : "";
  }
  int rows() const { return PQntuples(result_.get()); }
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column); }
  std::string get(int row, int column) const { return PQgetvalue(result_.get(), row, column); }
  int length(int row, int column) const { return PQgetlength(result_.get(), row, column); }
  // The command tag ("COMMIT", "ROLLBACK", "INSERT 0 1", ...).
  std::string command_status() const { return PQcmdStatus(result_.get()); }
  PGresult* raw() const { return result_.get(); }

 private:
  std::shared_ptr<PGresult> result_;
};

class Connection {
 public:
  explicit Connection(const std::string& conninfo)
      : conn_(PQconnectdb(conninfo.c_str()), PQfinish) {
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      throw std::runtime_error("connection failed: " + std::string(PQerrorMessage(conn_.get())));
    }
    PQsetNoticeProcessor(
        conn_.get(), [](void*, const char*) {}, nullptr);
  }

  Result exec(const std::string& sql) { return Result(PQexec(conn_.get(), sql.c_str())); }

  // Whether the connection to the server is still up.
  bool connected() const { return PQstatus(conn_.get()) == CONNECTION_OK; }

  // Runs COPY ... FROM STDIN with data (in COPY's text format) and returns the COPY's own result:
  // its error when the statement or the data is refused, or the command status.
  Result copy_in(const std::string& copy_sql, const std::string& data) {
    Result start(PQexec(conn_.get(), copy_sql.c_str()));
    if (PQresultStatus(start.raw()) != PGRES_COPY_IN) return start;
    if (PQputCopyData(conn_.get(), data.data(), static_cast<int>(data.size())) == 1) {
      PQputCopyEnd(conn_.get(), nullptr);
    } else {
      PQputCopyEnd(conn_.get(), "client could not send the data");
    }
    // The COPY's result, then NULL; anything after the first result is drained.
    Result outcome(PQgetResult(conn_.get()));
    while (PGresult* more = PQgetResult(conn_.get())) PQclear(more);
    return outcome;
  }

  // Runs sql and throws when it fails.
  Result must(const std::string& sql) {
    Result r = exec(sql);
    if (!r.ok()) {
      throw std::runtime_error("query failed: " + sql.substr(0, 300) + "\n" + r.error());
    }
    return r;
  }

  Result exec_params(const std::string& sql, const std::vector<std::string>& params,
                     int result_format = 0) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    return Result(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, result_format));
  }

  // One binary parameter (length-delimited), text result.
  Result exec_binary_param(const std::string& sql, const std::string& bytes) {
    const char* values[1] = {bytes.data()};
    int lengths[1] = {static_cast<int>(bytes.size())};
    int formats[1] = {1};
    return Result(PQexecParams(conn_.get(), sql.c_str(), 1, nullptr, values, lengths, formats, 0));
  }

  std::string quote_literal(const std::string& s) {
    char* q = PQescapeLiteral(conn_.get(), s.data(), s.size());
    std::string out(q);
    PQfreemem(q);
    return out;
  }

 private:
  std::shared_ptr<PGconn> conn_;
};

// Connection string for database name from the PG* environment.
inline std::string conninfo_for(const std::string& database) {
  return "dbname=" + database;
}

}  // namespace pgseg::integration
