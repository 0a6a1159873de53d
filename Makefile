# aimlmusic: `make` builds, `make test` runs the specs, `make demo` generates a track.
# Where apt exists, each target first installs the Debian packages it lacks (as root), or says
# what to install; elsewhere it builds with what is there and names what is missing.
# LUA picks the runtime: lua5.4 (default), lua5.3, lua5.2, lua5.1 or luajit.
# Found with pkg-config or in the usual directories; LuaRocks-style overrides:
#   make LUA_INCDIR=/opt/lua/include CURL_INCDIR=... CURL_LIBDIR=...

LUA ?= lua5.4
CC ?= cc
PKG_CONFIG ?= pkg-config
FLAGS_ENV = PKG_CONFIG='$(PKG_CONFIG)' LUA_INCDIR='$(LUA_INCDIR)' CURL_INCDIR='$(CURL_INCDIR)' CURL_LIBDIR='$(CURL_LIBDIR)'

# Recursive (=) so that they are computed after `deps` has installed the runtime.
LUA_CFLAGS = $(shell $(FLAGS_ENV) tools/buildflags.sh lua-cflags $(LUA))
CURL_CFLAGS = $(shell $(FLAGS_ENV) tools/buildflags.sh curl-cflags)
CURL_LIBS = $(shell $(FLAGS_ENV) tools/buildflags.sh curl-libs)
BUILD = build/$(LUA)
# A Lua module on macOS is a bundle whose Lua symbols the interpreter resolves at load time.
LIBFLAG = $(if $(filter Darwin,$(shell uname -s)),-bundle -undefined dynamic_lookup,-shared)

WARN = -pedantic -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c99 -D_POSIX_C_SOURCE=200809L -fPIC -fvisibility=hidden $(WARN) $(CFLAGS) \
	$(LUA_CFLAGS) $(CURL_CFLAGS)
SRC = $(wildcard src/*.c)
HDR = $(wildcard src/*.h)

BUSTED = /usr/bin/busted
# Specs tagged #windows drive wine and need `make windows-dist`: `make windows-test` runs them.
SPEC_EXCLUDE = --exclude-tags=windows
TEST_PATH = ./lua/?.lua;./lua/?/init.lua;./spec/?.lua;;
TEST_ENV = LUA_PATH='$(TEST_PATH)' LUA_CPATH='./$(BUILD)/?.so;;' AIMLMUSIC_TEST_LUA=$(LUA)
LUACHECK_DIRS = $(wildcard lua spec examples bench tools plugin) bin/aimlmusic bin/aimlmusic-mock

.PHONY: all build layers test test-all demo asan valgrind tsan lint analyze format-check rock rock-config rock-pack fuzz bench \
	clean nvim docs love-bundle windows windows-toolchain windows-test windows-dist
RUNTIMES = lua5.1 lua5.2 lua5.3 lua5.4 luajit

all: build

deps-%:
	@tools/deps.sh $(LUA) $*

deps-windows:
	@tools/deps.sh luajit windows

build: deps-build $(BUILD)/aimlmusic/core.so

$(BUILD)/aimlmusic/core.so: $(SRC) $(HDR) Makefile
	@CC='$(CC)' LUA=$(LUA) LUA_CFLAGS='$(LUA_CFLAGS)' CURL_CFLAGS='$(CURL_CFLAGS)' CURL_LIBS='$(CURL_LIBS)' tools/probe.sh
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LIBFLAG) -o $@ $(SRC) $(CURL_LIBS) -lm -pthread

# The whole suite: each spec file in a busted process of its own, JOBS at a time (default: one
# per CPU; JOBS=1 for one at a time), then their output in order and the total (tools/specs.sh).
# The LuaJIT core that the Neovim, LÖVE, LuaJIT and loop specs build is built first, once: made
# by several of them at the same moment, it would be one file written by two compilers (a
# failure here is theirs to report). With BUSTED_ARGS, one busted with them:
# make test BUSTED_ARGS=spec/encode_spec.lua
test: deps-test build layers
ifeq ($(strip $(BUSTED_ARGS)),)
	@$(MAKE) --no-print-directory build LUA=luajit >build/luajit-build.log 2>&1 || \
		echo "make build LUA=luajit failed (build/luajit-build.log): the specs that need it will fail" >&2
	@$(TEST_ENV) tools/specs.sh $(LUA) $(BUSTED) $(SPEC_EXCLUDE)
else
	$(TEST_ENV) $(LUA) $(BUSTED) $(SPEC_EXCLUDE) $(BUSTED_ARGS)
endif

# Each src/*.c compiled alone; nm proves that no file calls one above it (order in the script).
# Checked again when a source, a header or the script has changed since the last pass.
LAYERS_OK = $(BUILD)/layers/ok
layers: deps-build $(LAYERS_OK)

$(LAYERS_OK): $(SRC) $(HDR) tools/layers.sh Makefile
	@CC='$(CC)' CFLAGS='$(ALL_CFLAGS) -O0' tools/layers.sh $(BUILD)/layers
	@touch $@

# The repository is a Neovim plugin: core.so built for Neovim's LuaJIT where its runtimepath
# loader looks (lua/aimlmusic/core.so, ignored by git). lazy.nvim: build = "make nvim".
# Moved into place with a rename, so a running Neovim keeps the library it mapped (from a
# name of this make's own: specs running side by side may make nvim at once).
nvim:
	@$(MAKE) --no-print-directory build LUA=luajit || { echo "nvim: the core is not built. Install what is named" \
		"above (Debian, Ubuntu: sudo apt-get install gcc make pkg-config libluajit-5.1-dev libcurl4-openssl-dev)" \
		"and run make nvim again, or put a core built for Neovim's LuaJIT at $(CURDIR)/lua/aimlmusic/core.so" >&2; exit 1; }
	tmp=lua/aimlmusic/.core.so.tmp.$$$$; cp build/luajit/aimlmusic/core.so $$tmp && mv -f $$tmp lua/aimlmusic/core.so

# The full suite on every runtime users run: Lua 5.1 to 5.4 and LuaJIT.
test-all:
	@set -e; for l in $(RUNTIMES); do echo "== $$l"; $(MAKE) --no-print-directory test LUA=$$l; done

# Against the mock server, or against the real service when AIMLAPI_KEY is set.
demo: deps-demo build
	@LUA=$(LUA) BUILD=$(BUILD) sh tools/demo.sh

# The specs with the module built under AddressSanitizer and UBSan (about 3x slower: the CPU
# bounds of the specs scale by AIMLMUSIC_TIME_SCALE). The interpreter is not
# instrumented, so the sanitizer runtime is preloaded.
ASAN_BUILD = build/asan-$(LUA)
NODLCLOSE = build/nodlclose.so
$(NODLCLOSE): tools/nodlclose.c
	@mkdir -p build
	$(CC) -shared -fPIC -O2 $(WARN) -o $@ $<

asan: deps-asan build $(NODLCLOSE)
	@mkdir -p $(ASAN_BUILD)/aimlmusic
	$(CC) $(ALL_CFLAGS) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
		-fno-sanitize-recover=undefined -shared -o $(ASAN_BUILD)/aimlmusic/core.so $(SRC) $(CURL_LIBS) -lm -pthread
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so) $(CURDIR)/$(NODLCLOSE)" \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_odr_violation=0 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tools/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 AIMLMUSIC_TIME_SCALE=3 \
	LUA_PATH='$(TEST_PATH)' LUA_CPATH='./$(ASAN_BUILD)/?.so;;' AIMLMUSIC_TEST_LUA=$(LUA) \
		$(LUA) $(BUSTED) $(SPEC_EXCLUDE) $(BUSTED_ARGS)

# The specs under valgrind's memcheck: any definite or indirect leak fails the run.
valgrind: deps-valgrind build $(NODLCLOSE)
	$(TEST_ENV) AIMLMUSIC_TIME_SCALE=25 LD_PRELOAD=$(CURDIR)/$(NODLCLOSE) valgrind --quiet --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
		--suppressions=tools/valgrind.supp $(LUA) $(BUSTED) $(SPEC_EXCLUDE) $(BUSTED_ARGS)

# libFuzzer (clang) on the response classifier and the validator, in a real Lua state with
# AddressSanitizer and UBSan. FUZZ_SECONDS=600 for a long run.
FUZZ_SECONDS ?= 60
FUZZ_BIN = build/fuzz/fuzz_core
$(FUZZ_BIN): fuzz/fuzz_core.c $(SRC) $(HDR)
	@mkdir -p build/fuzz/corpus
	clang -std=c99 -D_POSIX_C_SOURCE=200809L -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -pedantic -Wall -Wextra -Werror $(shell pkg-config --cflags lua5.4 libcurl) \
		-o $@ fuzz/fuzz_core.c $(SRC) $(shell pkg-config --libs lua5.4 libcurl) -lm -pthread

fuzz: deps-fuzz $(FUZZ_BIN)
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 -print_final_stats=1 \
		build/fuzz/corpus fuzz/seeds fuzz/regressions

# The module against LuaSocket, the curl command, Python requests and a C floor over one
# libcurl handle, measured side by side; prints the table and writes bench/results.md.
bench: build
	LUA=$(LUA) LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./$(BUILD)/?.so;;' sh bench/run.sh

# No compiler needed: only luacheck.
lint: deps-lint
	@command -v luacheck >/dev/null 2>&1 || { echo "lint: luacheck is not on PATH (luarocks install luacheck)" >&2; exit 1; }
	luacheck $(LUACHECK_DIRS)

# Static analysis: clang-tidy over src/*.c with the checks .clang-tidy names (and why any is off),
# with the build's flags, then for Windows with mingw-w64's headers; any finding fails.
analyze: deps-analyze
	@CC='$(CC)' CFLAGS='$(ALL_CFLAGS)' CURL_CFLAGS='$(CURL_CFLAGS)' \
		WIN_LUA_CFLAGS='$(shell $(FLAGS_ENV) tools/buildflags.sh lua-cflags luajit)' tools/analyze.sh

# The recorded style: clang-format (.clang-format) over the C files; tools/editorconfig.lua over
# the Lua files for .editorconfig's rules (final newline, no trailing whitespace, indentation).
FORMAT_C = $(wildcard src/*.c src/*.h fuzz/*.c tools/*.c)
FORMAT_LUA = $(shell find lua spec examples bench tools plugin -name '*.lua' 2>/dev/null | sort) \
	bin/aimlmusic bin/aimlmusic-mock $(wildcard rockspecs/*.rockspec) .luacheckrc .busted config.ld
format-check: deps-format
	@status=0; \
	clang-format --dry-run --Werror $(FORMAT_C) || status=1; \
	$(LUA) tools/editorconfig.lua $(FORMAT_LUA) || status=1; \
	exit $$status

# The API reference (HTML) from the LDoc comments (Markdown) into docs/, per config.ld; any
# warning fails. The same comments make the same pages: no date in them (config.ld).
docs: deps-docs
	ldoc --fatalwarnings .

.PHONY: types release

# The LuaLS types of every model's parameters, from the model table (spec/docs_spec.lua fails
# when lua/aimlmusic/types.lua is not what this writes).
types:
	LUA_PATH='./lua/?.lua;;' $(LUA) tools/gen-types.lua lua/aimlmusic/types.lua

# Where the project is published, the one place that says it: make release writes the
# rockspecs' source.url from it, and the README's and the help's "<owner>/aimlmusic" stand for
# its owner. OWNER until the project has its public home: make release VERSION=x.y.z
# PROJECT_URL=https://github.com/NAME/aimlmusic (then here and in those two places).
PROJECT_URL = https://github.com/OWNER/aimlmusic

# make release VERSION=x.y.z: the release rockspec from the scm one, the CHANGELOG's
# "## Unreleased" named x.y.z, _VERSION and the core's version, then a check that they agree
# (tools/release.lua). Tagging and publishing stay the maintainer's (doc/development.md, "Releasing").
release:
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=x.y.z" >&2; exit 2; }
	$(LUA) tools/release.lua --url '$(PROJECT_URL)' $(VERSION)

# LuaRocks. `make rock` installs the scm rock into ROCK_TREE (~/.luarocks, created if missing:
# LuaRocks 3.8 will not, and refuses --local to root) and loads it from outside the checkout.
# The rock needs no other rock; LuaRocks reads a config of this build's own (empty), not the
# user's.
ROCK_LUA = $(if $(filter luajit,$(LUA)),5.1,$(patsubst lua%,%,$(LUA)))
ROCK_TREE ?= $(HOME)/.luarocks
ROCK_VARS ?=
ROCK_DIR = build/rock
ROCK_CONFIG = $(CURDIR)/$(ROCK_DIR)/config-$(ROCK_LUA).lua
LUAROCKS = LUAROCKS_CONFIG=$(ROCK_CONFIG) luarocks --lua-version=$(ROCK_LUA)
RELEASE_ROCKSPEC = $(lastword $(sort $(filter-out %-scm-1.rockspec,$(wildcard rockspecs/*.rockspec))))
RELEASE = $(patsubst rockspecs/aimlmusic-%.rockspec,%,$(RELEASE_ROCKSPEC))
SRC_ROCK = $(ROCK_DIR)/aimlmusic-$(RELEASE).src.rock

rock-config: deps-rock
	@mkdir -p $(ROCK_DIR)
	@: >$(ROCK_CONFIG)

rock: rock-config
	@mkdir -p $(ROCK_TREE)
	$(LUAROCKS) make --tree=$(ROCK_TREE) rockspecs/aimlmusic-scm-1.rockspec $(ROCK_VARS)
	@# man finds share/man beside the tree's bin/ on PATH (the rock keeps a copy in its man/ too)
	install -D -m 644 man/man1/aimlmusic.1 $(ROCK_TREE)/share/man/man1/aimlmusic.1
	cd /tmp && eval "$$($(LUAROCKS) path --tree=$(ROCK_TREE))" && \
		$(LUA) -e 'local m = require "aimlmusic"; print(m._VERSION, "loaded outside the checkout")'

# The release's .src.rock, packed offline from the unchanged release rockspec: git's insteadOf
# points its repository URL at a local repository holding the working tree (what git add -A
# would commit), tagged as the release.
rock-pack: rock-config
	@rm -rf $(ROCK_DIR)/repo.git $(SRC_ROCK)
	@git init -q --bare $(ROCK_DIR)/repo.git
	@export GIT_INDEX_FILE=$(CURDIR)/$(ROCK_DIR)/index GIT_AUTHOR_NAME=aimlmusic GIT_AUTHOR_EMAIL=build@localhost \
		GIT_COMMITTER_NAME=aimlmusic GIT_COMMITTER_EMAIL=build@localhost; \
	rm -f "$$GIT_INDEX_FILE"; git read-tree HEAD && git add -A && \
	c=$$(git commit-tree -p HEAD -m "the working tree" "$$(git write-tree)") && rm -f "$$GIT_INDEX_FILE" && \
	git push -q $(ROCK_DIR)/repo.git "$$c:refs/heads/release"
	@git -C $(ROCK_DIR)/repo.git tag v$(firstword $(subst -, ,$(RELEASE))) release
	cd $(ROCK_DIR) && GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=url.file://$(CURDIR)/$(ROCK_DIR)/repo.git.insteadOf \
		GIT_CONFIG_VALUE_0=$(PROJECT_URL).git $(LUAROCKS) pack $(CURDIR)/$(RELEASE_ROCKSPEC)
	@rm -rf $(ROCK_DIR)/repo.git
	@ls -l $(SRC_ROCK)

# The library as a LÖVE game carries it: build/love/ holds the Lua modules a game runs (not the
# command line, the mock server or the Neovim plugin), aimlmusic/core.so built for LuaJIT
# (LÖVE's Lua), and licenses/ with its notice: nothing else, its JSON is its own. Copied into a
# game's folder, `require "aimlmusic"` works from the folder, a zipped .love or a fused game.
# A player's machine needs what core.so links: glibc (the version printed) and libcurl.so.4.
LOVE_DIR = build/love
love-bundle:
	@$(MAKE) --no-print-directory build LUA=luajit
	@tools/deps.sh luajit love
	rm -rf $(LOVE_DIR)
	mkdir -p $(LOVE_DIR)/aimlmusic $(LOVE_DIR)/licenses
	cd lua && find . -name '*.lua' ! -path './aimlmusic/nvim/*' ! -path './aimlmusic/cli/*' ! -path './aimlmusic/mock/*' \
		! -name cli.lua ! -name mock.lua ! -name health.lua ! -name uv.lua ! -name cqueues.lua \
		-exec cp --parents {} $(CURDIR)/$(LOVE_DIR)/ \;
	cp build/luajit/aimlmusic/core.so $(LOVE_DIR)/aimlmusic/core.so
	cp LICENSE $(LOVE_DIR)/licenses/aimlmusic.txt
	@echo "love-bundle: a player needs glibc >= $$(objdump -T $(LOVE_DIR)/aimlmusic/core.so | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -k3,3n -u | tail -n 1) and $$(objdump -p $(LOVE_DIR)/aimlmusic/core.so | awk '/NEEDED/ && /curl/ {print $$2}')"

# core.dll for Windows, cross-built with mingw-w64 for LuaJIT's lua51.dll and libcurl
# (WIN_CURL_DLL=libcurl-4.dll for MSYS2's; default libcurl-x64.dll, curl's own Windows build)
# against import libraries made from tools/windows/*.def; fails unless the DLL exports
# luaopen_aimlmusic_core alone. Built here, not run.
windows: deps-windows
	@CC='$(CC)' LUA_CFLAGS='$(shell $(FLAGS_ENV) tools/buildflags.sh lua-cflags luajit)' \
		CURL_CFLAGS='$(CURL_CFLAGS)' WIN_CURL_DLL='$(WIN_CURL_DLL)' tools/windows.sh

# The Windows toolchain from Debian's source packages (LuaJIT, libcurl with Schannel, lua-cjson,
# and for the specs LuaFileSystem and LuaSocket), cross-built once into
# ~/.cache/aimlmusic/windows-<versions> (tools/windows/toolchain.sh).
windows-toolchain: deps-windows
	@tools/windows/toolchain.sh >/dev/null

# The specs under wine with LuaJIT for Windows against the mock on Linux's loopback; those
# tagged #posix (they need a POSIX-only tool) are listed and skipped.
windows-test: windows-dist
	@HOST_LUA=luajit tools/windows/test.sh $(WIN_BUSTED_ARGS)

# Windows without a compiler: build/windows/aimlmusic-<version>-windows-x64/ and its .zip.
windows-dist: windows windows-toolchain
	@tools/windows/dist.sh

# Also what `luarocks make` leaves in the tree: objects beside the sources, the module built
# at aimlmusic/core.so.
clean:
	rm -rf build demo-output lua/aimlmusic/core.so aimlmusic src/*.o

# ThreadSanitizer: tools/tsan.c runs several Lua states in threads through submit, download,
# cancel and close against the mock, with the module and the harness built with -fsanitize=thread.
TSAN_BUILD = build/tsan-lua5.4
tsan: LUA = lua5.4
tsan: deps-tsan build
	@mkdir -p $(TSAN_BUILD)/aimlmusic
	$(CC) $(ALL_CFLAGS) -O1 -g -fsanitize=thread -shared -o $(TSAN_BUILD)/aimlmusic/core.so $(SRC) \
		$(CURL_LIBS) -lm -pthread
	$(CC) -std=c99 -D_POSIX_C_SOURCE=200809L $(WARN) -O1 -g -fsanitize=thread \
		$(shell pkg-config --cflags lua5.4) -o $(TSAN_BUILD)/tsan tools/tsan.c $(shell pkg-config --libs lua5.4) -pthread
	TSAN_OPTIONS=halt_on_error=1:exitcode=66 LUA_PATH='$(TEST_PATH)' LUA_CPATH='./$(TSAN_BUILD)/?.so;;' \
		AIMLMUSIC_TEST_LUA=lua5.4 $(TSAN_BUILD)/tsan tools/tsan.lua 4
