// The mapping changelog: each flow file's content per hash (table flow_versions, migration 3),
// joined with the run history that names the hash of every run.
#include <algorithm>
#include <map>

#include "store/sql_store.hpp"

namespace ferry::core::store {

using namespace Poco::Data::Keywords;
using Poco::Data::Session;
using I64 = Poco::Int64;

void SqlStore::recordFlowVersion(const FlowVersion& v) {
  if (v.flowId.empty() || v.hash.empty()) {
    throw StoreError(ErrorKind::Invalid, "a flow version needs a flow id and a hash");
  }
  transact("record flow version", Tx::Write, [&](Session& s) {
    const I64 at = v.recordedAt != 0 ? v.recordedAt : nowUs();
    s << "INSERT INTO flow_versions (flow_id, flow_hash, flow_version, path, content, recorded_at)"
         " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (flow_id, flow_hash) DO NOTHING",
        bind(v.flowId), bind(v.hash), bind(v.version), bind(v.path), bind(v.content), bind(at),
        now;
  });
}

std::optional<FlowVersion> SqlStore::getFlowVersion(const std::string& flowId,
                                                    const std::string& hash) {
  return transact("get flow version", Tx::Read, [&](Session& s) -> std::optional<FlowVersion> {
    std::vector<std::string> version, path, content;
    std::vector<I64> at;
    s << "SELECT flow_version, path, content, recorded_at FROM flow_versions"
         " WHERE flow_id = $1 AND flow_hash = $2",
        bind(flowId), bind(hash), into(version), into(path), into(content), into(at), now;
    if (version.empty()) {
      return std::nullopt;
    }
    return FlowVersion{flowId, hash, version[0], path[0], content[0], at[0]};
  });
}

std::vector<FlowVersionUse> SqlStore::flowHistory(const std::string& flowId) {
  return transact("flow history", Tx::Read, [&](Session& s) {
    std::map<std::string, FlowVersionUse> byHash;
    {
      std::vector<std::string> hash, version;
      std::vector<I64> count, first, last;
      s << "SELECT flow_hash, MAX(flow_version), COUNT(*), MIN(started_at), MAX(started_at)"
           " FROM runs WHERE flow_id = $1 GROUP BY flow_hash",
          bind(flowId), into(hash), into(version), into(count), into(first), into(last), now;
      for (std::size_t i = 0; i < hash.size(); ++i) {
        auto& u = byHash[hash[i]];
        u.hash = hash[i];
        u.version = version[i];
        u.runs = count[i];
        u.firstRunAt = first[i];
        u.lastRunAt = last[i];
      }
    }
    {
      std::vector<std::string> hash, version;
      std::vector<I64> at;
      s << "SELECT flow_hash, flow_version, recorded_at FROM flow_versions WHERE flow_id = $1",
          bind(flowId), into(hash), into(version), into(at), now;
      for (std::size_t i = 0; i < hash.size(); ++i) {
        auto& u = byHash[hash[i]];
        u.hash = hash[i];
        u.version = version[i];
        u.recordedAt = at[i];
        u.hasContent = true;
      }
    }
    std::vector<FlowVersionUse> out;
    for (auto& [hash, use] : byHash) {
      out.push_back(std::move(use));
    }
    std::sort(out.begin(), out.end(), [](const FlowVersionUse& a, const FlowVersionUse& b) {
      const TimeUs ka = std::max(a.lastRunAt, a.recordedAt);
      const TimeUs kb = std::max(b.lastRunAt, b.recordedAt);
      return ka != kb ? ka > kb : a.hash < b.hash;
    });
    return out;
  });
}

}  // namespace ferry::core::store
