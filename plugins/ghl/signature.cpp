#include "signature.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>

namespace ferry::plugins::ghl {

namespace {

struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdDeleter {
  void operator()(EVP_MD_CTX* md) const { EVP_MD_CTX_free(md); }
};
struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;

Key readKey(std::string_view pem) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return nullptr;
  }
  return Key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
}

SignatureCheck verify(std::string_view pem, int keyType, const EVP_MD* digest,
                      std::string_view body, std::string_view signatureBase64) {
  const Key key = readKey(pem);
  if (!key || EVP_PKEY_base_id(key.get()) != keyType) {
    return SignatureCheck::BadKey;
  }
  const auto signature = decodeBase64(signatureBase64);
  if (!signature || signature->empty()) {
    return SignatureCheck::Invalid;
  }
  std::unique_ptr<EVP_MD_CTX, MdDeleter> md(EVP_MD_CTX_new());
  if (!md || EVP_DigestVerifyInit(md.get(), nullptr, digest, nullptr, key.get()) != 1) {
    return SignatureCheck::BadKey;
  }
  const int ok = EVP_DigestVerify(
      md.get(), reinterpret_cast<const unsigned char*>(signature->data()), signature->size(),
      reinterpret_cast<const unsigned char*>(body.data()), body.size());
  return ok == 1 ? SignatureCheck::Valid : SignatureCheck::Invalid;
}

}  // namespace

std::optional<std::string> decodeBase64(std::string_view text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  bool padding = false;
  for (char ch : text) {
    int value = -1;
    if (ch >= 'A' && ch <= 'Z') {
      value = ch - 'A';
    } else if (ch >= 'a' && ch <= 'z') {
      value = ch - 'a' + 26;
    } else if (ch >= '0' && ch <= '9') {
      value = ch - '0' + 52;
    } else if (ch == '+' || ch == '-') {
      value = 62;
    } else if (ch == '/' || ch == '_') {
      value = 63;
    } else if (ch == '=') {
      padding = true;
      continue;
    } else if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') {
      continue;
    } else {
      return std::nullopt;
    }
    if (padding) {
      return std::nullopt;  // data after padding
    }
    buffer = (buffer << 6) | static_cast<unsigned>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

SignatureCheck verifyEd25519(std::string_view publicKeyPem, std::string_view body,
                             std::string_view signatureBase64) {
  return verify(publicKeyPem, EVP_PKEY_ED25519, nullptr, body, signatureBase64);
}

SignatureCheck verifyRsaSha256(std::string_view publicKeyPem, std::string_view body,
                               std::string_view signatureBase64) {
  return verify(publicKeyPem, EVP_PKEY_RSA, EVP_sha256(), body, signatureBase64);
}

bool isPublicKey(std::string_view publicKeyPem, std::string_view typeName) {
  const Key key = readKey(publicKeyPem);
  if (!key) {
    return false;
  }
  const int id = EVP_PKEY_base_id(key.get());
  return (typeName == "ED25519" && id == EVP_PKEY_ED25519) ||
         (typeName == "RSA" && id == EVP_PKEY_RSA);
}

}  // namespace ferry::plugins::ghl
