// The job link's decoder: decode_job_message on arbitrary bytes. A message that decodes re-encodes to the
// same kind and values; a refusal always says what and which field; an unknown tag is never an error.
#include <bit>

#include <cyxp2p/protocol/body.hpp>

#include "check.hpp"

namespace {

using namespace cyxp2p::protocol;

bool same(const NumberMap& a, const NumberMap& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].first != b[i].first ||
            std::bit_cast<std::uint64_t>(a[i].second) != std::bit_cast<std::uint64_t>(b[i].second)) {
            return false;
        }
    }
    return true;
}

struct Same {
    bool operator()(const Unknown& a, const Unknown& b) const { return a.tag == b.tag; }
    bool operator()(const JobSubmit& a, const JobSubmit& b) const {
        return a.job_id == b.job_id && a.config == b.config;
    }
    bool operator()(const JobCommand& a, const JobCommand& b) const {
        return a.command == b.command && a.job_id == b.job_id && same(a.hyperparameters, b.hyperparameters);
    }
    bool operator()(const JobProgress& a, const JobProgress& b) const {
        return a.step == b.step && a.total_steps == b.total_steps && a.epoch == b.epoch &&
               a.total_epochs == b.total_epochs && a.state == b.state;
    }
    bool operator()(const MetricsUpdate& a, const MetricsUpdate& b) const {
        return a.step == b.step && a.epoch == b.epoch && same(a.metrics, b.metrics);
    }
    bool operator()(const JobLog& a, const JobLog& b) const {
        return a.level == b.level && a.line == b.line && a.time_ms == b.time_ms;
    }
    bool operator()(const JobError& a, const JobError& b) const {
        return a.code == b.code && a.message == b.message && a.fatal == b.fatal;
    }
    bool operator()(const Outcome& a, const Outcome& b) const {
        return a.ok == b.ok && a.error == b.error && a.message == b.message;
    }
    template <class A, class B>
    bool operator()(const A&, const B&) const {
        return false;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> b(data, size);
    BodyLimits limits;
    limits.max_bytes = 64U << 10;
    limits.max_container = 256;
    Status why;
    const auto m = decode_job_message(b, why, limits);
    std::error_code ec;
    const auto m2 = decode_job_message(b, ec, limits);
    CYXP2P_FUZZ_CHECK(m.has_value() == m2.has_value() && ec == why.error());
    if (!m) {
        CYXP2P_FUZZ_CHECK(why.code == errc::bad_message || why.code == errc::message_too_large);
        CYXP2P_FUZZ_CHECK(!why.message.empty() && !why.detail.empty());
        return 0;
    }
    CYXP2P_FUZZ_CHECK(why.ok());
    const std::string_view tag = tag_of(*m);
    CYXP2P_FUZZ_CHECK(!tag.empty() || std::holds_alternative<Unknown>(*m));
    CYXP2P_FUZZ_CHECK(tag.size() <= limits.max_tag);
    if (const auto* s = std::get_if<JobSubmit>(&*m)) CYXP2P_FUZZ_CHECK(!validate_body(s->config, limits));
    const auto back = decode_job_message(encode(*m), why, limits);
    CYXP2P_FUZZ_CHECK(back && std::visit(Same{}, *m, *back) && tag_of(*back) == tag);
    return 0;
}
