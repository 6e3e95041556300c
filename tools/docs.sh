#!/usr/bin/env bash
# Builds the DocC documentation of the two libraries and fails on any warning
# (a broken symbol link, an undocumented parameter, …):
# - TorchCheckpoint: its catalog (Sources/TorchCheckpoint/TorchCheckpoint.docc:
#   landing page and articles) and every public symbol, those of TorchValues, TorchPickle
#   and TorchZip that it re-exports included;
# - TorchCheckpointTesting: its catalog and every public symbol, into
#   TorchCheckpointTesting.doccarchive beside the first archive.
# No package plugin: the symbol graph comes from swift-symbolgraph-extract on
# the built modules, then `docc convert`.
#
#   tools/docs.sh [OUTPUT]    # default OUTPUT: .build-docs/TorchCheckpoint.doccarchive
#
# Environment: DOCC and SYMBOLGRAPH_EXTRACT override the tools found next to `swift`;
# SCRATCH the build folder (default .build-docs, shared with the other local checks).
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=${SCRATCH:-.build-docs}
output=${1:-$scratch/TorchCheckpoint.doccarchive}

# The toolchain's own docc and symbol-graph extractor (xcrun finds them on macOS).
toolchain_bin=$(dirname "$(readlink -f "$(command -v swift)")")
find_tool() {
    if [ -x "$toolchain_bin/$1" ]; then echo "$toolchain_bin/$1"
    elif command -v xcrun >/dev/null 2>&1; then xcrun --find "$1"
    else command -v "$1"
    fi
}
docc=${DOCC:-$(find_tool docc)}
extract=${SYMBOLGRAPH_EXTRACT:-$(find_tool swift-symbolgraph-extract)}

swift build --scratch-path "$scratch" --target TorchCheckpoint >&2
swift build --scratch-path "$scratch" --target TorchCheckpointTesting >&2
bin=$(swift build --scratch-path "$scratch" --show-bin-path)
modules=$bin/Modules
[ -d "$modules" ] || modules=$bin
triple=$(swift -print-target-info | sed -n 's/^ *"triple": "\(.*\)",*$/\1/p' | head -n 1)

# The C modules the Swift modules import: system libraries (a module.modulemap
# in their source folder: CLibzip), C targets (SwiftPM writes their module maps
# into the build folder) and their headers, this package's and its dependencies'.
c_flags=()
for map in Sources/*/module.modulemap; do c_flags+=(-I "$(dirname "$map")"); done
for map in "$bin"/*.build/module.modulemap; do
    [ -e "$map" ] && c_flags+=(-Xcc "-fmodule-map-file=$map")
done
for include in Sources/*/include "$scratch"/checkouts/*/Sources/*/include; do
    [ -d "$include" ] && c_flags+=(-Xcc -I -Xcc "$include")
done
if command -v pkg-config >/dev/null 2>&1; then
    for flag in $(pkg-config --cflags-only-I libzip 2>/dev/null); do c_flags+=(-Xcc "$flag"); done
fi

# document MODULE OUTPUT [RE-EXPORTED MODULES]: the module's symbol graph, then its catalog.
document() {
    local module=$1 archive=$2 reexported=${3:-}
    local symbols=$scratch/symbol-graphs/$module
    rm -rf "$symbols"
    mkdir -p "$symbols"
    local extra=()
    [ -n "$reexported" ] && extra+=("-experimental-allowed-reexported-modules=$reexported")
    "$extract" -module-name "$module" -target "$triple" -I "$modules" "${c_flags[@]}" \
        -minimum-access-level public -skip-inherited-docs ${extra[@]+"${extra[@]}"} \
        -output-dir "$symbols"

    # Start from nothing, but never remove a folder that is not a documentation archive.
    case "$archive" in *.doccarchive) rm -rf "$archive" ;; esac
    "$docc" convert "Sources/$module/$module.docc" \
        --additional-symbol-graph-dir "$symbols" \
        --fallback-display-name "$module" \
        --fallback-bundle-identifier "swift-pth.$module" \
        --output-path "$archive" \
        --warnings-as-errors
    echo "documentation: $archive" >&2
}

document TorchCheckpoint "$output" TorchValues,TorchPickle,TorchZip
document TorchCheckpointTesting "$(dirname "$output")/TorchCheckpointTesting.doccarchive"
