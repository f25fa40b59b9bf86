// A temporary directory removed with everything in it at scope exit (unit tests).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace kernlet::csi::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/kl-csi-volume-test.XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_all(const std::string& path, const std::string& data) {
  std::ofstream out(path);
  out << data;
}

}  // namespace kernlet::csi::testing
