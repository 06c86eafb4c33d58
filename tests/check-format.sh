#!/bin/sh
# Fails when a C source or header differs from what clang-format makes of it.
# Usage (from the top of the tree): tests/check-format.sh [CLANG_FORMAT]
set -eu
clang_format=${1:-clang-format}
files=$(find daemon router exitnode webui tests -name '*.[ch]' 2>/dev/null | sort)
# shellcheck disable=SC2086
if ! "$clang_format" --dry-run -Werror $files; then
	echo "fix with: clang-format -i <file>  (style: .clang-format)"
	exit 1
fi
echo "$(echo "$files" | wc -l) files formatted"
