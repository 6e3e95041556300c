#ifndef PTH_CSHA256_H
#define PTH_CSHA256_H

#include <stddef.h>
#include <stdint.h>

/// The portable C implementation, which every machine has.
#define PTH_SHA256_PORTABLE 0
/// x86-64 SHA extensions (SHA-NI) with SSE4.1 and SSSE3.
#define PTH_SHA256_X86_SHA 1
/// The ARMv8 SHA2 instructions.
#define PTH_SHA256_ARMV8_SHA2 2

/// A SHA-256 computation in progress (FIPS 180-4). Set it up with
/// `pth_sha256_init` or `pth_sha256_init_using`; the fields are its own.
typedef struct {
    /// The intermediate hash value H0...H7.
    uint32_t state[8];
    /// Bytes fed so far.
    uint64_t length;
    /// The bytes of an incomplete block.
    uint8_t buffer[64];
    /// How many bytes of `buffer` are in use (0-63).
    uint32_t buffered;
    /// Which implementation compresses the blocks (`PTH_SHA256_...`).
    int32_t implementation;
} pth_sha256_context;

/// The fastest implementation this machine runs (`PTH_SHA256_...`).
int32_t pth_sha256_best_implementation(void);

/// Whether this machine runs `implementation` (1) or not (0).
int32_t pth_sha256_available(int32_t implementation);

/// Starts a computation with the fastest implementation this machine runs.
void pth_sha256_init(pth_sha256_context *context);

/// Starts a computation with `implementation` and returns 1; returns 0 and
/// leaves `context` alone when this machine does not run it.
int32_t pth_sha256_init_using(pth_sha256_context *context, int32_t implementation);

/// Feeds `length` bytes; `data` may be NULL when `length` is 0.
void pth_sha256_update(pth_sha256_context *context, const void *data, size_t length);

/// Pads the message, writes the 32-byte digest to `digest` and leaves
/// `context` spent (start again with `pth_sha256_init`).
void pth_sha256_final(pth_sha256_context *context, uint8_t digest[32]);

#endif
