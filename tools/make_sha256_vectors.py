#!/usr/bin/env python3
"""Write fixtures/sha256_vectors.json: Python's hashlib SHA-256 of messages
of many lengths, for the tests of Sources/CSHA256.

usage: make_sha256_vectors.py [OUT]

Every message is the first LENGTH bytes of one pattern, byte i being
(31 * i + 7) mod 256, so the tests rebuild it from its length. The lengths:
every one from 0 to 300 (all the ways a message meets the 64-byte blocks and
the 56-byte padding boundary), then a few large ones around 4 KiB, 64 KiB,
1 MiB and the listing's 4 MiB chunks.
"""
import hashlib
import json
import os
import sys

LARGE = [1000, 4095, 4096, 4097, 65536 + 3, 1 << 20, (4 << 20) + 13, (9 << 20) + 1]


def message(length):
    return bytes((31 * i + 7) % 256 for i in range(length))


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "sha256_vectors.json")
    longest = message(max(LARGE))
    vectors = [{"length": n, "sha256": hashlib.sha256(longest[:n]).hexdigest()} for n in list(range(301)) + LARGE]
    with open(out_path, "w") as fh:
        fh.write('{"pattern": "byte i is (31 * i + 7) mod 256", "vectors": [\n')
        fh.write(",\n".join(json.dumps(v) for v in vectors))
        fh.write("\n]}\n")
    print(f"{len(vectors)} vectors")


if __name__ == "__main__":
    main()
