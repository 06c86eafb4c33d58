#!/bin/sh
# The README's Quick start, as one script. Run as root on Debian 12.
#   packaging/quickstart.sh start   install dependencies, build, start the appliance
#   packaging/quickstart.sh test    install dependencies, build, run the whole test suite
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

case "${1:-}" in
start)
	packaging/install-deps.sh
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
	cmake --build build -j"$jobs"
	exec packaging/start-appliance.sh build
	;;
test)
	packaging/install-deps.sh
	# The test build: warnings are errors, ASan + UBSan on everything.
	cmake -S . -B build-test -DMESHGATE_WERROR=ON -DMESHGATE_SANITIZE=ON
	cmake --build build-test -j"$jobs"
	cd build-test
	exec ctest --output-on-failure --timeout 900
	;;
*)
	echo "usage: $0 start|test" >&2
	exit 2
	;;
esac
