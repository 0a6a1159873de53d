#!/bin/sh
# The Windows toolchain from Debian's archive: fetches the source packages by name (apt-get
# source), cross-builds them with mingw-w64 and installs the result in a cache outside the clone,
# reused while the sources' versions are the same. Prints the cache's directory on stdout.
#   bin/    luajit.exe, lua51.dll, libcurl-x64.dll (Schannel, no CA path): what a Windows user
#           needs; cjson.dll, the JSON reference of the specs; and licenses/ with each source
#           package's debian/copyright
#   test/   what busted and the specs need beyond pure Lua: lfs.dll, socket/core.dll,
#           mime/core.dll and LuaSocket's Lua modules (busted's system.core and term.core are
#           tools/windows/lua/, LuaJIT's FFI over kernel32 and the C runtime)
# A deb-src entry for the same archive is added when there is none (root only), as a file
# beside debian.sources. Any failure names the package and the step, and shows the log's end.
# usage: tools/windows/toolchain.sh   (make windows-toolchain; WIN_TOOLCHAIN_JOBS=2)
set -eu
prefix=${WIN_PREFIX:-x86_64-w64-mingw32-}
jobs=${WIN_TOOLCHAIN_JOBS:-2}
root=${XDG_CACHE_HOME:-$HOME/.cache}/aimlmusic
packages="luajit curl lua-cjson lua-filesystem luasocket"
# Bumped when a recipe below changes, so that the cache is rebuilt.
recipe=1

say() { echo "windows-toolchain: $*" >&2; }
fail() {
  say "FAILED: $*"
  exit 1
}

have_deb_src() {
  grep -rqsE '^[[:space:]]*(Types:.*deb-src|deb-src[[:space:]])' /etc/apt/sources.list /etc/apt/sources.list.d/
}

if ! have_deb_src; then
  src=/etc/apt/sources.list.d/debian.sources
  list=/etc/apt/sources.list.d/aimlmusic-deb-src.sources
  [ -f "$src" ] || fail "no deb-src entry and no $src to copy one from: add a deb-src line for your archive"
  [ "$(id -u)" = 0 ] || fail "no deb-src entry; as root this adds $list (a copy of $src with Types: deb-src), or add one yourself and run apt-get update"
  say "adding $list (Types: deb-src, the same URIs, Suites and Components as $src)"
  sed 's/^Types:.*/Types: deb-src/' "$src" >"$list"
  apt-get update -qq || fail "apt-get update after adding $list"
fi

# The versions apt-get source would fetch: the .dsc names name the cache.
dscs=""
for p in $packages; do
  d=$(apt-get source --print-uris --only-source "$p" 2>/dev/null | sed -n "s/^'[^']*' \([^ ]*\.dsc\) .*/\1/p" | head -n 1)
  [ -n "$d" ] || { apt-get source --print-uris --only-source "$p" >&2 || true; fail "no source package $p in the apt sources (apt-get update?)"; }
  dscs="$dscs $d"
done
key=$(echo "$recipe$dscs" | sha256sum | cut -c1-12)
dir=$root/windows-$key
if [ -f "$dir/done" ]; then
  echo "$dir"
  exit 0
fi
say "building into $dir from:$dscs"
# A build cut short keeps what it finished: each step below is skipped when its output exists.
rm -rf "$dir/logs"
mkdir -p "$dir/src" "$dir/bin/licenses" "$dir/test" "$dir/include" "$dir/lib" "$dir/logs"
start=$(date +%s)

# run STEP PACKAGE COMMAND...: the command's output goes to a log, shown if it fails.
run() {
  step=$1 pkg=$2
  shift 2
  log=$dir/logs/$pkg.log
  echo "== $step: $*" >>"$log"
  if ! "$@" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    fail "$pkg: $step ($*); the whole log: $log"
  fi
}

# Fetch and unpack every source package (dpkg-source applies Debian's patches). Where the
# archive serves the upstream tarball but not Debian's part, the upstream tarball is used as it is.
cd "$dir/src"
for p in $packages; do
  [ -z "$(find . -mindepth 1 -maxdepth 1 -type d -name "$p-*")" ] || continue
  log=$dir/logs/$p.log
  if ! apt-get source -qq --download-only --only-source "$p" >>"$log" 2>&1; then
    orig=$(ls "$p"_*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n 1 || true)
    [ -n "$orig" ] || { tail -n 5 "$log" >&2; fail "$p: apt-get source: the archive did not serve it; the log: $log"; }
    say "$p: the archive served $orig only: building it without Debian's patches"
    run "unpack $orig" "$p" tar xf "$orig"
    continue
  fi
  run "dpkg-source -x" "$p" dpkg-source -x "$(ls "$p"_*.dsc | head -n 1)"
done
srcdir() { find "$dir/src" -mindepth 1 -maxdepth 1 -type d -name "$1-*" | head -n 1; }
# The licence notice: Debian's copyright file, else upstream's own.
license() {
  s=$(srcdir "$1")
  for f in debian/copyright COPYRIGHT LICENSE COPYING; do
    if [ -f "$s/$f" ]; then
      cp "$s/$f" "$dir/bin/licenses/$2.txt"
      return 0
    fi
  done
  fail "$1: no licence notice (debian/copyright) in $s"
}
cc=${prefix}gcc

# LuaJIT: luajit.exe and lua51.dll.
s=$(srcdir luajit)
[ -f "$dir/bin/luajit.exe" ] || run "make" luajit make -C "$s/src" -j"$jobs" HOST_CC=gcc CROSS="$prefix" TARGET_SYS=Windows BUILDMODE=dynamic \
  amalg
cp "$s/src/luajit.exe" "$s/src/lua51.dll" "$dir/bin/"
for h in lua.h luaconf.h lauxlib.h lualib.h luajit.h lua.hpp; do cp "$s/src/$h" "$dir/include/"; done
license luajit LuaJIT

# libcurl: HTTP and HTTPS through Schannel only, no CA bundle or path from this machine.
s=$(srcdir curl)
cd "$s"
[ -f lib/.libs/libcurl-4.dll ] || run "configure" curl ./configure --host="${prefix%-}" --enable-shared --disable-static \
  --with-schannel --without-ca-bundle --without-ca-path --without-ca-fallback \
  --without-zlib --without-brotli --without-zstd --without-libpsl --without-libidn2 --without-nghttp2 \
  --without-libssh2 --without-librtmp --without-libgsasl \
  --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet --disable-tftp \
  --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
  --disable-ftp --disable-file --disable-manual --disable-docs --disable-ntlm \
  --disable-kerberos-auth --disable-negotiate-auth --enable-threaded-resolver --disable-pthreads
[ -f lib/.libs/libcurl-4.dll ] || run "make" curl make -C lib -j"$jobs" ACLOCAL=true AUTOCONF=true AUTOMAKE=true AUTOHEADER=true
cp lib/.libs/libcurl-4.dll "$dir/bin/libcurl-x64.dll"
mkdir -p "$dir/include/curl"
cp include/curl/*.h "$dir/include/curl/"
license curl curl
cd "$dir/src"

# A Lua C module from sources: module OUT.dll SOURCES... [-- FLAGS...]
module() {
  pkg=$1 out=$2
  shift 2
  mkdir -p "$(dirname "$out")"
  run "compile $(basename "$out")" "$pkg" "$cc" -O2 -shared -static-libgcc -I"$dir/include" -o "$out" "$@" \
    "$dir/bin/lua51.dll"
}

s=$(srcdir lua-cjson)
# LuaJIT 2.1 has luaL_setfuncs, which lua-cjson 2.1.0 defines for Lua 5.1: its own is renamed.
sed -i 's/luaL_setfuncs/cjson_setfuncs/g' "$s/lua_cjson.c"
module lua-cjson "$dir/bin/cjson.dll" "$s/lua_cjson.c" "$s/strbuf.c" "$s/fpconv.c"
license lua-cjson lua-cjson

s=$(srcdir lua-filesystem)
module lua-filesystem "$dir/test/lfs.dll" "$s/src/lfs.c"
s=$(srcdir luasocket)
module luasocket "$dir/test/socket/core.dll" "$s/src/luasocket.c" "$s/src/timeout.c" "$s/src/buffer.c" \
  "$s/src/io.c" "$s/src/auxiliar.c" "$s/src/compat.c" "$s/src/options.c" "$s/src/inet.c" "$s/src/wsocket.c" \
  "$s/src/except.c" "$s/src/select.c" "$s/src/tcp.c" "$s/src/udp.c" \
  -D_WIN32_WINNT=0x0600 -lws2_32
module luasocket "$dir/test/mime/core.dll" "$s/src/mime.c" "$s/src/compat.c"
for f in ltn12 socket mime; do cp "$s/src/$f.lua" "$dir/test/"; done
for f in http url tp ftp headers smtp; do cp "$s/src/$f.lua" "$dir/test/socket/"; done

# Every DLL and the executable import only Windows' own DLLs and each other.
for f in "$dir"/bin/*.exe "$dir"/bin/*.dll "$dir"/test/*.dll "$dir"/test/*/*.dll; do
  for imp in $("${prefix}objdump" -p "$f" | sed -n 's/^[[:space:]]*DLL Name: //p'); do
    case "$(echo "$imp" | tr 'A-Z' 'a-z')" in
      kernel32.dll | msvcrt.dll | ws2_32.dll | advapi32.dll | bcrypt.dll | crypt32.dll | lua51.dll | libcurl-x64.dll) ;;
      *) fail "$f imports $imp, which a Windows user does not have" ;;
    esac
  done
done

echo "$dscs" >"$dir/done"
say "built in $(($(date +%s) - start)) s: $dir"
echo "$dir"
