// Test helper: writes tar streams byte by byte (ustar headers, pax records for xattrs), so
// tests can craft entries no well-behaved tar tool would write: "../" names, absolute names,
// empty names, links to host files. compress() wraps a stream in gzip or zstd.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

namespace kernlet::images::testing {

class TarBuilder {
 public:
  TarBuilder& file(const std::string& name, const std::string& data, unsigned mode = 0644, unsigned uid = 0,
                   unsigned gid = 0, const std::map<std::string, std::string>& xattrs = {}) {
    if (!xattrs.empty()) pax(name, xattrs);
    header(name, '0', data.size(), mode, uid, gid, "");
    body(data);
    return *this;
  }
  TarBuilder& dir(const std::string& name, unsigned mode = 0755, unsigned uid = 0, unsigned gid = 0) {
    header(name, '5', 0, mode, uid, gid, "");
    return *this;
  }
  TarBuilder& symlink(const std::string& name, const std::string& target) {
    header(name, '2', 0, 0777, 0, 0, target);
    return *this;
  }
  TarBuilder& hardlink(const std::string& name, const std::string& target) {
    header(name, '1', 0, 0644, 0, 0, target);
    return *this;
  }
  TarBuilder& chardev(const std::string& name, unsigned major, unsigned minor, unsigned mode = 0666) {
    header(name, '3', 0, mode, 0, 0, "", major, minor);
    return *this;
  }
  TarBuilder& fifo(const std::string& name) {
    header(name, '6', 0, 0644, 0, 0, "");
    return *this;
  }
  // Two zero blocks end the archive.
  std::string finish() {
    out_.append(1024, '\0');
    return out_;
  }

 private:
  // width-1 octal digits, zero-padded, then NUL.
  static void octal(char* field, size_t width, unsigned long v) {
    for (size_t i = width - 1; i-- > 0; v >>= 3) field[i] = static_cast<char>('0' + (v & 7));
    field[width - 1] = '\0';
  }
  void header(const std::string& name, char type, size_t size, unsigned mode, unsigned uid, unsigned gid,
              const std::string& link, unsigned major = 0, unsigned minor = 0) {
    char h[512] = {};
    if (name.size() > 100 || link.size() > 100) throw std::invalid_argument("name too long for TarBuilder");
    std::memcpy(h, name.data(), name.size());
    octal(h + 100, 8, mode);
    octal(h + 108, 8, uid);
    octal(h + 116, 8, gid);
    octal(h + 124, 12, size);
    octal(h + 136, 12, 1700000000);
    h[156] = type;
    std::memcpy(h + 157, link.data(), link.size());
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    octal(h + 329, 8, major);
    octal(h + 337, 8, minor);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    octal(h + 148, 7, sum);
    h[155] = ' ';
    out_.append(h, 512);
  }
  void body(const std::string& data) {
    out_ += data;
    out_.append((512 - data.size() % 512) % 512, '\0');
  }
  // A pax extended header carrying SCHILY.xattr.* records for the next entry.
  void pax(const std::string& name, const std::map<std::string, std::string>& xattrs) {
    std::string records;
    for (const auto& [k, v] : xattrs) {
      std::string rec = " SCHILY.xattr." + k + "=" + v + "\n";
      size_t len = rec.size();
      for (;;) {
        size_t total = std::to_string(len).size() + rec.size();
        if (total == len) break;
        len = total;
      }
      records += std::to_string(len) + rec;
    }
    header("PaxHeaders/" + name.substr(0, 80), 'x', records.size(), 0644, 0, 0, "");
    body(records);
  }
  std::string out_;
};

// Compresses `data` with libarchive's "raw" writer: "gzip", "zstd" or "none".
inline std::string compress(const std::string& data, const std::string& filter) {
  if (filter == "none") return data;
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  if (filter == "gzip") archive_write_add_filter_gzip(a);
  if (filter == "zstd") archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(
      a, &out, nullptr,
      [](archive*, void* ctx, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(ctx)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "layer");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
  archive_write_header(a, e);
  archive_write_data(a, data.data(), data.size());
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

}  // namespace kernlet::images::testing
