// LogPump: one thread that moves every container's stdout/stderr into its CRI log file.
//
// Each stream is a non-blocking read end (normally a FIFO from fifo.h, any pipe works)
// registered with one epoll set. Bytes are cut into records by a LineSplitter per stream
// (containerd's rules) and appended to the container's RotatingLogFile. A stream ends at
// EOF, i.e. when the last writer (the container's last process) has closed it; its
// unterminated last line is then written as a partial record. When every stream of a
// container has ended, the container is "finished" (wait_finished) and its file closed.
//
// Live output (attach): subscribe() hands out the read ends of stream sockets to which
// the pump copies every byte it reads from the container's streams, as the container wrote
// them, before cutting them into records. The pump never waits for a subscriber: it sends
// with MSG_DONTWAIT, and what does not fit in a slow subscriber's socket buffer is lost to
// that subscriber (the log file has it). A subscription's sockets are closed by the pump
// when its stream ends (after the last bytes), so a subscriber sees the container's end as
// EOF, in order after its output.
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

  // A subscription to the live output of one container: the read ends (non-blocking,
  // close-on-exec) of stream sockets that get the raw bytes of stdout and of stderr from
  // now on (invalid for a stream the container does not have or that has ended), and
  // `finished`, which reads EOF once every stream of the container has ended and its bytes
  // have been sent. Ends with unsubscribe(id) or with the container.
  struct Subscription {
    uint64_t id = 0;
    UniqueFd stdout_fd;
    UniqueFd stderr_fd;
    UniqueFd finished;
  };
  // Errors: kNotFound for a key not pumped, kConflict for a container whose streams have
  // all ended, socketpair().
  Result<Subscription> subscribe(const std::string& key);
  // Stops copying to subscription `id` and closes the pump's ends of its sockets. An id
  // that has ended already is fine.
  void unsubscribe(uint64_t id);

  // Writes pending tails and stops the thread; streams stay registered but unread.
  void stop();

  struct Stats {
    uint64_t bytes_read = 0;
    uint64_t records_written = 0;
    uint64_t write_errors = 0;  // records dropped because the log file could not be written
    uint64_t subscriber_drops = 0;  // sends to a subscriber that did not fit (or failed)
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
  uint64_t next_subscription_ = 1;
  std::map<uint64_t, std::unique_ptr<StreamState>> streams_;
  std::map<std::string, std::unique_ptr<ContainerState>> containers_;
  Stats stats_;
};

}  // namespace kernlet::logs
