// LogPump: one thread that moves every container's stdout/stderr into its CRI log file.
//
// Each stream is a non-blocking read end (normally a FIFO from fifo.h, any pipe works)
// registered with one epoll set. Bytes are cut into records by a LineSplitter per stream
// (containerd's rules) and appended to the container's RotatingLogFile. A stream ends at
// EOF, i.e. when the last writer (the container's last process) has closed it; its
// unterminated last line is then written as a partial record. When every stream of a
// container has ended, the container is "finished" (wait_finished) and its file closed.
//
// An agent restart loses nothing but the unterminated tail of a line it had read but not
// yet written (at most max_line bytes per stream): the container's bytes wait in the FIFO
// and the new pump reads them. stop() and the destructor write pending tails as partial
// records, so a clean shutdown loses nothing.
//
// All public methods are thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/result.h"
#include "runtime/logs/cri_format.h"
#include "runtime/logs/log_file.h"
#include "runtime/logs/unique_fd.h"

namespace kernlet::logs {

class LogPump {
 public:
  struct Options {
    std::size_t max_line = kMaxLineSize;
    RotationPolicy rotation = {};
    RotatingLogFile::Clock clock = std::chrono::system_clock::now;
  };

  // Starts the pump thread. Errors: epoll/eventfd creation.
  static Result<std::unique_ptr<LogPump>> start(Options options);
  static Result<std::unique_ptr<LogPump>> start() { return start(Options{}); }
  ~LogPump();

  LogPump(const LogPump&) = delete;
  LogPump& operator=(const LogPump&) = delete;

  // Pumps `stdout_fd` and `stderr_fd` (either may be invalid to leave that stream out; they
  // are made non-blocking) into `log_path` for the container `key`. The write side must
  // already be open (the container's FIFO end opened, or the container running): a stream
  // with no writer at this moment is taken as ended. Errors: a key already pumped
  // (kAlreadyExists), opening the log file, epoll_ctl.
  Result<void> add(const std::string& key, const std::string& log_path, UniqueFd stdout_fd,
                   UniqueFd stderr_fd);
  // add() with the read ends of the container's FIFOs (fifo_paths(state_dir)); what a
  // restarted agent calls for every container it re-adopts.
  Result<void> add_fifos(const std::string& key, const std::string& log_path, const std::string& state_dir);

  // Drains what is readable now, writes pending tails as partial records, closes the
  // streams and the file, and forgets `key`. For a container known to be gone (a FIFO
  // opened after its last writer left never reports EOF) and for delete.
  void remove(const std::string& key);

  // Waits until every stream of `key` has reached EOF and been written, or until
  // `timeout`. True when finished (also for a key that was never added or was removed).
  bool wait_finished(const std::string& key, std::chrono::milliseconds timeout);

  // Closes and reopens the log file of `key` (CRI ReopenContainerLog).
  Result<void> reopen(const std::string& key);

  // Writes pending tails and stops the thread; streams stay registered but unread.
  void stop();

  struct Stats {
    uint64_t bytes_read = 0;
    uint64_t records_written = 0;
    uint64_t write_errors = 0;  // records dropped because the log file could not be written
  };
  Stats stats() const;

 private:
  struct StreamState;
  struct ContainerState;

  explicit LogPump(Options options);
  void run();
  // Reads what `id` has (bounded), writes records; returns false at EOF/error. Needs mu_.
  bool pump_stream(uint64_t id, bool drain_all);
  void end_stream(uint64_t id);
  void write_records(ContainerState& c, const std::string& records);
  void emit(ContainerState& c, Stream s, std::string_view content, bool partial, std::string& out);

  Options options_;
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: stop
  std::thread thread_;
  bool stopped_ = false;

  mutable std::mutex mu_;
  std::condition_variable finished_cv_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::unique_ptr<StreamState>> streams_;
  std::map<std::string, std::unique_ptr<ContainerState>> containers_;
  Stats stats_;
};

}  // namespace kernlet::logs
