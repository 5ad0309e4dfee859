// msgpack bodies: validate_body and every typed decode_* of protocol/body.hpp on the same bytes (the job
// link's decode_job_message has its own harness, job_message_fuzz.cpp). Whatever decodes
// encodes and decodes again to the same value.
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> b(data, size);
    BodyLimits limits;
    limits.max_bytes = 64U << 10;
    limits.max_container = 256;
    std::error_code ec;
    (void)validate_body(b, limits);

    if (auto v = decode_job_submit(b, ec, limits)) {
        auto w = decode_job_submit(encode(*v), ec, limits);
        CYXP2P_FUZZ_CHECK(w && w->job_id == v->job_id && w->config == v->config);
        CYXP2P_FUZZ_CHECK(!validate_body(v->config, limits));
    }
    if (auto v = decode_metrics_update(b, ec, limits)) {
        auto w = decode_metrics_update(encode(*v), ec, limits);
        CYXP2P_FUZZ_CHECK(w && w->step == v->step && w->epoch == v->epoch && same(w->metrics, v->metrics));
    }
    if (auto v = decode_job_command(b, ec, limits)) {
        auto w = decode_job_command(encode(*v), ec, limits);
        CYXP2P_FUZZ_CHECK(w && w->command == v->command && w->job_id == v->job_id &&
                          same(w->hyperparameters, v->hyperparameters));
        (void)to_string(v->command);
    }
    if (auto v = decode_content_fetch(b, ec, limits)) {
        auto w = decode_content_fetch(encode(*v), ec, limits);
        CYXP2P_FUZZ_CHECK(w && w->cid == v->cid && w->skip_blocks == v->skip_blocks);
    }
    if (auto v = decode_content_block(b, ec, limits)) {
        auto w = decode_content_block(encode(*v), ec, limits);
        CYXP2P_FUZZ_CHECK(w && w->cid == v->cid && w->data == v->data);
    }
    if (auto v = decode_outcome(b, ec, limits)) {
        auto w = decode_outcome(encode(*v), ec, limits);
        CYXP2P_FUZZ_CHECK(w && w->ok == v->ok && w->error == v->error && w->message == v->message);
    }
    return 0;
}
