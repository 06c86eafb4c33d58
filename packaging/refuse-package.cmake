# CPack pre-build script of sanitizer and fuzzing trees (see CMakeLists.txt):
# their binaries need the sanitizer runtimes and are not what users run.
message(FATAL_ERROR
  "meshgate: this tree is built with MESHGATE_SANITIZE or MESHGATE_FUZZ; build "
  "packages from a Release tree:\n"
  "  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target package")
