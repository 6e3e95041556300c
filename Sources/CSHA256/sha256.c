// SHA-256 as FIPS 180-4 defines it (sections 4.1.2, 4.2.2, 5.1.1, 5.3.3, 6.2).
//
// The listing hashes every tensor's bytes, so this runs over whole
// checkpoints: the compression function has a portable C form and, chosen at
// run time, forms with the x86-64 SHA extensions (SHA256RNDS2, SHA256MSG1,
// SHA256MSG2) and the ARMv8 SHA2 instructions (SHA256H, SHA256H2, SHA256SU0,
// SHA256SU1), which do the rounds and the message schedule in hardware. The
// padding and the buffering of partial blocks are shared.
#include "CSHA256.h"

#include <stdatomic.h>
#include <string.h>

// The round constants K0...K63: the first 32 bits of the fractional parts of
// the cube roots of the first 64 primes (section 4.2.2).
static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u,
    0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u,
    0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu,
    0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u,
    0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u,
    0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u,
    0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

// The initial hash value H(0): the first 32 bits of the fractional parts of
// the square roots of the first 8 primes (section 5.3.3).
static const uint32_t H0[8] = {
    0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
    0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
};

static inline uint32_t load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

// ---------------------------------------------------------------------------
// Portable: the functions of section 4.1.2 and the computation of 6.2.2.

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define CH(x, y, z) ((((y) ^ (z)) & (x)) ^ (z))
#define MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y))))
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))

// One round, with the eight working variables named by their roles this
// round; instead of moving every variable along, the next round passes them
// rotated by one (its `a` is this round's `h`, which receives T1 + T2, and
// its `e` is this round's `d`, which receives d + T1).
#define ROUND(a, b, c, d, e, f, g, h, i)                                   \
    do {                                                                   \
        uint32_t t1 = (h) + BSIG1(e) + CH(e, f, g) + K[i] + w[i];          \
        uint32_t t2 = BSIG0(a) + MAJ(a, b, c);                             \
        (d) += t1;                                                         \
        (h) = t1 + t2;                                                     \
    } while (0)

static void compress_portable(uint32_t state[8], const uint8_t *p, size_t blocks) {
    uint32_t w[64];
    while (blocks--) {
        for (int t = 0; t < 16; t++) w[t] = load_be32(p + 4 * t);
        for (int t = 16; t < 64; t++) w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];

        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int i = 0; i < 64; i += 8) {
            ROUND(a, b, c, d, e, f, g, h, i + 0);
            ROUND(h, a, b, c, d, e, f, g, i + 1);
            ROUND(g, h, a, b, c, d, e, f, i + 2);
            ROUND(f, g, h, a, b, c, d, e, i + 3);
            ROUND(e, f, g, h, a, b, c, d, i + 4);
            ROUND(d, e, f, g, h, a, b, c, i + 5);
            ROUND(c, d, e, f, g, h, a, b, i + 6);
            ROUND(b, c, d, e, f, g, h, a, i + 7);
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
        p += 64;
    }
}

// ---------------------------------------------------------------------------
// x86-64 SHA extensions.

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86_SHA 1
#include <cpuid.h>
#include <immintrin.h>

// SHA256RNDS2 does two rounds. It keeps the working variables in two
// registers, one holding A, B, E, F and the other C, D, G, H (A and C in the
// top lane), takes W + K for its two rounds in the low 64 bits of its third
// operand, and returns the new A, B, E, F; the new C, D, G, H are the old
// A, B, E, F. Four rounds are two calls with the roles swapped.
#define X86_QROUND(m, k)                                                           \
    do {                                                                           \
        __m128i wk = _mm_add_epi32((m), _mm_loadu_si128((const __m128i *)&K[k]));  \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);                              \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));     \
    } while (0)

// The next four schedule words W[t...t+3] into m0, which holds W[t-16...t-13];
// m1, m2 and m3 hold the twelve words after it. SHA256MSG1 adds sigma0 of
// the following word, W[t-7...t-4] is m2:m3 shifted by one word, and
// SHA256MSG2 adds sigma1 of the words two back.
#define X86_SCHEDULE(m0, m1, m2, m3) \
    (m0) = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((m0), (m1)), _mm_alignr_epi8((m3), (m2), 4)), (m3))

__attribute__((target("sha,sse4.1,ssse3")))
static void compress_x86_sha(uint32_t state[8], const uint8_t *p, size_t blocks) {
    // Big-endian words from the message bytes.
    const __m128i byteswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);

    // H0...H3 and H4...H7 (H0 and H4 in the low lanes), reversed, then
    // regrouped into A, B, E, F and C, D, G, H.
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[0]), 0x1B);
    __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[4]), 0x1B);
    __m128i abef = _mm_unpackhi_epi64(efgh, abcd);
    __m128i cdgh = _mm_unpacklo_epi64(efgh, abcd);

    while (blocks--) {
        const __m128i abef_before = abef, cdgh_before = cdgh;
        __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), byteswap);
        X86_QROUND(m0, 0);
        __m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), byteswap);
        X86_QROUND(m1, 4);
        __m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), byteswap);
        X86_QROUND(m2, 8);
        __m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), byteswap);
        X86_QROUND(m3, 12);
        for (int t = 16; t < 64; t += 16) {
            X86_SCHEDULE(m0, m1, m2, m3);
            X86_QROUND(m0, t);
            X86_SCHEDULE(m1, m2, m3, m0);
            X86_QROUND(m1, t + 4);
            X86_SCHEDULE(m2, m3, m0, m1);
            X86_QROUND(m2, t + 8);
            X86_SCHEDULE(m3, m0, m1, m2);
            X86_QROUND(m3, t + 12);
        }
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
        p += 64;
    }

    _mm_storeu_si128((__m128i *)&state[0], _mm_shuffle_epi32(_mm_unpackhi_epi64(cdgh, abef), 0x1B));
    _mm_storeu_si128((__m128i *)&state[4], _mm_shuffle_epi32(_mm_unpacklo_epi64(cdgh, abef), 0x1B));
}

static int32_t detect(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return PTH_SHA256_PORTABLE;
    int ssse3 = (ecx >> 9) & 1, sse41 = (ecx >> 19) & 1;
    // CPUID leaf 7, subleaf 0: EBX bit 29 is SHA.
    if (!ssse3 || !sse41 || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return PTH_SHA256_PORTABLE;
    return (ebx >> 29) & 1 ? PTH_SHA256_X86_SHA : PTH_SHA256_PORTABLE;
}

// ---------------------------------------------------------------------------
// ARMv8 SHA2 instructions.

#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_ARMV8_SHA2 1
#include <arm_neon.h>
#if defined(__APPLE__)
// Every 64-bit Apple processor has them.
#elif __has_include(<sys/auxv.h>)
#include <sys/auxv.h>
#define HAVE_GETAUXVAL 1
#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1 << 6)
#endif
#endif

// SHA256H does four rounds on A, B, C, D given E, F, G, H and four W + K;
// SHA256H2 does the same four rounds' E, F, G, H given the A, B, C, D from
// before them.
#define ARM_QROUND(m, k)                                       \
    do {                                                       \
        uint32x4_t wk = vaddq_u32((m), vld1q_u32(&K[k]));      \
        uint32x4_t abcd_before_rounds = abcd;                  \
        abcd = vsha256hq_u32(abcd, efgh, wk);                  \
        efgh = vsha256h2q_u32(efgh, abcd_before_rounds, wk);   \
    } while (0)

// The next four schedule words into m0, which holds W[t-16...t-13]; m1, m2
// and m3 hold the twelve words after it. SHA256SU0 adds sigma0 of the
// following word, SHA256SU1 adds W[t-7] and sigma1 of W[t-2].
#define ARM_SCHEDULE(m0, m1, m2, m3) (m0) = vsha256su1q_u32(vsha256su0q_u32((m0), (m1)), (m2), (m3))

#define ARM_LOAD(p) vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p)))

__attribute__((target("sha2")))
static void compress_armv8(uint32_t state[8], const uint8_t *p, size_t blocks) {
    uint32x4_t abcd = vld1q_u32(&state[0]);
    uint32x4_t efgh = vld1q_u32(&state[4]);
    while (blocks--) {
        const uint32x4_t abcd_before = abcd, efgh_before = efgh;
        uint32x4_t m0 = ARM_LOAD(p + 0);
        ARM_QROUND(m0, 0);
        uint32x4_t m1 = ARM_LOAD(p + 16);
        ARM_QROUND(m1, 4);
        uint32x4_t m2 = ARM_LOAD(p + 32);
        ARM_QROUND(m2, 8);
        uint32x4_t m3 = ARM_LOAD(p + 48);
        ARM_QROUND(m3, 12);
        for (int t = 16; t < 64; t += 16) {
            ARM_SCHEDULE(m0, m1, m2, m3);
            ARM_QROUND(m0, t);
            ARM_SCHEDULE(m1, m2, m3, m0);
            ARM_QROUND(m1, t + 4);
            ARM_SCHEDULE(m2, m3, m0, m1);
            ARM_QROUND(m2, t + 8);
            ARM_SCHEDULE(m3, m0, m1, m2);
            ARM_QROUND(m3, t + 12);
        }
        abcd = vaddq_u32(abcd, abcd_before);
        efgh = vaddq_u32(efgh, efgh_before);
        p += 64;
    }
    vst1q_u32(&state[0], abcd);
    vst1q_u32(&state[4], efgh);
}

static int32_t detect(void) {
#if defined(__APPLE__)
    return PTH_SHA256_ARMV8_SHA2;
#elif defined(HAVE_GETAUXVAL)
    return (getauxval(AT_HWCAP) & HWCAP_SHA2) ? PTH_SHA256_ARMV8_SHA2 : PTH_SHA256_PORTABLE;
#elif defined(__ARM_FEATURE_SHA2)
    return PTH_SHA256_ARMV8_SHA2;
#else
    return PTH_SHA256_PORTABLE;
#endif
}

#else

static int32_t detect(void) { return PTH_SHA256_PORTABLE; }

#endif

// ---------------------------------------------------------------------------
// Choosing an implementation, buffering, padding.

int32_t pth_sha256_best_implementation(void) {
    // Detected once; -1 until then. Racing first calls detect the same answer.
    static _Atomic int32_t best = -1;
    int32_t value = atomic_load_explicit(&best, memory_order_relaxed);
    if (value < 0) {
        value = detect();
        atomic_store_explicit(&best, value, memory_order_relaxed);
    }
    return value;
}

int32_t pth_sha256_available(int32_t implementation) {
    return implementation == PTH_SHA256_PORTABLE || implementation == pth_sha256_best_implementation();
}

static void compress(const pth_sha256_context *context, uint32_t state[8], const uint8_t *p, size_t blocks) {
    switch (context->implementation) {
#if defined(HAVE_X86_SHA)
    case PTH_SHA256_X86_SHA: compress_x86_sha(state, p, blocks); return;
#endif
#if defined(HAVE_ARMV8_SHA2)
    case PTH_SHA256_ARMV8_SHA2: compress_armv8(state, p, blocks); return;
#endif
    default: compress_portable(state, p, blocks); return;
    }
}

void pth_sha256_init(pth_sha256_context *context) {
    memcpy(context->state, H0, sizeof H0);
    context->length = 0;
    context->buffered = 0;
    context->implementation = pth_sha256_best_implementation();
}

int32_t pth_sha256_init_using(pth_sha256_context *context, int32_t implementation) {
    if (!pth_sha256_available(implementation)) return 0;
    pth_sha256_init(context);
    context->implementation = implementation;
    return 1;
}

void pth_sha256_update(pth_sha256_context *context, const void *data, size_t length) {
    if (length == 0) return;
    const uint8_t *p = (const uint8_t *)data;
    context->length += length;
    if (context->buffered > 0) {
        size_t take = 64 - context->buffered;
        if (take > length) take = length;
        memcpy(context->buffer + context->buffered, p, take);
        context->buffered += (uint32_t)take;
        p += take;
        length -= take;
        if (context->buffered < 64) return;
        compress(context, context->state, context->buffer, 1);
        context->buffered = 0;
    }
    size_t blocks = length / 64;
    if (blocks > 0) {
        compress(context, context->state, p, blocks);
        p += blocks * 64;
        length -= blocks * 64;
    }
    if (length > 0) {
        memcpy(context->buffer, p, length);
        context->buffered = (uint32_t)length;
    }
}

void pth_sha256_final(pth_sha256_context *context, uint8_t digest[32]) {
    // Section 5.1.1: a 1 bit, zeros up to 448 bits mod 512, then the length
    // in bits as a 64-bit big-endian integer.
    uint64_t bits = context->length << 3;
    uint8_t *b = context->buffer;
    uint32_t n = context->buffered;
    b[n++] = 0x80;
    if (n > 56) {
        memset(b + n, 0, 64 - n);
        compress(context, context->state, b, 1);
        n = 0;
    }
    memset(b + n, 0, 56 - n);
    store_be32(b + 56, (uint32_t)(bits >> 32));
    store_be32(b + 60, (uint32_t)bits);
    compress(context, context->state, b, 1);
    for (int i = 0; i < 8; i++) store_be32(digest + 4 * i, context->state[i]);
    context->buffered = 0;
}
