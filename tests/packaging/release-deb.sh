#!/bin/sh
# Builds the Debian package the way a release is built: a Release tree of
# its own (no sanitizers, no tests) under BUILD_DIR/pkg-release, so that the
# package never depends on the sanitizer runtimes of the test build.
# Usage: release-deb.sh SOURCE_DIR BUILD_DIR    prints the package's path
set -eu
src=$1
tree=$2/pkg-release
log=$2/pkg-release.log

{
	cmake -S "$src" -B "$tree" -DCMAKE_BUILD_TYPE=Release -DMESHGATE_TESTS=OFF \
		-DMESHGATE_SANITIZE=OFF -DMESHGATE_WERROR=ON &&
		cmake --build "$tree" -j"$(nproc 2>/dev/null || echo 2)" &&
		rm -f "$tree"/meshgate_*.deb &&
		cmake --build "$tree" --target package
} >"$log" 2>&1 || {
	cat "$log" >&2
	echo "release-deb.sh: the package did not build (log above)" >&2
	exit 1
}
version=$(sed -n 's/^project(meshgate VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
deb="$tree/meshgate_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || {
	echo "release-deb.sh: $deb was not written" >&2
	exit 1
}
echo "$deb"
