// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "swift-pth",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TorchCheckpoint", targets: ["TorchCheckpoint"]),
        // For users' test suites (Swift Testing and XCTest): assert_close, schemas, integrity.
        .library(name: "TorchCheckpointTesting", targets: ["TorchCheckpointTesting"]),
        .executable(name: "pth", targets: ["pth"]),
    ],
    dependencies: [
        // The command line only; the library has no dependency outside this package but libzip and libzstd.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // libzip and zlib, for records another tool compressed and for CRC-32.
        .systemLibrary(
            name: "CLibzip",
            pkgConfig: "libzip",
            providers: [.apt(["libzip-dev"]), .brew(["libzip"])]
        ),
        // zstd, for distributed checkpoints whose streams torch's ZStandard extension compressed.
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]
        ),
        // CRC-32 with carry-less multiplication or CRC instructions (zlib's is the fallback).
        .target(name: "CCRC32"),
        // SHA-256 of tensor contents for listings and diffs, with the SHA instructions of x86-64 or ARMv8.
        .target(name: "CSHA256"),
        // Linux file calls Swift's Glibc module leaves out: writeback of a range, O_PATH handles.
        .target(name: "CFileCalls"),
        // The zip container: central directory, ZIP64, records in place in a mapped file.
        .target(name: "TorchZip", dependencies: ["CLibzip", "CCRC32", "CFileCalls"]),
        // The value and tensor model: Python values, tensors, storages, numpy arrays.
        .target(name: "TorchValues"),
        // The pickle machine (and its encoder), which reads and writes that model.
        .target(name: "TorchPickle", dependencies: ["TorchValues"]),
        // Checkpoint formats, the canonical listing, the public entry points.
        .target(
            name: "TorchCheckpoint",
            dependencies: ["TorchZip", "TorchValues", "TorchPickle", "CSHA256", "CZstd"]
        ),
        // Checks for test suites: torch.testing.assert_close's rule and message on tensors, state
        // dicts and checkpoints, state-dict schemas, integrity; recorded as Swift Testing issues or
        // XCTest failures (the toolchain's Testing and XCTest modules, imported where present).
        .target(name: "TorchCheckpointTesting", dependencies: ["TorchCheckpoint"]),
        .executableTarget(
            name: "pth",
            dependencies: [
                "TorchCheckpoint",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // tools/benchmark.py's Swift side (not a product).
        .executableTarget(name: "pth-bench", dependencies: ["TorchCheckpoint"], path: "Benchmarks/pth-bench"),
        // What each fuzz target does with an input (shared by pth-fuzz and the tests that replay findings).
        .target(name: "FuzzHarness", dependencies: ["TorchCheckpoint"], path: "Fuzz/Harness"),
        // The libFuzzer driver (tools/fuzz.sh builds it with -DFUZZING); otherwise a replayer.
        .executableTarget(name: "pth-fuzz", dependencies: ["FuzzHarness"], path: "Fuzz/Driver"),
        .testTarget(name: "TorchZipTests", dependencies: ["TorchZip"]),
        .testTarget(name: "TorchPickleTests", dependencies: ["TorchPickle"]),
        // LISTING.md's comparison rule, for both test targets that compare listings with PyTorch's.
        .target(name: "ListingComparison", path: "Tests/ListingComparison"),
        .testTarget(name: "TorchCheckpointTests", dependencies: ["TorchCheckpoint", "ListingComparison", "FuzzHarness", "CSHA256"]),
        .testTarget(name: "PthTests", dependencies: ["TorchCheckpoint", "pth", "ListingComparison"]),
        .testTarget(name: "TorchCheckpointTestingTests", dependencies: ["TorchCheckpointTesting", "TorchCheckpoint"]),
    ]
)
