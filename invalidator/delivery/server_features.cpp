// The probe's replies: "VERSION x.y.z", then NF or HD from an md the server understands.
#include "invalidator/delivery/server_features.h"

namespace mccache::invalidator::delivery {

// Not quiet: a quiet md that succeeds says nothing, and a probe must get an answer.
const char* const kFeatureProbe = "version\r\nmd mccache:feature_probe I T1\r\n";

Status check_features(std::string_view version_line, std::string_view md_reply) {
  std::string version = version_line.rfind("VERSION ", 0) == 0
                            ? std::string(version_line.substr(8))
                            : "unknown (" + std::string(version_line) + ")";
  if (md_reply == "NF" || md_reply == "HD" || md_reply.rfind("HD ", 0) == 0 ||
      md_reply.rfind("NF ", 0) == 0)
    return Ok{};
  return fail("refuses `md <key> I T` (answered \"" + std::string(md_reply) + "\", version " +
              version + "): every invalidation sent to it would be dropped; it needs memcached " +
              "1.6 or later with the meta protocol");
}

}  // namespace mccache::invalidator::delivery
