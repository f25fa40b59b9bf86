// kernlet-bench-unpack: time to unpack one ~100 MB image layer, kernlet's unpacker
// (libarchive reading + openat2-confined writes + diff_id hash) side by side with GNU tar
// extracting the same file in the same run: both without syncing, and both durable (kernlet
// with its syncfs, tar followed by `sync -f`), which is what the image store does.
//
//   kernlet-bench-unpack [DIR [RUNS [MEGABYTES]]]     (defaults: /var/tmp 3 100)
//
// Prints one JSON document. Needs root for ownership like the real store (runs without, too).
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "runtime/images/fs.h"
#include "runtime/images/layer_unpack.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
namespace ki = kernlet::images;

struct Layer {
  uint64_t bytes = 0;  // file content
  int files = 0;
  int dirs = 0;
};

// Writes a layer tar (and a gzip copy) of ~`megabytes` MB: 80% small files (1–16 KiB),
// 18% medium (16–256 KiB), 2% large (1–8 MiB), in a tree 3 levels deep; content is half
// random, half repeated text, so gzip has real work and gets a realistic ratio.
Layer generate(const std::string& path, const std::string& filter, uint64_t megabytes) {
  std::mt19937_64 rng(42);
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (filter == "gzip") archive_write_add_filter_gzip(a);
  archive_write_open_filename(a, path.c_str());
  Layer l;
  std::vector<char> buf(8 << 20);
  const std::string text = "the quick brown fox jumps over the lazy dog; kernlet unpacks layers. ";
  for (size_t i = 0; i < buf.size(); ++i)
    buf[i] = (i / 4096) % 2 == 0 ? static_cast<char>(rng()) : text[i % text.size()];
  auto add = [&](const std::string& name, mode_t type, size_t size) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(size));
    archive_entry_set_mtime(e, 1700000000, 0);
    archive_write_header(a, e);
    if (size > 0) archive_write_data(a, buf.data() + (rng() % (buf.size() - size + 1)), size);
    archive_entry_free(e);
  };
  std::uniform_int_distribution<int> pick(0, 99);
  int n = 0;
  for (int d1 = 0; l.bytes < megabytes << 20; ++d1) {
    std::string p1 = "usr/share/pkg" + std::to_string(d1);
    add(p1, AE_IFDIR, 0);
    ++l.dirs;
    for (int d2 = 0; d2 < 8 && l.bytes < megabytes << 20; ++d2) {
      std::string p2 = p1 + "/sub" + std::to_string(d2);
      add(p2, AE_IFDIR, 0);
      ++l.dirs;
      for (int f = 0; f < 16 && l.bytes < megabytes << 20; ++f) {
        int r = pick(rng);
        size_t size = r < 80   ? 1024 + rng() % (15 << 10)
                      : r < 98 ? (16 << 10) + rng() % (240 << 10)
                               : (1 << 20) + rng() % (7 << 20);
        add(p2 + "/file" + std::to_string(n++), AE_IFREG, size);
        l.bytes += size;
        ++l.files;
      }
    }
  }
  archive_write_close(a);
  archive_write_free(a);
  return l;
}

int run(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// CPU time (user + system) in ms of this process or of its waited-for children: a figure
// that, unlike wall time, barely moves when other work shares the machine.
double cpu_ms(int who) {
  rusage ru{};
  getrusage(who, &ru);
  auto ms = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
  };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

void fresh(const std::string& dir) {
  run({"rm", "-rf", dir});
  mkdir(dir.c_str(), 0755);
  sync();  // start every timed run from clean page cache writeback
}

struct Stats {
  double median = 0, min = 0;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front()};
}

}  // namespace

int main(int argc, char** argv) {
  // --help answers instead of running the benchmark (the arguments are positional).
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "-h" || std::string_view(argv[i]) == "--help") {
      std::fputs("Usage: kernlet-bench-unpack [DIR [RUNS [MEGABYTES]]]\n  (defaults: /var/tmp 3 100); prints one JSON document.\n", stdout);
      return 0;
    }
  }
  std::string base = argc > 1 ? argv[1] : "/var/tmp";
  int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  uint64_t mb = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 100;
  std::string work = base + "/kl-bench-unpack-" + std::to_string(getpid());
  mkdir(work.c_str(), 0700);
  std::string out = work + "/out";

  std::string json = "{\"benchmark\":\"layer_unpack\",\"runs\":" + std::to_string(runs) +
                     ",\"root\":" + (geteuid() == 0 ? "true" : "false") + ",\"peer\":\"GNU tar -x\",\"results\":[";
  bool first = true;
  for (std::string filter : {"none", "gzip"}) {
    std::string layer = work + (filter == "gzip" ? "/layer.tar.gz" : "/layer.tar");
    Layer l = generate(layer, filter, mb);
    struct stat st;
    stat(layer.c_str(), &st);
    std::vector<double> ours, ours_nosync, tar, tar_sync, ours_cpu, tar_cpu;
    for (int i = 0; i < runs; ++i) {
      for (bool sync_fs : {false, true}) {
        fresh(out);
        int fd = open(layer.c_str(), O_RDONLY | O_CLOEXEC);
        auto dir = ki::open_dir(out);
        if (fd < 0 || !dir.ok()) return 1;
        ki::UnpackOptions opts;
        opts.preserve_ownership = geteuid() == 0;
        opts.sync = sync_fs;
        auto t0 = Clock::now();
        double c0 = cpu_ms(RUSAGE_SELF);
        auto r = ki::unpack_layer(fd, dir->get(), {}, opts);
        (sync_fs ? ours : ours_nosync).push_back(ms_since(t0));
        if (!sync_fs) ours_cpu.push_back(cpu_ms(RUSAGE_SELF) - c0);
        close(fd);
        if (!r.ok()) {
          std::fprintf(stderr, "unpack: %s\n", r.error().to_string().c_str());
          return 1;
        }
      }
      std::vector<std::string> tar_argv = {"tar", filter == "gzip" ? "-xzf" : "-xf", layer, "-C", out};
      fresh(out);
      auto t0 = Clock::now();
      double c0 = cpu_ms(RUSAGE_CHILDREN);
      if (run(tar_argv) != 0) return 1;
      tar.push_back(ms_since(t0));
      tar_cpu.push_back(cpu_ms(RUSAGE_CHILDREN) - c0);
      fresh(out);
      t0 = Clock::now();
      if (run(tar_argv) != 0 || run({"sync", "-f", out}) != 0) return 1;
      tar_sync.push_back(ms_since(t0));
    }
    Stats o = stats(ours), on = stats(ours_nosync), t = stats(tar), ts = stats(tar_sync);
    Stats oc = stats(ours_cpu), tc = stats(tar_cpu);
    char item[2048];
    std::snprintf(item, sizeof item,
                  "%s{\"compression\":\"%s\",\"layer_file_bytes\":%lld,\"content_bytes\":%llu,\"files\":%d,"
                  "\"dirs\":%d,\"kernlet_nosync_ms\":{\"median\":%.1f,\"min\":%.1f},"
                  "\"tar_ms\":{\"median\":%.1f,\"min\":%.1f},"
                  "\"kernlet_syncfs_ms\":{\"median\":%.1f,\"min\":%.1f},"
                  "\"tar_then_sync_ms\":{\"median\":%.1f,\"min\":%.1f},"
                  "\"kernlet_cpu_ms\":{\"median\":%.1f,\"min\":%.1f},\"tar_cpu_ms\":{\"median\":%.1f,\"min\":%.1f},"
                  "\"ratio_nosync\":%.2f,\"ratio_durable\":%.2f,\"ratio_cpu\":%.2f}",
                  first ? "" : ",", filter.c_str(), static_cast<long long>(st.st_size),
                  static_cast<unsigned long long>(l.bytes), l.files, l.dirs, on.median, on.min, t.median, t.min,
                  o.median, o.min, ts.median, ts.min, oc.median, oc.min, tc.median, tc.min, on.median / t.median,
                  o.median / ts.median, oc.median / tc.median);
    json += item;
    first = false;
  }
  json += "]}";
  run({"rm", "-rf", work});
  std::printf("%s\n", json.c_str());
  return 0;
}
