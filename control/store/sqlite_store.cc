#include "control/store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "control/store/sqlite_connection.h"
#include "control/store/write_trace.h"

namespace kernlet::store {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv(
  revision INTEGER PRIMARY KEY,
  key BLOB NOT NULL,
  value BLOB NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  deleted INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS kv_key_revision ON kv(key, revision);
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta(name, value) VALUES('schema_version', 1), ('compacted_revision', 0);
)sql";

constexpr const char* kLatestSql =
    "SELECT revision, create_revision, deleted, value FROM kv WHERE key = ?1 "
    "ORDER BY revision DESC LIMIT 1";
constexpr const char* kInsertSql =
    "INSERT INTO kv(revision, key, value, create_revision, prev_revision, deleted) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kMaxRevisionSql = "SELECT MAX(revision) FROM kv";
constexpr const char* kCompactedSql = "SELECT value FROM meta WHERE name = 'compacted_revision'";
constexpr const char* kSetCompactedSql =
    "UPDATE meta SET value = ?1 WHERE name = 'compacted_revision'";
// The row of each key that is the latest as of ?3 and not a tombstone. The scan walks the
// (key, revision) index in key order, so LIMIT stops it early; the correlated MAX is one
// index probe per candidate row.
constexpr const char* kListSql =
    "SELECT c.key, c.value, c.create_revision, c.revision FROM kv AS c "
    "WHERE c.key >= ?1 AND c.key < ?2 AND c.revision <= ?3 AND c.deleted = 0 "
    "AND c.revision = (SELECT MAX(n.revision) FROM kv AS n WHERE n.key = c.key "
    "AND n.revision <= ?3) ORDER BY c.key LIMIT ?4";
// The same without an upper key bound (prefix "" or all 0xff bytes). ?2 stays unused so
// both variants bind alike.
constexpr const char* kListOpenSql =
    "SELECT c.key, c.value, c.create_revision, c.revision FROM kv AS c "
    "WHERE c.key >= ?1 AND c.revision <= ?3 AND c.deleted = 0 "
    "AND c.revision = (SELECT MAX(n.revision) FROM kv AS n WHERE n.key = c.key "
    "AND n.revision <= ?3) ORDER BY c.key LIMIT ?4";
// History for watch replay, with each event's previous value.
constexpr const char* kHistorySql =
    "SELECT c.revision, c.key, c.value, c.create_revision, c.deleted, c.prev_revision, "
    "p.value, p.create_revision FROM kv AS c LEFT JOIN kv AS p ON p.revision = c.prev_revision "
    "WHERE c.revision > ?1 AND c.revision <= ?2 AND c.key >= ?3 AND c.key < ?4 "
    "ORDER BY c.revision LIMIT ?5";
constexpr const char* kHistoryOpenSql =
    "SELECT c.revision, c.key, c.value, c.create_revision, c.deleted, c.prev_revision, "
    "p.value, p.create_revision FROM kv AS c LEFT JOIN kv AS p ON p.revision = c.prev_revision "
    "WHERE c.revision > ?1 AND c.revision <= ?2 AND c.key >= ?3 "
    "ORDER BY c.revision LIMIT ?5";
// Compaction to ?3 of the revisions in (?1, ?2]: a row goes if a newer row of its key at or
// below ?3 supersedes it, or if it is a tombstone (its key is absent as of ?3, and the rows
// it superseded go with it). SQLite computes the whole row set before deleting any.
constexpr const char* kCompactSql =
    "DELETE FROM kv WHERE revision > ?1 AND revision <= ?2 AND (deleted = 1 OR revision < "
    "(SELECT MAX(n.revision) FROM kv AS n WHERE n.key = kv.key AND n.revision <= ?3))";

// The smallest key greater than every key starting with `prefix`; empty = unbounded.
std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return end;
}

Error compacted_error(int64_t revision, int64_t compacted) {
  return Error(ErrorCode::kCompacted, "required revision " + std::to_string(revision) +
                                          " has been compacted (compacted revision " +
                                          std::to_string(compacted) + ")");
}

enum class OpKind { kCreate, kUpdate, kRemove, kCompact };

// A write waiting for the commit thread. A blocking call's op lives on the caller's
// stack: the caller waits on `cv` until `finished`, and the commit thread does not touch
// the op after setting it. (A condition variable, not std::binary_semaphore: libstdc++'s
// semaphore spins with sched_yield before it sleeps, which with a hundred waiting callers
// on two cores cost more CPU than the writes.) A write_async op is owned by the queue and
// deleted once its callback has the result.
struct WriteOp {
  OpKind kind = OpKind::kCreate;
  std::string_view key;
  std::string_view value;
  int64_t expected = 0;  // expected mod_revision, or the compaction target
  std::shared_ptr<const EventAttachment> attachment;
  std::optional<Result<TxnResult>> result;

  // Blocking caller.
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;

  // write_async: the request `key` and `value` point into, and where the result goes.
  std::optional<WriteRequest> request;
  WriteCallback callback;
  int64_t enqueued = 0;
  int64_t taken = 0;
};

OpKind op_kind(WriteRequest::Kind k) {
  switch (k) {
    case WriteRequest::Kind::kCreate: return OpKind::kCreate;
    case WriteRequest::Kind::kUpdate: return OpKind::kUpdate;
    case WriteRequest::Kind::kRemove: return OpKind::kRemove;
  }
  return OpKind::kCreate;
}

// Hands an op its result: wakes the blocked caller, or calls the callback and frees the op.
void complete(WriteOp* op) {
  if (write_trace::get().on() && op->result && op->result->ok() && op->result->value().succeeded) {
    write_trace::get().req({op->enqueued, op->taken, write_trace::now_ns(), 0, op->result->value().revision});
  }
  if (op->callback) {
    std::unique_ptr<WriteOp> owned(op);
    WriteCallback done = std::move(op->callback);
    Result<TxnResult> result = std::move(*op->result);
    owned.reset();
    done(std::move(result));
    return;
  }
  // Notify under the lock: once it is released the caller may return and destroy the op.
  std::lock_guard lk(op->mu);
  op->finished = true;
  op->cv.notify_one();
}

// The per-watch state shared by the consumer's handle and the publisher.
struct WatchState {
  std::string prefix;
  std::string end;  // prefix_end(prefix)
  size_t capacity = 0;
  std::function<void()> on_ready;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Event> queue;       // live events not yet consumed
  std::optional<Error> end_error;  // set once the watch has ended
  bool synced = false;           // receives live events (else it replays from the database)
  int64_t floor = 0;             // synced: only events above this revision are queued
  int64_t progress = 0;          // synced: all matching events <= this are queued or consumed
  int64_t cursor = 0;            // consumer: the last revision delivered or skipped

  bool matches(std::string_view key) const {
    return key.starts_with(prefix);
  }
};

// A read connection with its statements.
struct Reader {
  std::unique_ptr<SqliteConnection> conn;
  SqliteStatement begin, commit, latest, max_revision, compacted, list, list_open, history,
      history_open;
};

Result<std::unique_ptr<Reader>> open_reader(const std::string& path) {
  auto r = std::make_unique<Reader>();
  KL_ASSIGN_OR_RETURN(r->conn, SqliteConnection::open(path, false));
  auto& c = *r->conn;
  KL_ASSIGN_OR_RETURN(r->begin, c.prepare("BEGIN", "begin read"));
  KL_ASSIGN_OR_RETURN(r->commit, c.prepare("COMMIT", "end read"));
  KL_ASSIGN_OR_RETURN(r->latest, c.prepare(kLatestSql, "get"));
  KL_ASSIGN_OR_RETURN(r->max_revision, c.prepare(kMaxRevisionSql, "read revision"));
  KL_ASSIGN_OR_RETURN(r->compacted, c.prepare(kCompactedSql, "read compacted revision"));
  KL_ASSIGN_OR_RETURN(r->list, c.prepare(kListSql, "list"));
  KL_ASSIGN_OR_RETURN(r->list_open, c.prepare(kListOpenSql, "list"));
  KL_ASSIGN_OR_RETURN(r->history, c.prepare(kHistorySql, "read history"));
  KL_ASSIGN_OR_RETURN(r->history_open, c.prepare(kHistoryOpenSql, "read history"));
  return r;
}

// Reads one int64 from a single-row statement (NULL reads as 0).
Result<int64_t> read_scalar(SqliteStatement& stmt) {
  auto q = stmt.use();
  KL_ASSIGN_OR_RETURN(bool row, q.step());
  if (!row || q.column_is_null(0)) return int64_t{0};
  return q.column_int64(0);
}

// One WAL snapshot on a reader: BEGIN now, COMMIT (ending the snapshot) on scope exit.
class ReadTxn {
 public:
  explicit ReadTxn(Reader& r) : r_(r) {}
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  ~ReadTxn() {
    if (open_) (void)r_.commit.use().run();
  }
  Result<void> begin() {
    KL_TRY(r_.begin.use().run());
    open_ = true;
    return Ok();
  }
  // The snapshot's (current, compacted) revisions. A compaction may delete the top
  // tombstone, so the current revision is at least the compacted one.
  Result<std::pair<int64_t, int64_t>> revisions() {
    KL_ASSIGN_OR_RETURN(int64_t max_rev, read_scalar(r_.max_revision));
    KL_ASSIGN_OR_RETURN(int64_t compacted, read_scalar(r_.compacted));
    return std::pair{std::max(max_rev, compacted), compacted};
  }

 private:
  Reader& r_;
  bool open_ = false;
};

}  // namespace

class SqliteStore::Impl : public std::enable_shared_from_this<SqliteStore::Impl> {
 public:
  explicit Impl(SqliteStoreOptions options) : opts_(std::move(options)) {}
  ~Impl() { stop(); }

  Result<void> start();
  void stop();

  Result<TxnResult> submit(OpKind kind, std::string_view key, std::string_view value,
                           int64_t expected);
  void submit_async(WriteRequest request, WriteCallback done);
  Result<std::optional<KeyValue>> get(std::string_view key);
  Result<ListResult> list(std::string_view prefix, const ListOptions& options);
  Result<std::unique_ptr<Watcher>> watch(std::string_view prefix, int64_t after,
                                         WatchOptions options);
  Result<void> check_integrity();
  StoreStats stats() const;

  // Watch consumer side.
  Result<WatchBatch> watch_next(WatchState& w, std::chrono::milliseconds timeout);
  void watch_cancel(const std::shared_ptr<WatchState>& w);

  // Called by SQLite on the commit thread after each commit with the WAL's size.
  void wal_grew(int pages) {
    if (pages < opts_.checkpoint_pages) return;
    {
      std::lock_guard lk(ck_mu_);
      ck_wanted_ = true;
    }
    ck_cv_.notify_one();
  }

  std::atomic<int64_t> current_revision{0};
  std::atomic<int64_t> compacted_revision{0};

 private:
  // A reader checked out of the pool for the scope's lifetime.
  class ReaderLease {
   public:
    ReaderLease(Impl& impl, std::unique_ptr<Reader> r) : impl_(impl), r_(std::move(r)) {}
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;
    ~ReaderLease() { impl_.release_reader(std::move(r_)); }
    Reader& operator*() { return *r_; }
    Reader* operator->() { return r_.get(); }

   private:
    Impl& impl_;
    std::unique_ptr<Reader> r_;
  };
  ReaderLease acquire_reader();
  void release_reader(std::unique_ptr<Reader> r);

  // Queues an op for the commit thread; false once the store is stopping.
  bool enqueue(WriteOp* op);

  // Commit thread.
  void commit_loop();
  void run_batch(std::vector<WriteOp*>& ops);
  Result<void> apply(WriteOp& op, int64_t& last_rev, std::vector<Event>& events);
  Result<std::optional<KeyValue>> latest(std::string_view key);
  void start_compaction(WriteOp* op);
  void compact_chunk();
  void publish(std::vector<Event>& events, int64_t revision);
  void end_all_watchers(const Error& why);

  // Checkpointer thread.
  void checkpoint_loop();

  // Pipelined group commit (opts_.sync_threads > 0).
  bool pipelined() const { return opts_.sync_threads > 0; }
  Result<void> open_wal_fd();
  Result<void> sync_wal();
  void hand_to_sync(std::vector<WriteOp*>& ops, std::vector<Event>& events, int64_t rev);
  void sync_loop();
  void ack_durable();

  // One page of history for a replaying watcher; advances w.cursor.
  Result<std::vector<Event>> replay_page(WatchState& w, int64_t target);

  SqliteStoreOptions opts_;

  // Write queue.
  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::vector<WriteOp*> queue_;
  bool stopping_ = false;
  std::thread committer_;

  // Owned by the commit thread.
  std::unique_ptr<SqliteConnection> writer_;
  SqliteStatement w_begin_, w_commit_, w_rollback_, w_latest_, w_insert_, w_set_compacted_,
      w_compact_;
  int64_t last_rev_ = 0;
  std::deque<WriteOp*> compactions_;  // front is in progress once compact_cursor_ is set
  int64_t compact_target_ = 0;
  int64_t compact_cursor_ = -1;       // -1: the front compaction has not started

  // Pipelined commit: batches committed to the WAL (not yet known durable) wait in
  // written_ in revision order; sync threads fdatasync the WAL and acknowledge them.
  struct Written {
    std::vector<WriteOp*> ops;
    std::vector<Event> events;
    int64_t revision = 0;  // the last revision the batch depends on (written or read)
  };
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::deque<Written> written_;
  int64_t written_rev_ = 0;        // highest revision committed to the WAL
  int64_t sync_started_rev_ = 0;   // highest revision an fdatasync in flight or done covers
  int64_t durable_rev_ = 0;        // highest revision an fdatasync has returned for
  std::optional<Error> sync_failed_;  // set once an fdatasync failed: the store refuses writes
  bool sync_stop_ = false;
  std::mutex ack_mu_;  // held while acknowledging, so batches are acknowledged in order
  std::vector<std::thread> syncers_;
  std::mutex wal_mu_;
  int wal_fd_ = -1;
  ino_t wal_ino_ = 0;

  // Checkpointer.
  std::unique_ptr<SqliteConnection> checkpointer_;
  std::mutex ck_mu_;
  std::condition_variable ck_cv_;
  bool ck_wanted_ = false;
  bool ck_stop_ = false;
  std::thread checkpoint_thread_;

  // Reader pool.
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Reader>> pool_;

  // Watch hub: publication is atomic with respect to a watcher switching to live.
  mutable std::mutex hub_mu_;
  std::vector<std::shared_ptr<WatchState>> watchers_;
  int64_t published_revision_ = 0;
  bool closed_ = false;

  // Stats.
  std::atomic<int64_t> writes_{0}, failed_{0}, commits_{0}, max_batch_{0}, compacted_rows_{0},
      overflowed_{0};
};

namespace {

class SqliteWatcher final : public Watcher {
 public:
  SqliteWatcher(std::shared_ptr<SqliteStore::Impl> impl, std::shared_ptr<WatchState> state)
      : impl_(std::move(impl)), state_(std::move(state)) {}
  ~SqliteWatcher() override { cancel(); }
  Result<WatchBatch> next(std::chrono::milliseconds timeout) override {
    return impl_->watch_next(*state_, timeout);
  }
  void cancel() override { impl_->watch_cancel(state_); }

 private:
  std::shared_ptr<SqliteStore::Impl> impl_;
  std::shared_ptr<WatchState> state_;
};

int sqlite_wal_hook(void* arg, sqlite3* /*db*/, const char* /*name*/, int pages);

}  // namespace

// ---------------------------------------------------------------------------------------
// Open and close.

Result<void> SqliteStore::Impl::start() {
  KL_ASSIGN_OR_RETURN(writer_, SqliteConnection::open(opts_.path, true));
  KL_TRY(writer_->exec(kSchema));
  auto& w = *writer_;
  KL_ASSIGN_OR_RETURN(w_begin_, w.prepare("BEGIN IMMEDIATE", "begin write"));
  KL_ASSIGN_OR_RETURN(w_commit_, w.prepare("COMMIT", "commit"));
  KL_ASSIGN_OR_RETURN(w_rollback_, w.prepare("ROLLBACK", "rollback"));
  KL_ASSIGN_OR_RETURN(w_latest_, w.prepare(kLatestSql, "read key"));
  KL_ASSIGN_OR_RETURN(w_insert_, w.prepare(kInsertSql, "insert revision"));
  KL_ASSIGN_OR_RETURN(w_set_compacted_, w.prepare(kSetCompactedSql, "set compacted revision"));
  KL_ASSIGN_OR_RETURN(w_compact_, w.prepare(kCompactSql, "compact"));
  {
    KL_ASSIGN_OR_RETURN(auto max_rev_stmt, w.prepare(kMaxRevisionSql, "read revision"));
    KL_ASSIGN_OR_RETURN(auto compacted_stmt, w.prepare(kCompactedSql, "read compacted"));
    KL_ASSIGN_OR_RETURN(int64_t max_rev, read_scalar(max_rev_stmt));
    KL_ASSIGN_OR_RETURN(int64_t compacted, read_scalar(compacted_stmt));
    last_rev_ = std::max(max_rev, compacted);
    current_revision = last_rev_;
    compacted_revision = compacted;
    published_revision_ = last_rev_;
  }
  // Writers never checkpoint: the checkpointer thread does, on its own connection, so no
  // commit waits for the database file's fsync. (This hook replaces autocheckpoint.)
  sqlite3_wal_hook(writer_->handle(), sqlite_wal_hook, this);
  KL_ASSIGN_OR_RETURN(checkpointer_, SqliteConnection::open(opts_.path, false));
  for (size_t i = 0; i < std::max<size_t>(1, opts_.reader_connections); ++i) {
    KL_ASSIGN_OR_RETURN(auto r, open_reader(opts_.path));
    pool_.push_back(std::move(r));
  }
  if (pipelined()) {
    // The WAL is fsynced by the sync threads, not inside COMMIT.
    KL_TRY(writer_->exec("PRAGMA synchronous=NORMAL;"));
    KL_TRY(open_wal_fd());
    written_rev_ = sync_started_rev_ = durable_rev_ = last_rev_;
    for (int i = 0; i < opts_.sync_threads; ++i) syncers_.emplace_back([this] { sync_loop(); });
  }
  committer_ = std::thread([this] { commit_loop(); });
  checkpoint_thread_ = std::thread([this] { checkpoint_loop(); });
  return Ok();
}

void SqliteStore::Impl::stop() {
  {
    std::lock_guard lk(q_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  q_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
  {
    // The sync threads finish what the commit thread handed them, then end.
    std::lock_guard lk(sync_mu_);
    sync_stop_ = true;
  }
  sync_cv_.notify_all();
  for (auto& t : syncers_) t.join();
  syncers_.clear();
  if (wal_fd_ >= 0) {
    ::close(wal_fd_);
    wal_fd_ = -1;
  }
  {
    std::lock_guard lk(ck_mu_);
    ck_stop_ = true;
  }
  ck_cv_.notify_all();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  end_all_watchers(Error(ErrorCode::kUnavailable, "store " + opts_.path + " closed"));
}

namespace {
int sqlite_wal_hook(void* arg, sqlite3* /*db*/, const char* /*name*/, int pages) {
  static_cast<SqliteStore::Impl*>(arg)->wal_grew(pages);
  return SQLITE_OK;
}
}  // namespace

// ---------------------------------------------------------------------------------------
// Writes: the commit thread.

Result<TxnResult> SqliteStore::Impl::submit(OpKind kind, std::string_view key,
                                            std::string_view value, int64_t expected) {
  WriteOp op;
  op.kind = kind;
  op.key = key;
  op.value = value;
  op.expected = expected;
  if (!enqueue(&op)) return Error(ErrorCode::kUnavailable, "store " + opts_.path + " closed");
  std::unique_lock lk(op.mu);
  op.cv.wait(lk, [&] { return op.finished; });
  return std::move(*op.result);
}

void SqliteStore::Impl::submit_async(WriteRequest request, WriteCallback done) {
  if (!done) done = [](Result<TxnResult>) {};  // an op with no callback would be taken for a blocking one
  auto op = std::make_unique<WriteOp>();
  op->kind = op_kind(request.kind);
  op->expected = request.expected_mod_revision;
  op->attachment = std::move(request.attachment);
  op->request = std::move(request);
  op->key = op->request->key;
  op->value = op->request->value;
  op->callback = std::move(done);
  if (enqueue(op.get())) {
    (void)op.release();  // the commit thread owns it now (complete() frees it)
    return;
  }
  op->callback(Error(ErrorCode::kUnavailable, "store " + opts_.path + " closed"));
}

bool SqliteStore::Impl::enqueue(WriteOp* op) {
  if (write_trace::get().on()) op->enqueued = write_trace::now_ns();
  {
    std::lock_guard lk(q_mu_);
    if (stopping_) return false;
    queue_.push_back(op);
  }
  q_cv_.notify_one();
  return true;
}

void SqliteStore::Impl::commit_loop() {
  std::vector<WriteOp*> batch;
  for (;;) {
    {
      std::unique_lock lk(q_mu_);
      q_cv_.wait(lk, [&] { return stopping_ || !queue_.empty() || !compactions_.empty(); });
      if (stopping_ && queue_.empty() && compactions_.empty()) break;
      size_t n = std::min(queue_.size(), opts_.max_batch);
      batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    // Compaction requests leave the batch: they run in chunks between write batches.
    auto split = std::stable_partition(batch.begin(), batch.end(),
                                       [](WriteOp* op) { return op->kind != OpKind::kCompact; });
    for (auto it = split; it != batch.end(); ++it) start_compaction(*it);
    batch.erase(split, batch.end());
    if (!batch.empty()) run_batch(batch);
    // One chunk per loop bounds how long a compaction delays the next batch.
    if (!compactions_.empty()) compact_chunk();
  }
}

Result<std::optional<KeyValue>> SqliteStore::Impl::latest(std::string_view key) {
  auto q = w_latest_.use();
  KL_TRY(q.bind_blob(1, key));
  KL_ASSIGN_OR_RETURN(bool row, q.step());
  if (!row || q.column_int64(2) != 0) return std::optional<KeyValue>{};
  return std::optional<KeyValue>(
      KeyValue{std::string(key), std::string(q.column_bytes(3)), q.column_int64(1),
               q.column_int64(0)});
}

// Checks the op's precondition and appends its row. A returned Error is a database
// failure (the batch rolls back); a failed precondition is a result.
Result<void> SqliteStore::Impl::apply(WriteOp& op, int64_t& last_rev, std::vector<Event>& events) {
  KL_ASSIGN_OR_RETURN(std::optional<KeyValue> cur, latest(op.key));
  auto fail = [&](std::optional<KeyValue> kv) {
    op.result = TxnResult{false, last_rev, std::move(kv)};
    return Ok();
  };
  if (op.kind == OpKind::kCreate) {
    if (cur) return fail(std::move(cur));
  } else {
    if (!cur) return fail(std::nullopt);
    if (op.expected != 0 && cur->mod_revision != op.expected) return fail(std::move(cur));
  }
  const int64_t rev = last_rev + 1;
  const bool deleting = op.kind == OpKind::kRemove;
  const int64_t create_rev = op.kind == OpKind::kCreate ? rev : cur->create_revision;
  {
    auto q = w_insert_.use();
    KL_TRY(q.bind(1, rev));
    KL_TRY(q.bind_blob(2, op.key));
    KL_TRY(q.bind_blob(3, deleting ? std::string_view() : op.value));
    KL_TRY(q.bind(4, create_rev));
    KL_TRY(q.bind(5, cur ? cur->mod_revision : 0));
    KL_TRY(q.bind(6, deleting ? 1 : 0));
    KL_TRY(q.run());
  }
  last_rev = rev;
  Event ev;
  if (deleting) {
    ev.type = Event::Type::kDelete;
    ev.kv = KeyValue{std::string(op.key), {}, 0, rev};
    ev.prev_kv = cur;
    op.result = TxnResult{true, rev, std::move(cur)};
  } else {
    ev.type = Event::Type::kPut;
    ev.kv = KeyValue{std::string(op.key), std::string(op.value), create_rev, rev};
    ev.prev_kv = std::move(cur);
    op.result = TxnResult{true, rev, ev.kv};
  }
  ev.attachment = std::move(op.attachment);
  events.push_back(std::move(ev));
  return Ok();
}

void SqliteStore::Impl::run_batch(std::vector<WriteOp*>& ops) {
  std::vector<Event> events;
  events.reserve(ops.size());
  int64_t rev = last_rev_;
  write_trace::Batch tb{};
  if (write_trace::get().on()) {
    tb.taken = write_trace::now_ns();
    tb.oldest_enqueue = ops.front()->enqueued;
    tb.n = static_cast<int64_t>(ops.size());
    tb.first_rev = last_rev_ + 1;
    tb.inflight = 1;
    for (WriteOp* op : ops) op->taken = tb.taken;
  }
  auto fail_all = [&](const Error& e) {
    for (WriteOp* op : ops) {
      op->result = Result<TxnResult>(Error(e));
      complete(op);
    }
  };
  if (pipelined()) {
    std::lock_guard lk(sync_mu_);
    if (sync_failed_) return fail_all(*sync_failed_);
  }
  if (auto b = w_begin_.use().run(); !b.ok()) return fail_all(b.error());
  Result<void> applied = Ok();
  for (WriteOp* op : ops) {
    applied = apply(*op, rev, events);
    if (!applied.ok()) break;
  }
  if (write_trace::get().on()) tb.applied = write_trace::now_ns();
  if (applied.ok()) applied = w_commit_.use().run();
  if (write_trace::get().on()) tb.committed = write_trace::now_ns();
  if (!applied.ok()) {
    // Nothing of the batch is visible: roll back and give every op the error. Revisions
    // are reassigned from last_rev_, which did not move.
    (void)w_rollback_.use().run();
    return fail_all(Error(applied.error()).context("group commit"));
  }
  const int64_t written = rev - last_rev_;
  last_rev_ = rev;
  writes_ += written;
  failed_ += static_cast<int64_t>(ops.size()) - written;
  if (written > 0) ++commits_;
  int64_t n = static_cast<int64_t>(ops.size());
  for (int64_t m = max_batch_.load(); n > m && !max_batch_.compare_exchange_weak(m, n);) {
  }
  if (pipelined()) {
    if (write_trace::get().on()) {
      tb.last_rev = rev;
      std::lock_guard lk(sync_mu_);
      tb.inflight = static_cast<int64_t>(written_.size()) + 1;
      tb.completed = 0;
      write_trace::get().batch(tb);
    }
    // Even an op whose precondition failed waits: its answer may rest on a write of an
    // earlier batch that is not durable yet.
    return hand_to_sync(ops, events, rev);
  }
  // The revision is visible to readers once COMMIT returned; callers may act on it now.
  current_revision = rev;
  for (WriteOp* op : ops) complete(op);
  if (write_trace::get().on()) {
    tb.completed = write_trace::now_ns();
    tb.last_rev = rev;
    write_trace::get().batch(tb);
  }
  if (!events.empty()) publish(events, rev);
}

void SqliteStore::Impl::start_compaction(WriteOp* op) { compactions_.push_back(op); }

void SqliteStore::Impl::compact_chunk() {
  WriteOp* op = compactions_.front();
  auto finish = [&](Result<TxnResult> r) {
    compactions_.pop_front();
    compact_cursor_ = -1;
    op->result = std::move(r);
    complete(op);
  };
  auto run_txn = [&](auto&& body) -> Result<void> {
    KL_TRY(w_begin_.use().run());
    Result<void> r = body();
    if (r.ok()) r = w_commit_.use().run();
    if (!r.ok()) {
      (void)w_rollback_.use().run();
      return r;
    }
    // Pipelined, COMMIT did not fsync: a compaction is rare, sync it here.
    if (pipelined()) return sync_wal();
    return r;
  };
  if (compact_cursor_ < 0) {
    const int64_t target = op->expected;
    const int64_t compacted = compacted_revision.load();
    if (target <= compacted) return finish(compacted_error(target, compacted));
    if (target > last_rev_) {
      return finish(Error(ErrorCode::kInvalidArgument,
                          "compact " + opts_.path + ": revision " + std::to_string(target) +
                              " is a future revision (current " + std::to_string(last_rev_) +
                              ")"));
    }
    // The new compacted revision is recorded before any row goes, so from here on readers
    // of older revisions get kCompacted instead of a half-compacted state. Watches check
    // the in-memory copy, reads the committed row: the copy moves first, or a watch could
    // still start from a revision a read already calls compacted (this commit also waits
    // for an fsync when commits are pipelined). Refusing a little early is harmless: no
    // row has gone yet.
    compacted_revision = target;
    auto r = run_txn([&]() -> Result<void> {
      auto q = w_set_compacted_.use();
      KL_TRY(q.bind(1, target));
      return q.run();
    });
    if (!r.ok()) {
      compacted_revision = compacted;
      return finish(std::move(r).error());
    }
    compact_target_ = target;
    compact_cursor_ = compacted;
  }
  const int64_t hi = std::min(compact_target_, compact_cursor_ + opts_.compact_chunk_revisions);
  auto r = run_txn([&]() -> Result<void> {
    auto q = w_compact_.use();
    KL_TRY(q.bind(1, compact_cursor_));
    KL_TRY(q.bind(2, hi));
    KL_TRY(q.bind(3, compact_target_));
    KL_TRY(q.run());
    compacted_rows_ += sqlite3_changes(writer_->handle());
    return Ok();
  });
  if (!r.ok()) return finish(std::move(r).error());
  compact_cursor_ = hi;
  if (hi >= compact_target_) finish(TxnResult{true, compact_target_, std::nullopt});
}

// ---------------------------------------------------------------------------------------
// Pipelined group commit: the sync threads.

Result<void> SqliteStore::Impl::open_wal_fd() {
  const std::string wal = opts_.path + "-wal";
  int fd = ::open(wal.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Error("open " + wal, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Error("stat " + wal, e);
  }
  // The WAL's directory entry must be durable too, or an fsynced WAL could vanish with a
  // power loss right after it was created.
  std::string dir = opts_.path.substr(0, opts_.path.find_last_of('/') + 1);
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  if (wal_fd_ >= 0) ::close(wal_fd_);
  wal_fd_ = fd;
  wal_ino_ = st.st_ino;
  return Ok();
}

// fdatasync of the WAL file: every frame written before the call is durable when it
// returns, also frames another thread's fdatasync is writing back (the kernel waits for
// pages under writeback, then flushes the device cache). SQLite keeps the same WAL file
// (truncating or rewinding it, never replacing it) while the writer connection is open;
// should it ever be replaced, the new one is opened and synced.
Result<void> SqliteStore::Impl::sync_wal() {
  int fd;
  {
    std::lock_guard lk(wal_mu_);
    struct stat st {};
    if (::stat((opts_.path + "-wal").c_str(), &st) == 0 && st.st_ino != wal_ino_) KL_TRY(open_wal_fd());
    fd = ::dup(wal_fd_);
  }
  if (fd < 0) return Error("sync " + opts_.path + "-wal: dup", errno);
  int rc = ::fdatasync(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0) return Error("fdatasync " + opts_.path + "-wal", e);
  return Ok();
}

void SqliteStore::Impl::hand_to_sync(std::vector<WriteOp*>& ops, std::vector<Event>& events, int64_t rev) {
  {
    std::lock_guard lk(sync_mu_);
    written_.push_back(Written{std::move(ops), std::move(events), rev});
    written_rev_ = std::max(written_rev_, rev);
  }
  ops.clear();
  events.clear();
  sync_cv_.notify_one();
}

void SqliteStore::Impl::sync_loop() {
  std::unique_lock lk(sync_mu_);
  for (;;) {
    auto to_sync = [&] { return written_rev_ > sync_started_rev_ && !sync_failed_; };
    auto to_ack = [&] {
      return !written_.empty() && (written_.front().revision <= durable_rev_ || sync_failed_);
    };
    // After stop() the commit thread has ended: once nothing waits, this thread is done
    // (a sync still in flight on another thread acknowledges its own batches).
    auto done = [&] { return sync_stop_ && !to_sync() && (written_.empty() || sync_failed_); };
    sync_cv_.wait(lk, [&] { return to_sync() || to_ack() || done(); });
    if (to_sync()) {
      // Covers every batch written so far; another thread may start the next fsync as
      // soon as the commit thread writes more, without waiting for this one.
      const int64_t target = written_rev_;
      sync_started_rev_ = target;
      lk.unlock();
      if (opts_.before_sync) opts_.before_sync(target);
      const int64_t t0 = write_trace::get().on() ? write_trace::now_ns() : 0;
      Result<void> r = sync_wal();
      if (t0) write_trace::get().sync({t0, write_trace::now_ns(), target});
      lk.lock();
      if (r.ok()) {
        durable_rev_ = std::max(durable_rev_, target);
      } else if (!sync_failed_) {
        // What the kernel did with the unsynced pages is unknown (it may have dropped
        // them): no later fsync can vouch for these writes, so none is acknowledged and the
        // store takes no more writes. A restart recovers from what is on disk.
        sync_failed_ = Error(ErrorCode::kUnavailable, "store " + opts_.path + ": " + r.error().message() +
                                                          "; writes refused until restart");
      }
      sync_cv_.notify_all();
    }
    if (to_ack()) {
      lk.unlock();
      ack_durable();
      lk.lock();
      continue;
    }
    if (done()) {
      if (!written_.empty()) {  // failed: hand the errors out before leaving
        lk.unlock();
        ack_durable();
        lk.lock();
      }
      return;
    }
  }
}

// Acknowledges, in revision order, every written batch that is durable (or fails them all
// once a sync failed), then publishes their events.
void SqliteStore::Impl::ack_durable() {
  std::lock_guard ack(ack_mu_);
  std::vector<Written> ready;
  std::optional<Error> failed;
  {
    std::lock_guard lk(sync_mu_);
    failed = sync_failed_;
    while (!written_.empty() && (failed || written_.front().revision <= durable_rev_)) {
      ready.push_back(std::move(written_.front()));
      written_.pop_front();
    }
  }
  for (Written& w : ready) {
    if (failed) {
      for (WriteOp* op : w.ops) {
        op->result = Result<TxnResult>(Error(*failed));
        complete(op);
      }
      continue;
    }
    if (w.revision > current_revision.load()) current_revision = w.revision;
    for (WriteOp* op : w.ops) complete(op);
    if (!w.events.empty()) publish(w.events, w.revision);
  }
  if (failed) end_all_watchers(*failed);
}

// ---------------------------------------------------------------------------------------
// Checkpointing.

void SqliteStore::Impl::checkpoint_loop() {
  std::unique_lock lk(ck_mu_);
  for (;;) {
    ck_cv_.wait(lk, [&] { return ck_stop_ || ck_wanted_; });
    if (ck_stop_) return;
    ck_wanted_ = false;
    lk.unlock();
    // PASSIVE never blocks the writer or readers; frames still in use are copied next time.
    int log = 0, done = 0;
    sqlite3_wal_checkpoint_v2(checkpointer_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log,
                              &done);
    lk.lock();
  }
}

// ---------------------------------------------------------------------------------------
// Reads.

SqliteStore::Impl::ReaderLease SqliteStore::Impl::acquire_reader() {
  std::unique_lock lk(pool_mu_);
  pool_cv_.wait(lk, [&] { return !pool_.empty(); });
  auto r = std::move(pool_.back());
  pool_.pop_back();
  return ReaderLease(*this, std::move(r));
}

void SqliteStore::Impl::release_reader(std::unique_ptr<Reader> r) {
  {
    std::lock_guard lk(pool_mu_);
    pool_.push_back(std::move(r));
  }
  pool_cv_.notify_one();
}

Result<std::optional<KeyValue>> SqliteStore::Impl::get(std::string_view key) {
  auto r = acquire_reader();
  auto q = r->latest.use();
  KL_TRY(q.bind_blob(1, key));
  KL_ASSIGN_OR_RETURN(bool row, q.step());
  if (!row || q.column_int64(2) != 0) return std::optional<KeyValue>{};
  return std::optional<KeyValue>(KeyValue{std::string(key), std::string(q.column_bytes(3)),
                                          q.column_int64(1), q.column_int64(0)});
}

Result<ListResult> SqliteStore::Impl::list(std::string_view prefix, const ListOptions& options) {
  if (!options.continue_key.empty() && !std::string_view(options.continue_key).starts_with(prefix)) {
    return Error(ErrorCode::kInvalidArgument,
                 "list " + std::string(prefix) + ": continue key " + options.continue_key +
                     " is outside the prefix");
  }
  if (options.revision < 0 || options.limit < 0) {
    return Error(ErrorCode::kInvalidArgument, "list " + std::string(prefix) +
                                                  ": negative revision or limit");
  }
  auto r = acquire_reader();
  ReadTxn txn(*r);
  KL_TRY(txn.begin());
  KL_ASSIGN_OR_RETURN(auto revs, txn.revisions());
  auto [current, compacted] = revs;
  ListResult out;
  out.revision = options.revision == 0 ? current : options.revision;
  if (out.revision < compacted) return compacted_error(out.revision, compacted);
  if (out.revision > current) {
    return Error(ErrorCode::kUnavailable, "required revision " + std::to_string(out.revision) +
                                              " is a future revision (current " +
                                              std::to_string(current) + ")");
  }
  const std::string end = prefix_end(prefix);
  const std::string_view start =
      options.continue_key.empty() ? prefix : std::string_view(options.continue_key);
  auto q = (end.empty() ? r->list_open : r->list).use();
  KL_TRY(q.bind_blob(1, start));
  KL_TRY(q.bind_blob(2, end));
  KL_TRY(q.bind(3, out.revision));
  KL_TRY(q.bind(4, options.limit > 0 ? options.limit + 1 : -1));
  for (;;) {
    KL_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) break;
    if (options.limit > 0 && static_cast<int64_t>(out.kvs.size()) == options.limit) {
      out.more = true;
      out.continue_key = std::string(q.column_bytes(0));
      break;
    }
    out.kvs.push_back(KeyValue{std::string(q.column_bytes(0)), std::string(q.column_bytes(1)),
                               q.column_int64(2), q.column_int64(3)});
  }
  return out;
}

Result<void> SqliteStore::Impl::check_integrity() {
  auto r = acquire_reader();
  auto& c = *r->conn;
  KL_ASSIGN_OR_RETURN(auto check, c.prepare("PRAGMA integrity_check", "integrity check"));
  {
    auto q = check.use();
    KL_ASSIGN_OR_RETURN(bool row, q.step());
    std::string verdict = row ? std::string(q.column_bytes(0)) : "no result";
    if (verdict != "ok") {
      return Error(ErrorCode::kInternal, "sqlite " + opts_.path + ": integrity_check: " + verdict);
    }
  }
  KL_ASSIGN_OR_RETURN(auto bad, c.prepare("SELECT COUNT(*) FROM kv WHERE create_revision > revision "
                                          "OR prev_revision >= revision OR revision <= 0 "
                                          "OR (deleted = 1 AND prev_revision = 0)",
                                          "check log invariants"));
  KL_ASSIGN_OR_RETURN(int64_t n, read_scalar(bad));
  if (n != 0) {
    return Error(ErrorCode::kInternal,
                 "store " + opts_.path + ": " + std::to_string(n) + " log rows break invariants");
  }
  return Ok();
}

StoreStats SqliteStore::Impl::stats() const {
  StoreStats s;
  s.writes = writes_.load();
  s.failed_preconditions = failed_.load();
  s.commits = commits_.load();
  s.max_batch = max_batch_.load();
  s.compacted_rows = compacted_rows_.load();
  s.watchers_overflowed = overflowed_.load();
  {
    std::lock_guard lk(hub_mu_);
    s.watchers = static_cast<int64_t>(watchers_.size());
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Watch.
//
// A watcher starts unsynced: its consumer replays history from the database in pages up to
// the published revision. When it has caught up, it switches to synced under hub_mu_, the
// same lock publish() holds, so every later event reaches its queue exactly once. The
// floor covers the start-in-the-future case: events at or below it are never queued.

Result<std::unique_ptr<Watcher>> SqliteStore::Impl::watch(std::string_view prefix, int64_t after,
                                                          WatchOptions options) {
  if (after < 0) {
    return Error(ErrorCode::kInvalidArgument, "watch " + std::string(prefix) +
                                                  ": negative revision");
  }
  const int64_t compacted = compacted_revision.load();
  if (after < compacted) return compacted_error(after, compacted);
  auto w = std::make_shared<WatchState>();
  w->prefix = std::string(prefix);
  w->end = prefix_end(prefix);
  w->capacity = options.buffer_events != 0 ? options.buffer_events : opts_.watch_buffer_events;
  w->on_ready = std::move(options.on_ready);
  w->cursor = after;
  {
    std::lock_guard lk(hub_mu_);
    if (closed_) return Error(ErrorCode::kUnavailable, "store " + opts_.path + " closed");
    watchers_.push_back(w);
  }
  return std::unique_ptr<Watcher>(new SqliteWatcher(shared_from_this(), std::move(w)));
}

void SqliteStore::Impl::publish(std::vector<Event>& events, int64_t revision) {
  std::vector<std::shared_ptr<WatchState>> ready;
  {
    std::lock_guard hub(hub_mu_);
    for (auto it = watchers_.begin(); it != watchers_.end();) {
      WatchState& w = **it;
      bool ended = false;
      bool added = false;
      {
        std::lock_guard lk(w.mu);
        if (w.synced) {
          size_t n = 0;
          for (const Event& e : events) n += e.revision() > w.floor && w.matches(e.kv.key);
          if (w.queue.size() + n > w.capacity) {
            // The consumer fell behind: end its watch rather than block this writer or
            // buffer without bound. What it already has stays readable.
            w.end_error = Error(ErrorCode::kResourceExhausted,
                                "watch " + w.prefix + ": consumer fell behind (" +
                                    std::to_string(w.capacity) + " events buffered)");
            w.synced = false;
            ended = true;
            ++overflowed_;
          } else {
            for (const Event& e : events) {
              if (e.revision() > w.floor && w.matches(e.kv.key)) w.queue.push_back(e);
            }
            w.progress = std::max(w.progress, revision);
            added = n > 0;
          }
        }
      }
      if (ended || added) {
        w.cv.notify_all();
        if (w.on_ready) ready.push_back(*it);
      }
      it = ended ? watchers_.erase(it) : it + 1;
    }
    published_revision_ = revision;
  }
  for (auto& w : ready) w->on_ready();
}

void SqliteStore::Impl::end_all_watchers(const Error& why) {
  std::vector<std::shared_ptr<WatchState>> all;
  {
    std::lock_guard hub(hub_mu_);
    closed_ = true;
    all.swap(watchers_);
  }
  for (auto& w : all) {
    {
      std::lock_guard lk(w->mu);
      if (!w->end_error) w->end_error = why;
      w->synced = false;
    }
    w->cv.notify_all();
    if (w->on_ready) w->on_ready();
  }
}

void SqliteStore::Impl::watch_cancel(const std::shared_ptr<WatchState>& w) {
  {
    std::lock_guard hub(hub_mu_);
    std::erase(watchers_, w);
  }
  {
    std::lock_guard lk(w->mu);
    if (!w->end_error) w->end_error = Error(ErrorCode::kUnavailable, "watch " + w->prefix + " cancelled");
    w->synced = false;
    w->queue.clear();
  }
  w->cv.notify_all();
}

Result<std::vector<Event>> SqliteStore::Impl::replay_page(WatchState& w, int64_t target) {
  auto r = acquire_reader();
  ReadTxn txn(*r);
  KL_TRY(txn.begin());
  KL_ASSIGN_OR_RETURN(auto revs, txn.revisions());
  // Rows above the compacted revision are all kept, with their previous rows; below it
  // the history has holes, so a watcher that still needs it cannot continue.
  if (w.cursor < revs.second) return compacted_error(w.cursor, revs.second);
  target = std::min(target, revs.first);
  auto q = (w.end.empty() ? r->history_open : r->history).use();
  KL_TRY(q.bind(1, w.cursor));
  KL_TRY(q.bind(2, target));
  KL_TRY(q.bind_blob(3, w.prefix));
  KL_TRY(q.bind_blob(4, w.end));
  const int64_t page = static_cast<int64_t>(std::max<size_t>(1, opts_.replay_page_events));
  KL_TRY(q.bind(5, page));
  std::vector<Event> events;
  for (;;) {
    KL_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) break;
    Event e;
    const int64_t rev = q.column_int64(0);
    std::string key(q.column_bytes(1));
    const int64_t prev_rev = q.column_int64(5);
    if (prev_rev != 0 && !q.column_is_null(6)) {
      e.prev_kv = KeyValue{key, std::string(q.column_bytes(6)), q.column_int64(7), prev_rev};
    }
    if (q.column_int64(4) != 0) {
      e.type = Event::Type::kDelete;
      e.kv = KeyValue{std::move(key), {}, 0, rev};
    } else {
      e.type = Event::Type::kPut;
      e.kv = KeyValue{std::move(key), std::string(q.column_bytes(2)), q.column_int64(3), rev};
    }
    events.push_back(std::move(e));
  }
  // A short page means nothing else matches up to the target.
  w.cursor = static_cast<int64_t>(events.size()) < page ? target : events.back().revision();
  return events;
}

Result<WatchBatch> SqliteStore::Impl::watch_next(WatchState& w, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    {
      std::unique_lock lk(w.mu);
      if (w.synced || w.end_error) {
        w.cv.wait_until(lk, deadline, [&] { return !w.queue.empty() || w.end_error.has_value(); });
        if (!w.queue.empty()) {
          WatchBatch b;
          b.events.assign(std::make_move_iterator(w.queue.begin()),
                          std::make_move_iterator(w.queue.end()));
          w.queue.clear();
          w.cursor = b.events.back().revision();
          b.progress_revision = w.synced ? w.progress : w.cursor;
          return b;
        }
        if (w.end_error) return *w.end_error;
        return WatchBatch{{}, w.progress};
      }
    }
    // Unsynced: replay from the database up to what has been published.
    int64_t target;
    {
      std::lock_guard hub(hub_mu_);
      target = published_revision_;
      if (target <= w.cursor) {
        std::lock_guard lk(w.mu);
        if (!w.end_error) {
          w.synced = true;
          w.floor = w.cursor;
          w.progress = std::max(w.cursor, target);
        }
        continue;
      }
    }
    auto page = replay_page(w, target);
    if (!page.ok()) {
      std::lock_guard lk(w.mu);
      if (!w.end_error) w.end_error = std::move(page).error();
      continue;
    }
    if (!page->empty()) return WatchBatch{std::move(*page), w.cursor};
    if (std::chrono::steady_clock::now() >= deadline) return WatchBatch{{}, w.cursor};
  }
}

// ---------------------------------------------------------------------------------------
// SqliteStore.

SqliteStore::SqliteStore(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

SqliteStore::~SqliteStore() { impl_->stop(); }

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(SqliteStoreOptions options) {
  auto impl = std::make_shared<Impl>(std::move(options));
  KL_TRY(impl->start());
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

Result<std::optional<KeyValue>> SqliteStore::get(std::string_view key) { return impl_->get(key); }

Result<ListResult> SqliteStore::list(std::string_view prefix, const ListOptions& options) {
  return impl_->list(prefix, options);
}

Result<TxnResult> SqliteStore::create(std::string_view key, std::string_view value) {
  return impl_->submit(OpKind::kCreate, key, value, 0);
}

Result<TxnResult> SqliteStore::update(std::string_view key, std::string_view value,
                                      int64_t expected_mod_revision) {
  return impl_->submit(OpKind::kUpdate, key, value, expected_mod_revision);
}

Result<TxnResult> SqliteStore::remove(std::string_view key, int64_t expected_mod_revision) {
  return impl_->submit(OpKind::kRemove, key, {}, expected_mod_revision);
}

void SqliteStore::write_async(WriteRequest request, WriteCallback done) {
  impl_->submit_async(std::move(request), std::move(done));
}

Result<std::unique_ptr<Watcher>> SqliteStore::watch(std::string_view prefix,
                                                    int64_t after_revision, WatchOptions options) {
  return impl_->watch(prefix, after_revision, std::move(options));
}

Result<void> SqliteStore::compact(int64_t revision) {
  auto r = impl_->submit(OpKind::kCompact, {}, {}, revision);
  if (!r.ok()) return std::move(r).error();
  return Ok();
}

int64_t SqliteStore::current_revision() const { return impl_->current_revision.load(); }
int64_t SqliteStore::compacted_revision() const { return impl_->compacted_revision.load(); }
StoreStats SqliteStore::stats() const { return impl_->stats(); }
Result<void> SqliteStore::check_integrity() { return impl_->check_integrity(); }

}  // namespace kernlet::store
