#include "runtime/logs/log_pump.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "runtime/logs/fifo.h"

namespace kernlet::logs {

struct LogPump::StreamState {
  std::string key;
  Stream stream;
  UniqueFd fd;
  LineSplitter splitter;
  std::map<uint64_t, UniqueFd> subscribers;  // subscription id → the pump's socket end
};

struct LogPump::ContainerState {
  std::optional<RotatingLogFile> file;
  std::vector<uint64_t> streams;
  std::map<uint64_t, UniqueFd> finished_subscribers;  // closed when the last stream ends
  bool finished = false;
  bool reported_error = false;
};

namespace {
constexpr uint64_t kWakeId = 0;
// Per wake-up and stream: enough to empty a 1 MiB FIFO in a few rounds without letting one
// chatty container starve the others.
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr int kChunksPerEvent = 4;
// A full drain (hang-up, remove, add) still stops somewhere: a writer that keeps writing
// must not hold the pump (and its lock) forever. Twice the FIFO buffer.
constexpr int kChunksPerDrain = 32;
}  // namespace

Result<std::unique_ptr<LogPump>> LogPump::start(Options options) {
  std::unique_ptr<LogPump> p(new LogPump(std::move(options)));
  p->epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!p->epoll_.valid()) return Error::from_errno("epoll_create1 for the log pump");
  p->wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!p->wake_.valid()) return Error::from_errno("eventfd for the log pump");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeId;
  if (::epoll_ctl(p->epoll_.get(), EPOLL_CTL_ADD, p->wake_.get(), &ev) != 0) {
    return Error::from_errno("epoll_ctl add eventfd");
  }
  p->thread_ = std::thread([raw = p.get()] { raw->run(); });
  return p;
}

LogPump::LogPump(Options options) : options_(std::move(options)) {}

LogPump::~LogPump() {
  stop();
}

void LogPump::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, s] : streams_) {
    ContainerState& c = *containers_.at(s->key);
    std::string out;
    s->splitter.finish([&](std::string_view content, bool partial) { emit(c, s->stream, content, partial, out); });
    write_records(c, out);
  }
}

void LogPump::emit(ContainerState& c, Stream s, std::string_view content, bool partial, std::string& out) {
  (void)c;
  append_record(out, options_.clock(), s, partial, content);
  ++stats_.records_written;
}

void LogPump::write_records(ContainerState& c, const std::string& records) {
  if (records.empty() || !c.file) return;
  Result<void> r = c.file->write(records);
  if (!r.ok()) {
    ++stats_.write_errors;
    // One line per container, not per record: a full disk must not flood the journal.
    if (!c.reported_error) {
      std::fprintf(stderr, "warning logs: %s (dropping records until it works again)\n", r.error().to_string().c_str());
      c.reported_error = true;
    }
  } else {
    c.reported_error = false;
  }
}

Result<void> LogPump::add(const std::string& key, const std::string& log_path, UniqueFd stdout_fd,
                          UniqueFd stderr_fd) {
  KL_ASSIGN_OR_RETURN(RotatingLogFile file, RotatingLogFile::open(log_path, options_.rotation, options_.clock));
  std::lock_guard<std::mutex> lock(mu_);
  if (containers_.count(key) != 0) {
    return Error(ErrorCode::kAlreadyExists, "log pump: container " + key + " is already pumped");
  }
  auto c = std::make_unique<ContainerState>();
  c->file.emplace(std::move(file));
  ContainerState& cref = *c;
  containers_.emplace(key, std::move(c));
  std::vector<uint64_t> added;
  auto fail = [&](Error e) {
    for (uint64_t id : added) {
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, streams_[id]->fd.get(), nullptr);
      streams_.erase(id);
    }
    containers_.erase(key);
    return e;
  };
  for (auto [stream, fd] : {std::pair{Stream::kStdout, &stdout_fd}, std::pair{Stream::kStderr, &stderr_fd}}) {
    if (!fd->valid()) continue;
    int flags = ::fcntl(fd->get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd->get(), F_SETFL, flags | O_NONBLOCK) != 0) {
      return fail(Error::from_errno("log pump: make " + std::string(stream_name(stream)) + " of " + key + " non-blocking"));
    }
    uint64_t id = next_id_++;
    auto s = std::make_unique<StreamState>(StreamState{key, stream, std::move(*fd), LineSplitter(options_.max_line), {}});
    epoll_event ev{};
    ev.events = EPOLLIN;  // EPOLLHUP/EPOLLERR are always reported
    ev.data.u64 = id;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, s->fd.get(), &ev) != 0) {
      return fail(Error::from_errno("log pump: epoll_ctl add " + std::string(stream_name(stream)) + " of " + key));
    }
    streams_.emplace(id, std::move(s));
    cref.streams.push_back(id);
    added.push_back(id);
  }
  if (cref.streams.empty()) {
    cref.finished = true;
    cref.file.reset();
  }
  // A FIFO whose writers left before we opened it never reports EOF through epoll (the
  // kernel only signals a hang-up to readers that saw a writer), so look once now: read
  // returning 0 means nobody holds a write end any more.
  for (uint64_t id : added) {
    if (!pump_stream(id, true)) end_stream(id);
  }
  return Ok();
}

Result<void> LogPump::add_fifos(const std::string& key, const std::string& log_path, const std::string& state_dir) {
  StreamFifos f = fifo_paths(state_dir);
  KL_ASSIGN_OR_RETURN(UniqueFd out, open_fifo_for_pump(f.stdout_path));
  KL_ASSIGN_OR_RETURN(UniqueFd err, open_fifo_for_pump(f.stderr_path));
  return add(key, log_path, std::move(out), std::move(err));
}

bool LogPump::pump_stream(uint64_t id, bool drain_all) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return true;
  StreamState& s = *it->second;
  ContainerState& c = *containers_.at(s.key);
  char buf[kReadChunk];
  std::string out;
  bool alive = true;
  const int rounds = drain_all ? kChunksPerDrain : kChunksPerEvent;
  for (int round = 0; round < rounds; ++round) {
    ssize_t n = ::read(s.fd.get(), buf, sizeof buf);
    if (n > 0) {
      stats_.bytes_read += static_cast<uint64_t>(n);
      for (auto sub = s.subscribers.begin(); sub != s.subscribers.end();) {
        ssize_t sent = ::send(sub->second.get(), buf, static_cast<std::size_t>(n), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent == n) {
          ++sub;
          continue;
        }
        ++stats_.subscriber_drops;
        if (sent < 0 && errno != EAGAIN && errno != EINTR) {
          sub = s.subscribers.erase(sub);  // the subscriber closed its end
        } else {
          ++sub;
        }
      }
      s.splitter.feed(std::string_view(buf, static_cast<std::size_t>(n)),
                      [&](std::string_view content, bool partial) { emit(c, s.stream, content, partial, out); });
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    alive = false;  // EOF: no writer left; or a read error
    break;
  }
  write_records(c, out);
  return alive;
}

void LogPump::end_stream(uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  StreamState& s = *it->second;
  ContainerState& c = *containers_.at(s.key);
  std::string out;
  s.splitter.finish([&](std::string_view content, bool partial) { emit(c, s.stream, content, partial, out); });
  write_records(c, out);
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, s.fd.get(), nullptr);
  std::erase(c.streams, id);
  streams_.erase(it);  // closes its subscribers' sockets: they read EOF after the last bytes
  if (c.streams.empty()) {
    c.finished = true;
    c.file.reset();
    c.finished_subscribers.clear();
    finished_cv_.notify_all();
  }
}

void LogPump::run() {
  epoll_event events[64];
  for (;;) {
    int n = ::epoll_wait(epoll_.get(), events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "error logs: epoll_wait: %s; the log pump stops\n", strerrorname_np(errno));
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    for (int i = 0; i < n; ++i) {
      uint64_t id = events[i].data.u64;
      if (id == kWakeId) continue;
      bool hup = (events[i].events & (EPOLLHUP | EPOLLERR)) != 0;
      // On hang-up, drain everything before ending the stream.
      bool alive = pump_stream(id, hup);
      if (!alive || hup) end_stream(id);
    }
  }
}

void LogPump::remove(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(key);
  if (it == containers_.end()) return;
  std::vector<uint64_t> ids = it->second->streams;
  for (uint64_t id : ids) {
    pump_stream(id, true);
    end_stream(id);
  }
  containers_.erase(key);
  finished_cv_.notify_all();
}

Result<LogPump::Subscription> LogPump::subscribe(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(key);
  if (it == containers_.end()) return Error(ErrorCode::kNotFound, "log pump: container " + key + " is not pumped");
  ContainerState& c = *it->second;
  if (c.finished) return Error(ErrorCode::kConflict, "log pump: container " + key + " has finished");
  auto pair = [&](std::string_view what, UniqueFd& ours, UniqueFd& theirs) -> Result<void> {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) {
      return Error::from_errno("log pump: socketpair for a subscriber to the " + std::string(what) + " of " + key);
    }
    ::shutdown(sv[0], SHUT_RD);  // the pump only writes
    ::shutdown(sv[1], SHUT_WR);  // the subscriber only reads
    ours.reset(sv[0]);
    theirs.reset(sv[1]);
    return Ok();
  };
  Subscription sub;
  sub.id = next_subscription_++;
  UniqueFd finished_ours;
  KL_TRY(pair("end", finished_ours, sub.finished));
  std::vector<std::pair<StreamState*, UniqueFd>> ends;
  for (uint64_t sid : c.streams) {
    StreamState& st = *streams_.at(sid);
    UniqueFd ours;
    UniqueFd& theirs = st.stream == Stream::kStdout ? sub.stdout_fd : sub.stderr_fd;
    KL_TRY(pair(stream_name(st.stream), ours, theirs));
    ends.emplace_back(&st, std::move(ours));
  }
  for (auto& [st, fd] : ends) st->subscribers.emplace(sub.id, std::move(fd));
  c.finished_subscribers.emplace(sub.id, std::move(finished_ours));
  return sub;
}

void LogPump::unsubscribe(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [sid, st] : streams_) st->subscribers.erase(id);
  for (auto& [key, c] : containers_) c->finished_subscribers.erase(id);
}

bool LogPump::wait_finished(const std::string& key, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return finished_cv_.wait_for(lock, timeout, [&] {
    auto it = containers_.find(key);
    return it == containers_.end() || it->second->finished;
  });
}

Result<void> LogPump::reopen(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(key);
  if (it == containers_.end()) return Error(ErrorCode::kNotFound, "log pump: container " + key + " is not pumped");
  if (!it->second->file) return Error(ErrorCode::kConflict, "log pump: container " + key + " has finished");
  return it->second->file->reopen();
}

LogPump::Stats LogPump::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace kernlet::logs
