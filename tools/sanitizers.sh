#!/usr/bin/env bash
# The test suite under AddressSanitizer with LeakSanitizer (every fixture,
# the malformed corpus and the replayed fuzz findings included), then the
# concurrent-reading tests and the writer's helper threads under ThreadSanitizer.
#
#   tools/sanitizers.sh [address|thread]...   (default: both)
#
# Each sanitizer builds in its own scratch path (.build-asan, .build-tsan), so
# the normal .build is left alone. tools/lsan-suppressions.txt names the only
# leaks allowed: the test runners' own (XCTest, Foundation's Process).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizers=("$@")
[ ${#sanitizers[@]} -eq 0 ] && sanitizers=(address thread)
for sanitizer in "${sanitizers[@]}"; do
    case $sanitizer in
    address)
        echo "== the test suite under AddressSanitizer and LeakSanitizer" >&2
        swift build --build-tests --sanitize=address --scratch-path .build-asan
        # allocator_may_return_null: a request past any memory (a hostile file's terabytes)
        # returns NULL, as malloc does, so the typed error for it is what is tested.
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1 \
        LSAN_OPTIONS=suppressions="$PWD/tools/lsan-suppressions.txt":print_suppressions=0 \
            swift test --skip-build --sanitize=address --scratch-path .build-asan
        ;;
    thread)
        echo "== reading one checkpoint from many tasks, and writing with helper threads, under ThreadSanitizer" >&2
        swift build --build-tests --sanitize=thread --scratch-path .build-tsan
        TSAN_OPTIONS=halt_on_error=1 \
            swift test --skip-build --sanitize=thread --scratch-path .build-tsan --filter "ConcurrentReadingTests|ManyFilesConcurrencyTests|PlainDecoderConcurrencyTests|TapeDictTests|AtomicFileSinkTests|ConcurrentCRCTests|WriterRewriteTests"
        ;;
    *)
        echo "usage: tools/sanitizers.sh [address|thread]..." >&2
        exit 2
        ;;
    esac
done
