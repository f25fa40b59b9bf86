// Test helper: a unique temp directory (pid and a random suffix in its name), removed with
// everything in it when the test ends, pass or fail.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "runtime/images/fs.h"

namespace kernlet::images::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& tag = "kl-images") {
    std::string tmpl = "/tmp/" + tag + "-" + std::to_string(::getpid()) + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    auto slash = path_.rfind('/');
    int parent = ::open(path_.substr(0, slash).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent >= 0) {
      (void)remove_tree_at(parent, path_.substr(slash + 1));
      ::close(parent);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

}  // namespace kernlet::images::testing
