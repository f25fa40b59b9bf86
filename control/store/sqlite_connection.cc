#include "control/store/sqlite_connection.h"

#include <sqlite3.h>

#include <utility>

namespace kernlet::store {

SqliteStatement::SqliteStatement(SqliteConnection* conn, sqlite3_stmt* stmt, std::string what)
    : conn_(conn), stmt_(stmt), what_(std::move(what)) {}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : conn_(other.conn_), stmt_(std::exchange(other.stmt_, nullptr)), what_(std::move(other.what_)) {}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    conn_ = other.conn_;
    stmt_ = std::exchange(other.stmt_, nullptr);
    what_ = std::move(other.what_);
  }
  return *this;
}

SqliteStatement::~SqliteStatement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

SqliteStatement::Use::~Use() {
  sqlite3_reset(s_.stmt_);
  sqlite3_clear_bindings(s_.stmt_);
}

Result<void> SqliteStatement::Use::bind(int index, int64_t v) {
  int rc = sqlite3_bind_int64(s_.stmt_, index, v);
  if (rc != SQLITE_OK) return s_.conn_->error("bind " + s_.what_, rc);
  return Ok();
}

Result<void> SqliteStatement::Use::bind_blob(int index, std::string_view v) {
  // A zero-length blob must still be a BLOB, not NULL: pass a non-null pointer.
  static const char kEmpty = 0;
  int rc = sqlite3_bind_blob64(s_.stmt_, index, v.empty() ? &kEmpty : v.data(), v.size(),
                               SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) return s_.conn_->error("bind " + s_.what_, rc);
  return Ok();
}

Result<bool> SqliteStatement::Use::step() {
  int rc = sqlite3_step(s_.stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return s_.conn_->error(s_.what_, rc);
}

Result<void> SqliteStatement::Use::run() {
  KL_ASSIGN_OR_RETURN(bool row, step());
  if (row) return Error(ErrorCode::kInternal, "sqlite " + s_.conn_->path() + ": " + s_.what_ +
                                                  ": unexpected result row");
  return Ok();
}

int64_t SqliteStatement::Use::column_int64(int col) const {
  return sqlite3_column_int64(s_.stmt_, col);
}

bool SqliteStatement::Use::column_is_null(int col) const {
  return sqlite3_column_type(s_.stmt_, col) == SQLITE_NULL;
}

std::string_view SqliteStatement::Use::column_bytes(int col) const {
  const void* p = sqlite3_column_blob(s_.stmt_, col);
  int n = sqlite3_column_bytes(s_.stmt_, col);
  if (p == nullptr || n <= 0) return {};
  return {static_cast<const char*>(p), static_cast<size_t>(n)};
}

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::open(const std::string& path,
                                                                  bool create) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Error(ErrorCode::kUnavailable, "sqlite " + path + ": open: " + msg);
  }
  sqlite3_extended_result_codes(db, 1);
  std::unique_ptr<SqliteConnection> conn(new SqliteConnection(db, path));
  // synchronous=FULL: in WAL mode the log is fsynced at every commit, so a commit that
  // returned survives power loss, not only a process crash.
  KL_TRY(conn->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                    "PRAGMA busy_timeout=10000; PRAGMA temp_store=MEMORY; "
                    "PRAGMA cache_size=-16384;"));
  return conn;
}

SqliteConnection::~SqliteConnection() { sqlite3_close_v2(db_); }

Result<void> SqliteConnection::exec(const std::string& sql) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    std::string text = msg != nullptr ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    return Error(rc == SQLITE_FULL ? ErrorCode::kResourceExhausted : ErrorCode::kInternal,
                 "sqlite " + path_ + ": " + sql.substr(0, 60) + ": " + text);
  }
  return Ok();
}

Result<SqliteStatement> SqliteConnection::prepare(std::string_view sql, std::string what) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return error("prepare " + what, rc);
  return SqliteStatement(this, stmt, std::move(what));
}

Error SqliteConnection::error(std::string_view what, int rc) const {
  ErrorCode code = ErrorCode::kInternal;
  switch (rc & 0xff) {
    case SQLITE_FULL: code = ErrorCode::kResourceExhausted; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = ErrorCode::kUnavailable; break;
    default: break;
  }
  // errmsg describes the most recent failure on this connection; errstr is the fallback.
  const char* msg = sqlite3_errcode(db_) == rc ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  return Error(code, "sqlite " + path_ + ": " + std::string(what) + ": " + msg + " (code " +
                         std::to_string(rc) + ")");
}

}  // namespace kernlet::store
