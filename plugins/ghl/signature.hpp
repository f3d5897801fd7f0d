#pragma once

// Webhook signature checks with OpenSSL's EVP API. OpenSSL is linked privately into the plugin
// because the SDK lends no crypto and Ed25519 must not be hand-written.

#include <optional>
#include <string>
#include <string_view>

namespace ferry::plugins::ghl {

// Decodes standard base64 (padding optional, whitespace ignored); nullopt when malformed.
std::optional<std::string> decodeBase64(std::string_view text);

enum class SignatureCheck { Valid, Invalid, BadKey };

// `x-ghl-signature`: base64 Ed25519 signature of the raw body; `publicKeyPem` is a PEM
// "PUBLIC KEY" (SubjectPublicKeyInfo). Pure and thread-safe.
SignatureCheck verifyEd25519(std::string_view publicKeyPem, std::string_view body,
                             std::string_view signatureBase64);

// Legacy `x-wh-signature`: base64 RSA PKCS#1 v1.5 SHA-256 signature of the raw body.
SignatureCheck verifyRsaSha256(std::string_view publicKeyPem, std::string_view body,
                               std::string_view signatureBase64);

// True when `publicKeyPem` parses as a public key of the given OpenSSL type name
// ("ED25519", "RSA").
bool isPublicKey(std::string_view publicKeyPem, std::string_view typeName);

}  // namespace ferry::plugins::ghl
