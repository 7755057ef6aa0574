// erasure_bench: Reed–Solomon encode and reconstruct throughput of erasure::Codec on 4 MiB
// stripes for 4+2, 8+3 and 16+4, against memcpy of the same stripe in the same run, so the
// figures travel between machines as ratios (docs/erasure.md).
//
// Each figure is the best of several short rounds, taken in turns with its memcpy reference,
// since the box is shared. Encode and reconstruct rates count stripe bytes (the k data chunks)
// per second, like memcpy's; "sliced" encodes the stripe 256 KiB at a time with encode_range().
// Usage: erasure_bench [stripe_bytes]   (default 4 MiB)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include <fmt/format.h>

#include "shoal/base/bytes.h"
#include "shoal/base/prng.h"
#include "shoal/erasure/codec.h"
#include "shoal/erasure/stripe.h"

namespace shoal::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRounds = 10;
constexpr double kRoundSeconds = 0.05;
constexpr size_t kSliceBytes = size_t{256} * 1024;  // Stripe bytes per slice in the sliced encode.

double seconds_per_call_once(const std::function<void()>& work) {
    uint64_t calls = 0;
    const Clock::time_point start = Clock::now();
    std::chrono::duration<double> elapsed{0};
    while (elapsed.count() < kRoundSeconds) {
        work();
        calls += 1;
        elapsed = Clock::now() - start;
    }
    return elapsed.count() / static_cast<double>(calls);
}

// The best seconds per call of each workload over kRounds rounds in which they take turns, so
// that load from other processes on the shared box hits the workloads and their reference alike.
std::vector<double> best_seconds_per_call(const std::vector<std::function<void()>>& workloads) {
    std::vector<double> best(workloads.size(), 1e9);
    for (int round = 0; round < kRounds; round++) {
        for (size_t index = 0; index < workloads.size(); index++) {
            best[index] = std::min(best[index], seconds_per_call_once(workloads[index]));
        }
    }
    return best;
}

double gigabytes_per_second(size_t bytes, double seconds) {
    return static_cast<double>(bytes) / seconds / 1e9;
}

struct Stripe {
    erasure::Codec codec;
    Buffer source;               // The stripe as a client sent it.
    std::vector<Buffer> chunks;  // k data (padded) and m parity chunks.

    std::vector<ByteView> data() const {
        std::vector<ByteView> views;
        for (uint32_t index = 0; index < codec.k(); index++) {
            views.push_back(chunks[index].view());
        }
        return views;
    }
    std::vector<MutableByteView> all() {
        std::vector<MutableByteView> views;
        for (Buffer& chunk : chunks) {
            views.push_back(chunk.mutable_view());
        }
        return views;
    }
};

Stripe make_stripe(uint32_t k, uint32_t m, size_t stripe_bytes) {
    Result<erasure::Codec> codec = erasure::Codec::make(k, m);
    if (!codec.is_ok()) std::abort();
    Stripe stripe{.codec = std::move(codec).value(), .source = Buffer(stripe_bytes), .chunks = {}};
    Prng prng(/*seed=*/k * 100 + m);
    prng.fill(stripe.source.data(), stripe_bytes);
    const erasure::StripeChunks split(stripe.source.view(), k);
    for (const ByteView chunk : split.chunks()) {
        stripe.chunks.emplace_back(chunk);
    }
    for (uint32_t index = 0; index < m; index++) {
        stripe.chunks.emplace_back(split.chunk_bytes());
    }
    return stripe;
}

void encode_sliced(Stripe& stripe, const std::vector<ByteView>& data) {
    const std::vector<MutableByteView> all = stripe.all();
    const std::span<const MutableByteView> parity(all.begin() + stripe.codec.k(), all.end());
    const size_t chunk_bytes = data[0].size();
    const size_t slice_bytes = kSliceBytes / stripe.codec.k();
    for (size_t offset = 0; offset < chunk_bytes; offset += slice_bytes) {
        const size_t bytes = std::min(slice_bytes, chunk_bytes - offset);
        stripe.codec.encode_range(data, parity, {.offset = offset, .bytes = bytes});
    }
}

void bench_code(uint32_t k, uint32_t m, size_t stripe_bytes) {
    Stripe stripe = make_stripe(k, m, stripe_bytes);
    const std::vector<ByteView> data = stripe.data();
    const std::vector<MutableByteView> all = stripe.all();
    const std::span<const MutableByteView> parity(all.begin() + k, all.end());
    Buffer copy(stripe_bytes);
    // The worst case for the decoder: the first m data chunks lost, restored from the rest.
    const erasure::ChunkMask present = stripe.codec.all_chunks() & ~(erasure::chunk_bit(m) - 1);

    const std::vector<double> seconds = best_seconds_per_call({
            [&] { std::memcpy(copy.data(), stripe.source.data(), stripe_bytes); },
            [&] { stripe.codec.encode(data, parity); },
            [&] { encode_sliced(stripe, data); },
            [&] {
                if (!stripe.codec.reconstruct(all, present).is_ok()) std::abort();
            },
    });
    const double memcpy_rate = gigabytes_per_second(stripe_bytes, seconds[0]);
    fmt::print("{:>2}+{:<2} memcpy      {:6.2f} GB/s  {:6.1f} us/stripe\n",
               k,
               m,
               memcpy_rate,
               seconds[0] * 1e6);
    const char* const names[] = {"encode", "sliced", "reconstruct"};
    for (size_t index = 1; index < seconds.size(); index++) {
        const double rate = gigabytes_per_second(stripe_bytes, seconds[index]);
        fmt::print("      {:<12}{:6.2f} GB/s  {:6.1f} us/stripe  {:4.2f}x memcpy\n",
                   names[index - 1],
                   rate,
                   seconds[index] * 1e6,
                   rate / memcpy_rate);
    }
}

// What the decode-table cache saves: one reconstruct of small chunks with its tables cached,
// and with them built afresh (a new codec each call, so the build is counted).
void bench_decode_tables(uint32_t k, uint32_t m, size_t chunk_bytes) {
    Stripe stripe = make_stripe(k, m, chunk_bytes * k);
    const std::vector<MutableByteView> all = stripe.all();
    const erasure::ChunkMask present = stripe.codec.all_chunks() & ~(erasure::chunk_bit(m) - 1);
    const std::vector<double> seconds = best_seconds_per_call({
            [&] {
                if (!stripe.codec.reconstruct(all, present).is_ok()) std::abort();
            },
            [&] {
                Result<erasure::Codec> codec = erasure::Codec::make(k, m);
                if (!codec.value().reconstruct(all, present).is_ok()) std::abort();
            },
            [&] {
                if (!erasure::Codec::make(k, m).is_ok()) std::abort();
            },
    });
    fmt::print(
            "{:>2}+{:<2}  reconstruct {} lost of {} B chunks: {:5.2f} us cached, "
            "{:5.2f} us with tables built ({:4.2f} us of it Codec::make)\n",
            k,
            m,
            m,
            chunk_bytes,
            seconds[0] * 1e6,
            seconds[1] * 1e6,
            seconds[2] * 1e6);
}

int run(size_t stripe_bytes) {
    fmt::print(
            "stripe {} bytes, best of {} rounds of {} s\n", stripe_bytes, kRounds, kRoundSeconds);
    for (const auto& [k, m] : {std::pair{4U, 2U}, std::pair{8U, 3U}, std::pair{16U, 4U}}) {
        bench_code(k, m, stripe_bytes);
    }
    for (const auto& [k, m] : {std::pair{4U, 2U}, std::pair{16U, 4U}}) {
        bench_decode_tables(k, m, 4096);
    }
    return 0;
}

}  // namespace
}  // namespace shoal::bench

int main(int argc, char** argv) {
    size_t stripe_bytes = size_t{4} * 1024 * 1024;
    if (argc > 1) stripe_bytes = std::strtoull(argv[1], nullptr, 10);
    if (stripe_bytes == 0) {
        fmt::print(stderr, "usage: erasure_bench [stripe_bytes > 0]\n");
        return 2;
    }
    return shoal::bench::run(stripe_bytes);
}
