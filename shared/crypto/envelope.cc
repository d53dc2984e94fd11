#include "shared/crypto/envelope.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "shared/common/error.h"
#include "shared/crypto/hex.h"
#include "shared/crypto/reasons.h"

namespace fleetml::crypto {
namespace {

// Deterministic serialization so that the same body always yields the same signed bytes
// (useful for tests and caches; verification never re-encodes, it checks the bytes received).
std::string serialize(const google::protobuf::MessageLite& body, std::string_view type) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!body.SerializeToCodedStream(&coded)) {
      throw Error("cannot serialize " + std::string(type));
    }
  }
  return out;
}

v1::Signature sign_body(std::string_view type, std::string_view body, const PrivateKey& key) {
  v1::Signature signature;
  signature.set_key_id(key.key_id());
  signature.set_ed25519(key.sign(signing_input(type, body)));
  return signature;
}

template <typename Body>
Verdict<Body> verify_body(std::string_view type, const std::string& body,
                          const v1::Signature& signature, const PublicKey& key) {
  using V = Verdict<Body>;
  if (signature.key_id() != key.key_id()) {
    // The key id is attacker-chosen text: quote it only when it has the expected shape.
    const std::string& id = signature.key_id();
    return V::reject(reason::kUnknownKey,
                     std::string(type) + " signed by " +
                         (is_lower_hex(id, 16) ? "key " + id : std::string("a malformed key id")) +
                         ", pinned key is " + key.key_id());
  }
  if (!key.verify(signing_input(type, body), signature.ed25519())) {
    return V::reject(reason::kBadSignature,
                     std::string(type) + ": signature does not verify under key " + key.key_id());
  }
  V verdict;
  if (!verdict.body.ParseFromString(body)) {
    return V::reject(reason::kMalformed, std::string(type) + ": signed body does not parse");
  }
  return verdict;
}

}  // namespace

std::string signing_input(std::string_view type, std::string_view body) {
  std::string out = "fleetml-v1 ";
  out += std::to_string(type.size());
  out += ' ';
  out += type;
  out += ' ';
  out += std::to_string(body.size());
  out += ' ';
  out += body;
  return out;
}

v1::Manifest sign_manifest(const v1::ManifestBody& body, const PrivateKey& release_key) {
  v1::Manifest manifest;
  manifest.set_body(serialize(body, kManifestBodyType));
  *manifest.mutable_signature() = sign_body(kManifestBodyType, manifest.body(), release_key);
  return manifest;
}

v1::Assignment sign_assignment(const v1::AssignmentBody& body, const PrivateKey& coordinator_key) {
  v1::Assignment assignment;
  assignment.set_body(serialize(body, kAssignmentBodyType));
  *assignment.mutable_signature() =
      sign_body(kAssignmentBodyType, assignment.body(), coordinator_key);
  return assignment;
}

Verdict<v1::ManifestBody> verify_manifest(const v1::Manifest& manifest,
                                          const PublicKey& release_key) {
  return verify_body<v1::ManifestBody>(kManifestBodyType, manifest.body(), manifest.signature(),
                                       release_key);
}

Verdict<v1::AssignmentBody> verify_assignment(const v1::Assignment& assignment,
                                              const PublicKey& coordinator_key) {
  return verify_body<v1::AssignmentBody>(kAssignmentBodyType, assignment.body(),
                                         assignment.signature(), coordinator_key);
}

}  // namespace fleetml::crypto
