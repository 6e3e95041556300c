// CRC-32 of the zip format at memory speed.
//
// zlib's table-driven crc32 runs at about 1-2 GB/s here; a checkpoint's
// records are CRC'd on every write and every verification, so that was half
// the time of saving a 1 GiB state dict (tools/benchmark.py). On x86-64 this
// folds 64 bytes per step with PCLMULQDQ, following Intel's white paper "Fast
// CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction"
// (Gopal et al., 2009) for the bit-reflected polynomial 0x04C11DB7; on ARMv8
// it uses the CRC32X instruction, which computes this very polynomial.
#include "CCRC32.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

// Folding constants x^k mod P(x), bit-reflected, for the reflected polynomial
// (the same values every PCLMULQDQ CRC-32 uses):
// k1 = x^(4*128+32) mod P, k2 = x^(4*128-32) mod P: fold 512 bits ahead;
// k3 = x^(128+32) mod P, k4 = x^(128-32) mod P: fold 128 bits ahead;
// k5 = x^64 mod P: the last 64 -> 32 bit fold;
// P' = the polynomial with its x^32 term, mu = floor(x^64 / P): Barrett reduction.
#define K1 0x154442bd4ULL
#define K2 0x1c6e41596ULL
#define K3 0x1751997d0ULL
#define K4 0x0ccaa009eULL
#define K5 0x163cd6124ULL
#define POLY 0x1db710641ULL
#define MU 0x1f7011641ULL

__attribute__((target("pclmul,sse4.1")))
static uint32_t fold_pclmul(uint32_t state, const uint8_t *p, size_t length) {
    // length >= 64, a multiple of 16. `state` is the raw (inverted) register.
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 0));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x4 = _mm_loadu_si128((const __m128i *)(p + 48));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)state));
    p += 64;
    length -= 64;

    const __m128i k12 = _mm_set_epi64x((long long)K2, (long long)K1);
    while (length >= 64) {
        __m128i h1 = _mm_clmulepi64_si128(x1, k12, 0x11);
        __m128i h2 = _mm_clmulepi64_si128(x2, k12, 0x11);
        __m128i h3 = _mm_clmulepi64_si128(x3, k12, 0x11);
        __m128i h4 = _mm_clmulepi64_si128(x4, k12, 0x11);
        x1 = _mm_clmulepi64_si128(x1, k12, 0x00);
        x2 = _mm_clmulepi64_si128(x2, k12, 0x00);
        x3 = _mm_clmulepi64_si128(x3, k12, 0x00);
        x4 = _mm_clmulepi64_si128(x4, k12, 0x00);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, h1), _mm_loadu_si128((const __m128i *)(p + 0)));
        x2 = _mm_xor_si128(_mm_xor_si128(x2, h2), _mm_loadu_si128((const __m128i *)(p + 16)));
        x3 = _mm_xor_si128(_mm_xor_si128(x3, h3), _mm_loadu_si128((const __m128i *)(p + 32)));
        x4 = _mm_xor_si128(_mm_xor_si128(x4, h4), _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        length -= 64;
    }

    // Four lanes into one, then the remaining 16-byte blocks.
    const __m128i k34 = _mm_set_epi64x((long long)K4, (long long)K3);
#define FOLD128(acc, next) \
    acc = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(acc, k34, 0x00), \
                                      _mm_clmulepi64_si128(acc, k34, 0x11)), (next))
    FOLD128(x1, x2);
    FOLD128(x1, x3);
    FOLD128(x1, x4);
    while (length >= 16) {
        FOLD128(x1, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        length -= 16;
    }
#undef FOLD128

    // 128 -> 64 bits (appending 32 zero bits), then 64 -> 32.
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), _mm_clmulepi64_si128(k34, x1, 0x01));
    __m128i upper = _mm_srli_si128(x1, 4);
    x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), _mm_set_epi64x(0, (long long)K5), 0x00);
    x1 = _mm_xor_si128(x1, upper);

    // Barrett reduction to 32 bits.
    const __m128i poly = _mm_set_epi64x((long long)MU, (long long)POLY);
    __m128i keep = x1;
    x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly, 0x10);
    x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly, 0x00);
    x1 = _mm_xor_si128(x1, keep);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}

size_t pth_crc32_prefix(uint32_t *crc, const void *data, size_t length) {
    if (length < 64 || !__builtin_cpu_supports("pclmul") || !__builtin_cpu_supports("sse4.1")) return 0;
    size_t folded = length & ~(size_t)15;
    *crc = ~fold_pclmul(~*crc, (const uint8_t *)data, folded);
    return folded;
}

#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>

size_t pth_crc32_prefix(uint32_t *crc, const void *data, size_t length) {
    const uint8_t *p = (const uint8_t *)data;
    size_t words = length / 8;
    uint32_t state = ~*crc;
    for (size_t i = 0; i < words; i++) {
        uint64_t w;
        memcpy(&w, p + 8 * i, 8);
        state = __crc32d(state, w);
    }
    *crc = ~state;
    return words * 8;
}

#else

size_t pth_crc32_prefix(uint32_t *crc, const void *data, size_t length) {
    (void)crc;
    (void)data;
    (void)length;
    return 0;
}

#endif
