#include "control/apiserver/pki.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/beast/core/detail/base64.hpp>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

namespace kernlet::apiserver {
namespace {

namespace fs = std::filesystem;

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free>;
using Cert = std::unique_ptr<X509, Free>;
using Bio = std::unique_ptr<BIO, Free>;

Error ssl_error(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown OpenSSL error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return Error(ErrorCode::kInternal, what + ": " + buf);
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

Result<std::string> key_pem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return ssl_error("encode private key");
  }
  return bio_string(bio.get());
}

Result<std::string> cert_pem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) return ssl_error("encode certificate");
  return bio_string(bio.get());
}

Result<Key> parse_key(const std::string& pem, const std::string& what) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return ssl_error("parse " + what);
  return key;
}

Result<Cert> parse_cert(const std::string& pem, const std::string& what) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return ssl_error("parse " + what);
  return cert;
}

Result<void> add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return ssl_error("certificate extension " + value);
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (!ok) return ssl_error("add certificate extension " + value);
  return Ok();
}

enum class Usage { kCa, kServer, kClient };

struct Subject {
  std::string cn;
  std::vector<std::string> orgs;
};

// Creates a key and a certificate for `subject`, signed by `issuer` (self-signed if null).
Result<CertKey> make_cert(const Subject& subject, Usage usage, int days, X509* issuer_cert,
                          EVP_PKEY* issuer_key, const std::vector<std::string>& dns,
                          const std::vector<std::string>& ips) {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return ssl_error("generate P-256 key");
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return ssl_error("random serial");
  serial[0] &= 0x7f;  // positive
  std::unique_ptr<BIGNUM, Free> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // tolerate a little clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& o : subject.orgs) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(subject.cn.c_str()), -1, -1, 0);
  X509* issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer));
  X509_set_pubkey(cert.get(), key.get());
  switch (usage) {
    case Usage::kCa:
      KL_TRY(add_ext(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE"));
      KL_TRY(add_ext(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"));
      break;
    case Usage::kServer:
      KL_TRY(add_ext(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE"));
      KL_TRY(add_ext(cert.get(), issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
      KL_TRY(add_ext(cert.get(), issuer, NID_ext_key_usage, "serverAuth"));
      break;
    case Usage::kClient:
      KL_TRY(add_ext(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE"));
      KL_TRY(add_ext(cert.get(), issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
      KL_TRY(add_ext(cert.get(), issuer, NID_ext_key_usage, "clientAuth"));
      break;
  }
  KL_TRY(add_ext(cert.get(), issuer, NID_subject_key_identifier, "hash"));
  if (issuer_cert != nullptr) KL_TRY(add_ext(cert.get(), issuer, NID_authority_key_identifier, "keyid:always"));
  if (!dns.empty() || !ips.empty()) {
    std::string san;
    for (const auto& d : dns) san += (san.empty() ? "DNS:" : ",DNS:") + d;
    for (const auto& ip : ips) san += (san.empty() ? "IP:" : ",IP:") + ip;
    KL_TRY(add_ext(cert.get(), issuer, NID_subject_alt_name, san));
  }
  EVP_PKEY* signer = issuer_key != nullptr ? issuer_key : key.get();
  if (X509_sign(cert.get(), signer, EVP_sha256()) == 0) return ssl_error("sign certificate for " + subject.cn);
  CertKey out;
  KL_ASSIGN_OR_RETURN(out.cert_pem, cert_pem(cert.get()));
  KL_ASSIGN_OR_RETURN(out.key_pem, key_pem(key.get()));
  return out;
}

Result<std::optional<CertKey>> load_pair(const fs::path& dir, const std::string& base) {
  fs::path crt = dir / (base + ".crt");
  fs::path key = dir / (base + ".key");
  std::error_code ec;
  bool have_crt = fs::exists(crt, ec);
  bool have_key = fs::exists(key, ec);
  if (!have_crt && !have_key) return std::optional<CertKey>();
  if (have_crt != have_key) {
    return Error(ErrorCode::kInvalidArgument,
                 "pki " + dir.string() + ": " + (have_crt ? key : crt).string() +
                     " is missing while its pair exists; remove both to regenerate");
  }
  auto slurp = [](const fs::path& p) -> Result<std::string> {
    std::ifstream in(p, std::ios::binary);
    if (!in) return Error::from_errno("read " + p.string());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  CertKey ck;
  KL_ASSIGN_OR_RETURN(ck.cert_pem, slurp(crt));
  KL_ASSIGN_OR_RETURN(ck.key_pem, slurp(key));
  KL_ASSIGN_OR_RETURN(Cert c, parse_cert(ck.cert_pem, crt.string()));
  KL_ASSIGN_OR_RETURN(Key k, parse_key(ck.key_pem, key.string()));
  if (X509_check_private_key(c.get(), k.get()) != 1) {
    ERR_clear_error();
    return Error(ErrorCode::kInvalidArgument, "pki: " + key.string() + " does not match " + crt.string());
  }
  return std::optional<CertKey>(std::move(ck));
}

Result<void> save_pair(const fs::path& dir, const std::string& base, const CertKey& ck) {
  // Key first: a crash between the two leaves a key without a certificate, which
  // load_pair reports instead of pairing a new certificate with an old key.
  KL_TRY(write_file_atomic(dir / (base + ".key"), ck.key_pem, 0600));
  return write_file_atomic(dir / (base + ".crt"), ck.cert_pem, 0644);
}

// True when `cert` names every DNS name and IP and is valid for 30 more days.
bool serving_cert_fits(const CertKey& ck, const PkiOptions& opt) {
  auto cert = parse_cert(ck.cert_pem, "serving certificate");
  if (!cert.ok()) return false;
  if (X509_cmp_time(X509_get0_notAfter(cert->get()), nullptr) <= 0) return false;
  time_t soon = time(nullptr) + 30 * 86400;
  if (X509_cmp_time(X509_get0_notAfter(cert->get()), &soon) <= 0) return false;
  for (const auto& d : opt.dns_names) {
    if (X509_check_host(cert->get(), d.c_str(), d.size(), 0, nullptr) != 1) return false;
  }
  for (const auto& ip : opt.ip_addresses) {
    if (X509_check_ip_asc(cert->get(), ip.c_str(), 0) != 1) return false;
  }
  return true;
}

std::string base64(const std::string& s) {
  namespace b64 = boost::beast::detail::base64;
  std::string out(b64::encoded_size(s.size()), '\0');
  out.resize(b64::encode(out.data(), s.data(), s.size()));
  return out;
}

}  // namespace

Result<void> write_file_atomic(const fs::path& path, const std::string& content, int mode) {
  std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Error::from_errno("create " + tmp);
  std::size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = Error::from_errno("write " + tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0 || ::fsync(fd) != 0) {
    Error e = Error::from_errno("sync " + tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = Error::from_errno("rename " + tmp + " to " + path.string());
    ::unlink(tmp.c_str());
    return e;
  }
  // The rename is durable only once the directory entry is.
  int dfd = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Ok();
}

Result<Pki> ensure_pki(const fs::path& dir, const PkiOptions& options) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error("create " + dir.string(), ec.value());
  Pki pki;
  KL_ASSIGN_OR_RETURN(auto ca, load_pair(dir, "ca"));
  bool new_ca = !ca.has_value();
  if (new_ca) {
    KL_ASSIGN_OR_RETURN(pki.ca, make_cert({"kernlet-ca", {}}, Usage::kCa, options.ca_days, nullptr, nullptr, {}, {}));
    KL_TRY(save_pair(dir, "ca", pki.ca));
  } else {
    pki.ca = std::move(*ca);
  }
  KL_ASSIGN_OR_RETURN(Cert ca_cert, parse_cert(pki.ca.cert_pem, "ca.crt"));
  KL_ASSIGN_OR_RETURN(Key ca_key, parse_key(pki.ca.key_pem, "ca.key"));

  KL_ASSIGN_OR_RETURN(auto serving, load_pair(dir, "apiserver"));
  if (new_ca || !serving || !serving_cert_fits(*serving, options)) {
    KL_ASSIGN_OR_RETURN(pki.serving, make_cert({"kernlet-apiserver", {}}, Usage::kServer, options.leaf_days,
                                               ca_cert.get(), ca_key.get(), options.dns_names,
                                               options.ip_addresses));
    KL_TRY(save_pair(dir, "apiserver", pki.serving));
  } else {
    pki.serving = std::move(*serving);
  }

  KL_ASSIGN_OR_RETURN(auto kubelet_client, load_pair(dir, "apiserver-kubelet-client"));
  if (new_ca || !kubelet_client) {
    KL_ASSIGN_OR_RETURN(pki.kubelet_client, issue_client_certificate(pki.ca, "kube-apiserver-kubelet-client",
                                                                     {"system:masters"}, options.leaf_days));
    KL_TRY(save_pair(dir, "apiserver-kubelet-client", pki.kubelet_client));
  } else {
    pki.kubelet_client = std::move(*kubelet_client);
  }

  KL_ASSIGN_OR_RETURN(auto admin, load_pair(dir, "admin"));
  if (new_ca || !admin) {
    KL_ASSIGN_OR_RETURN(pki.admin, issue_client_certificate(pki.ca, "kernlet-admin", {"system:masters"},
                                                            options.leaf_days));
    KL_TRY(save_pair(dir, "admin", pki.admin));
  } else {
    pki.admin = std::move(*admin);
  }
  return pki;
}

Result<CertKey> issue_client_certificate(const CertKey& ca, const std::string& cn,
                                         const std::vector<std::string>& groups, int days) {
  KL_ASSIGN_OR_RETURN(Cert ca_cert, parse_cert(ca.cert_pem, "CA certificate"));
  KL_ASSIGN_OR_RETURN(Key ca_key, parse_key(ca.key_pem, "CA key"));
  return make_cert({cn, groups}, Usage::kClient, days, ca_cert.get(), ca_key.get(), {}, {});
}

Result<CertKey> issue_serving_certificate(const CertKey& ca, const std::string& cn,
                                          const std::vector<std::string>& groups,
                                          const std::vector<std::string>& dns_names,
                                          const std::vector<std::string>& ip_addresses, int days) {
  KL_ASSIGN_OR_RETURN(Cert ca_cert, parse_cert(ca.cert_pem, "CA certificate"));
  KL_ASSIGN_OR_RETURN(Key ca_key, parse_key(ca.key_pem, "CA key"));
  return make_cert({cn, groups}, Usage::kServer, days, ca_cert.get(), ca_key.get(), dns_names, ip_addresses);
}

bool certificate_fits(const CertKey& ck, const CertKey& ca, const std::string& cn,
                      const std::vector<std::string>& dns_names, const std::vector<std::string>& ip_addresses) {
  auto cert = parse_cert(ck.cert_pem, "certificate");
  auto key = parse_key(ck.key_pem, "key");
  auto ca_cert = parse_cert(ca.cert_pem, "CA certificate");
  if (!cert.ok() || !key.ok() || !ca_cert.ok()) return false;
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return false;
  }
  EVP_PKEY* ca_pub = X509_get0_pubkey(ca_cert->get());
  if (ca_pub == nullptr || X509_verify(cert->get(), ca_pub) != 1) {
    ERR_clear_error();
    return false;
  }
  X509_NAME* subject = X509_get_subject_name(cert->get());
  char name[256] = "";
  if (X509_NAME_get_text_by_NID(subject, NID_commonName, name, sizeof name) < 0 || cn != name) return false;
  PkiOptions want;
  want.dns_names = dns_names;
  want.ip_addresses = ip_addresses;
  return serving_cert_fits(ck, want);
}

Result<CertKey> load_ca(const fs::path& dir) {
  std::error_code ec;
  for (const char* f : {"ca.crt", "ca.key"}) {
    if (!fs::exists(dir / f, ec)) {
      return Error(ErrorCode::kNotFound, "CA file " + (dir / f).string() +
                                             " does not exist (start kernlet-control with this data directory first)");
    }
  }
  auto loaded = load_pair(dir, "ca");
  if (!loaded.ok()) return std::move(loaded).error();
  CertKey ca;
  if (loaded->has_value()) {
    ca = std::move(**loaded);
  } else {
    return Error(ErrorCode::kNotFound, "CA " + (dir / "ca.crt").string() + " vanished while being read");
  }
  return ca;
}

std::string make_kubeconfig(const std::string& server, const std::string& ca_pem, const CertKey& client,
                            const std::string& user_name) {
  std::ostringstream out;
  out << "apiVersion: v1\n"
      << "kind: Config\n"
      << "clusters:\n"
      << "- name: kernlet\n"
      << "  cluster:\n"
      << "    server: " << server << "\n"
      << "    certificate-authority-data: " << base64(ca_pem) << "\n"
      << "users:\n"
      << "- name: " << user_name << "\n"
      << "  user:\n"
      << "    client-certificate-data: " << base64(client.cert_pem) << "\n"
      << "    client-key-data: " << base64(client.key_pem) << "\n"
      << "contexts:\n"
      << "- name: kernlet\n"
      << "  context:\n"
      << "    cluster: kernlet\n"
      << "    user: " << user_name << "\n"
      << "current-context: kernlet\n";
  return out.str();
}

}  // namespace kernlet::apiserver
