# Writes OUT, a C file holding the page's assets as byte arrays (see
# webui/assets.h). Run as: cmake -DSRC=<assets dir> -DOUT=<file> -P embed.cmake
# Pure CMake, so the build needs no xxd.
set(assets
    "/|index.html|text/html"
    "/app.js|app.js|text/javascript"
    "/style.css|style.css|text/css")
set(body "/* Generated from webui/assets/ by webui/embed.cmake; do not edit. */\n")
string(APPEND body "#include \"webui/assets.h\"\n\n")
set(table "")
set(i 0)
foreach(entry ${assets})
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 url)
  list(GET parts 1 file)
  list(GET parts 2 type)
  file(READ "${SRC}/${file}" hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
  string(APPEND body "static const unsigned char asset${i}[] = {\n${bytes}0x00\n};\n\n")
  string(APPEND table "\t{ \"${url}\", \"${type}; charset=utf-8\", asset${i}, ${len} },\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "const struct web_asset web_assets[] = {\n${table}};\n")
string(APPEND body "const size_t web_n_assets = ${i};\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
