// Thin RAII wrappers over SQLite's C API: one connection, its prepared statements.
//
// A connection and its statements are used by one thread at a time (connections are opened
// with SQLITE_OPEN_NOMUTEX); the owner serializes. Every error names the database path,
// the statement's purpose and SQLite's own message.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace kernlet::store {

class SqliteConnection;

// A prepared statement, reused across executions. Bind, step until no row, then it resets
// itself when the Use scope ends.
class SqliteStatement {
 public:
  SqliteStatement() = default;
  SqliteStatement(SqliteConnection* conn, sqlite3_stmt* stmt, std::string what);
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // One execution: resets and clears bindings when it goes out of scope, which also
  // releases the statement's hold on the read snapshot.
  class Use {
   public:
    explicit Use(SqliteStatement& s) : s_(s) {}
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    ~Use();

    // Binders take 1-based parameter indexes. Text/blob bytes are copied by SQLite.
    Result<void> bind(int index, int64_t v);
    Result<void> bind_blob(int index, std::string_view v);
    // Advances: true = a row is available, false = done. Errors carry SQLite's message.
    Result<bool> step();
    // Steps a statement that must return no row (DDL, DML).
    Result<void> run();

    int64_t column_int64(int col) const;
    bool column_is_null(int col) const;
    // Bytes of a TEXT/BLOB column, valid until the next step or the end of the Use.
    std::string_view column_bytes(int col) const;

   private:
    SqliteStatement& s_;
  };

  Use use() { return Use(*this); }

 private:
  friend class Use;
  SqliteConnection* conn_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::string what_;
};

class SqliteConnection {
 public:
  // Opens (creating if `create`) the database at `path` and applies kernlet's pragmas:
  // WAL, synchronous=FULL, a busy timeout. Errors name the path.
  static Result<std::unique_ptr<SqliteConnection>> open(const std::string& path, bool create);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // Runs one or more statements with no result rows.
  Result<void> exec(const std::string& sql);
  // Prepares a reusable statement; `what` names it in errors.
  Result<SqliteStatement> prepare(std::string_view sql, std::string what);

  // An Error for the last failure on this connection: "sqlite <path>: <what>: <msg>".
  Error error(std::string_view what, int rc) const;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  SqliteConnection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

}  // namespace kernlet::store
