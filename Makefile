# fnhost: one entry point for building, running, testing, benchmarking and
# installing. `make run` and `make test` install missing Debian packages first.
# `make fuzz` runs the libFuzzer targets of tests/fuzz (see its README).

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
SAN     ?=

DEB_PACKAGES = build-essential pkg-config libuv1-dev libcjson-dev node-llhttp libpcre2-dev \
               libsqlite3-dev libprotobuf-c-dev libnghttp2-dev python3 tzdata strace
# only for `make proto` (the generated C is committed)
PROTO_PACKAGES = protobuf-c-compiler libprotobuf-dev
BENCH_PACKAGES = wrk util-linux
FUZZ_PACKAGES  = clang libclang-rt-14-dev
LLHTTP_DIR   = /usr/share/llhttp
LLHTTP_INC   = /usr/share/include/llhttp

PKGS     = libuv libcjson libpcre2-8 libprotobuf-c libnghttp2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT      ?= -O2
# Link-time optimisation for the host binary of a plain build (the request
# path crosses many small files). Fat objects: the unit tests link the same
# archive without it. Sanitizer and fuzz builds go without.
LTO      ?= $(if $(SAN),,-flto=auto -ffat-lto-objects)
CFLAGS_COMMON = -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Werror -MMD -MP $(SAN)
HOST_CFLAGS = $(CFLAGS_COMMON) -Ihost/include -Ihost/src $(HOST_INC) -I$(PROTO_OUT) -I$(LLHTTP_INC) \
              $(PKG_CFLAGS) \
              -DFNH_VERSION='"$(VERSION)"' -DFNH_PREFIX='"$(PREFIX)"'
HOST_LIBS   = $(PKG_LIBS) -ldl -lpthread -lm
FN_CFLAGS   = -std=c11 -D_GNU_SOURCE -g -O2 -Wall -Wextra -Werror -fPIC -fvisibility=hidden \
              -Ihost/include
FN_LDFLAGS  = -shared -Wl,-z,defs

VERSION = 0.1.0

# The worker protocol (Azure's FunctionRpc.proto, vendored in host/proto) as
# protobuf-c sources generated into $(PROTO_OUT) by `make proto`.
PROTO_DIR = host/proto/src/proto
PROTO_OUT = host/src/runners/proto
PROTO_FILES = FunctionRpc.proto identity/ClaimsIdentityRpc.proto shared/NullableTypes.proto \
              google/protobuf/duration.proto google/protobuf/timestamp.proto
PROTO_SRC = $(patsubst %.proto,$(PROTO_OUT)/%.pb-c.c,$(PROTO_FILES))

# host/src/<part>/: each folder one part of the host (see its README.md);
# every part's folder is on the include path.
HOST_DIRS = $(sort $(dir $(wildcard host/src/*/*.c host/src/*/*.h)))
HOST_INC  = $(patsubst %/,-I%,$(HOST_DIRS))
HOST_SRC  = $(wildcard host/src/*/*.c) $(PROTO_SRC)
CORE_SRC  = $(filter-out host/src/cli/main.c,$(HOST_SRC))
CORE_OBJ  = $(CORE_SRC:%.c=$(BUILD)/%.o) $(EMBED_OBJ)
MAIN_OBJ  = $(BUILD)/host/src/cli/main.o
LLHTTP_OBJ = $(BUILD)/llhttp/api.o $(BUILD)/llhttp/http.o $(BUILD)/llhttp/llhttp.o
LLHTTP_LIB = $(BUILD)/libllhttp.a
CORE_LIB  = $(BUILD)/libfnhost-core.a

# The scaffolding templates (fnhost init/new/templates) and the extension
# guide (fnhost help extensions), compiled into the binary by embed.py so an
# installed fnhost needs no data files.
EMBED_FILES = $(sort $(shell find host/src/cli/templates -type f ! -name embed.py \
                ! -name README.md)) docs/writing-an-extension.md
EMBED_OBJ   = $(BUILD)/gen/embedded.o

UNIT_SRC  = $(wildcard tests/unit/test-*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# Native functions: every <app>/<Function>/*.c builds to a .so beside it.
FN_SRC    = $(wildcard samples/*/*/*.c tests/apps/*/*/*.c tests/fuzz/app/*/*.c)
FN_SO     = $(FN_SRC:%.c=%.so)

# Extensions: extensions/<name>/*.c build to $(BUILD)/extensions/fnh_<name>.so,
# linked with -z defs (no host symbols) plus the libraries in EXT_LIBS_<name>.
EXT_NAMES = $(filter-out template,$(notdir $(wildcard extensions/*)))
EXT_SO    = $(EXT_NAMES:%=$(BUILD)/extensions/fnh_%.so)
TEST_EXT_SO = $(patsubst tests/ext/%.c,$(BUILD)/tests/ext/%.so,$(wildcard tests/ext/*.c)) \
              $(BUILD)/tests/ext/ticktrig-v2.so
EXT_LIBS_queue = -lsqlite3 -lpthread
EXT_LIBS_blob  = -lpthread
EXT_CFLAGS = -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Werror -MMD -MP -fPIC \
             -fvisibility=hidden -Ihost/include $(SAN)

BENCH_BIN = $(BUILD)/bench/refserver

.PHONY: samples-node all deps run test check check-asan check-tsan unit bench bench-instructions bench-queue bench-blob install install-headers clean functions extensions \
        fuzz check-fuzz fuzz-deps fuzz-build proto
all: $(BUILD)/fnhost functions extensions $(UNIT_BIN)

extensions: $(EXT_SO) $(TEST_EXT_SO)

# Fixture extensions for the tests: tests/ext/<name>.c -> $(BUILD)/tests/ext/<name>.so
$(BUILD)/tests/ext/%.so: tests/ext/%.c host/include/fnhost/extension.h
	@mkdir -p $(@D)
	$(CC) $(EXT_CFLAGS) -shared -Wl,-z,defs -o $@ $< -lpthread

# The tick fixture built again as version 2.0.0: a rebuilt extension
$(BUILD)/tests/ext/ticktrig-v2.so: tests/ext/ticktrig.c host/include/fnhost/extension.h
	@mkdir -p $(@D)
	$(CC) $(EXT_CFLAGS) -DTICK_VERSION='"2.0.0"' -shared -Wl,-z,defs -o $@ $< -lpthread

.SECONDEXPANSION:
$(BUILD)/extensions/fnh_%.so: $$(wildcard extensions/%/*.c) $$(wildcard extensions/%/*.h) host/include/fnhost/extension.h
	@mkdir -p $(@D)
	$(CC) $(EXT_CFLAGS) -shared -Wl,-z,defs -o $@ $(filter %.c,$^) $(EXT_LIBS_$*)

functions: $(FN_SO)

# Installs the missing packages of $(1) (as root; otherwise says what to run).
define install_packages
	@missing=""; for p in $(1); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "fnhost: installing Debian packages:$$missing"; \
	    (apt-get install -y --no-install-recommends $$missing || \
	     (apt-get update && apt-get install -y --no-install-recommends $$missing)) >/dev/null || exit 1; \
	  else \
	    echo "fnhost: missing Debian packages. Run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
endef

deps:
	$(call install_packages,$(DEB_PACKAGES))

fuzz-deps:
	$(call install_packages,$(FUZZ_PACKAGES))

# Regenerates the committed protobuf-c sources from the vendored .proto files.
proto:
	@for p in $(PROTO_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || \
	  { echo "make proto needs: apt-get install -y $(PROTO_PACKAGES)"; exit 1; }; done
	mkdir -p $(PROTO_OUT) && find $(PROTO_OUT) -name '*.pb-c.[ch]' -delete
	cd $(PROTO_DIR) && protoc-c -I. -I/usr/include --c_out=$(CURDIR)/$(PROTO_OUT) $(PROTO_FILES)

$(BUILD)/fnhost: $(MAIN_OBJ) $(CORE_LIB) $(LLHTTP_LIB) $(SAN_OBJ)
	$(CC) $(SAN) $(OPT) $(LTO) -o $@ $(MAIN_OBJ) $(SAN_OBJ) $(CORE_LIB) $(LLHTTP_LIB) $(HOST_LIBS)

$(CORE_LIB): $(CORE_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/host/src/%.o: host/src/%.c
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(LTO) -c -o $@ $<

# (the folders too: a file added or removed changes their time)
$(BUILD)/gen/embedded.c: host/src/cli/templates/embed.py $(EMBED_FILES) Makefile \
                         $(shell find host/src/cli/templates -type d)
	@mkdir -p $(@D)
	python3 host/src/cli/templates/embed.py $@ $(EMBED_FILES)

$(EMBED_OBJ): $(BUILD)/gen/embedded.c
	$(CC) $(HOST_CFLAGS) -c -o $@ $<

$(BUILD)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -g $(OPT) $(LTO) $(SAN) -w -I$(LLHTTP_INC) -c -o $@ $<

$(LLHTTP_LIB): $(LLHTTP_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(CORE_LIB) $(LLHTTP_LIB) $(SAN_OBJ)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(SAN_OBJ) $(CORE_LIB) $(LLHTTP_LIB) $(HOST_LIBS)

# Objects only sanitizer builds link in (see tests/tsan/).
$(BUILD)/tests/tsan/%.o: tests/tsan/%.c
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -c -o $@ $<

%.so: %.c host/include/fnhost/function.h host/include/fnhost/common.h
	$(CC) $(FN_CFLAGS) $(FN_LDFLAGS) -o $@ $< $(if $(findstring samples/hello/,$<),-lcjson,)

run: deps
	@$(MAKE) --no-print-directory all
	./$(BUILD)/fnhost start --script-root samples/hello

# make test: every test against the optimised build, then all again under
# AddressSanitizer + UndefinedBehaviorSanitizer, then the tests that drive
# threads (worker pool, fnh_fire from extension threads) under ThreadSanitizer,
# then every fuzz target for a few seconds.
test: deps fuzz-deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory check-asan
	@$(MAKE) --no-print-directory check-tsan
	@$(MAKE) --no-print-directory check-fuzz

# Node.js apps (samples/node-*, tests/apps/node-*): their node_modules from
# `npm ci` against the committed package-lock.json, again when it changes.
# The tests need them; `make run` does not.
NODE_APPS = $(patsubst %/package-lock.json,%,$(wildcard samples/node-*/package-lock.json \
                                                        tests/apps/node-*/package-lock.json \
                                                        tests/apps/azure-customhandler-retry/package-lock.json))
samples-node:
	@command -v npm >/dev/null || { echo "fnhost: npm is missing; install Node.js and npm" \
	  "(apt-get install -y nodejs npm)"; exit 1; }
	@for d in $(NODE_APPS); do \
	  if [ ! -f $$d/node_modules/.fnhost-npm-ci ] || [ $$d/package-lock.json -nt $$d/node_modules/.fnhost-npm-ci ]; then \
	    echo "npm ci in $$d"; (cd $$d && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
	    mkdir -p $$d/node_modules && touch $$d/node_modules/.fnhost-npm-ci; \
	  fi; done

check: samples-node
	python3 tests/run.py --build $(BUILD)

check-asan: samples-node
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	  build-asan/fnhost $(UNIT_BIN:$(BUILD)/%=build-asan/%) functions extensions
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  python3 tests/run.py --build build-asan

# Under ThreadSanitizer: the tests of every part that runs threads or child
# processes (worker pool, extensions' threads, isolated runner, language
# workers, custom handlers, hot reload's snapshot swaps).
TSAN_UNITS = test-pool test-fd-reuse test-isolated test-supervisor test-grpc
TSAN_E2E   = test_extensions test_queue test_blob test_functions test_timer test_robust_dispatch \
             test_retry test_http_throttles test_reload test_invoke test_custom_handler \
             test_node_worker
comma := ,
empty :=
space := $(empty) $(empty)
TSAN_TESTS = $(subst $(space),$(comma),$(strip $(TSAN_E2E) $(TSAN_UNITS)))
check-tsan: samples-node
	@$(MAKE) --no-print-directory BUILD=build-tsan OPT=-O1 \
	  SAN="-fsanitize=thread -fno-omit-frame-pointer" SAN_OBJ=build-tsan/tests/tsan/libuv_closes.o \
	  build-tsan/fnhost $(TSAN_UNITS:%=build-tsan/tests/%) functions extensions
	TSAN_OPTIONS=halt_on_error=0 python3 tests/run.py --build build-tsan -k $(TSAN_TESTS)

# Fuzzing: tests/fuzz/fuzz_<name>.c are libFuzzer targets linked against the
# host core built with clang into build-fuzz/. `make fuzz` runs each for
# FUZZ_SECONDS over its corpus (kept in build-fuzz/corpus/<name>, seeded from
# tests/fuzz/corpus/<name>); `make check-fuzz` runs each for
# FUZZ_CHECK_SECONDS over a fresh copy of the seeds, skipping the inputs of
# the known bugs listed in tests/fuzz/README.md, and fails on any other crash,
# leak or timeout. FUZZ_TARGETS="http route" picks targets.
FUZZ_BUILD   = build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 5
FUZZ_SAN     = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer
FUZZ_NAMES   = $(filter-out common,$(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_APP_SO  = $(filter tests/fuzz/app/%,$(FN_SO))

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang OPT=-O1 SAN="$(FUZZ_SAN)" \
	  $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%) $(FUZZ_APP_SO)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

check-fuzz: fuzz-build
	tests/fuzz/run.sh --check $(FUZZ_BUILD) $(FUZZ_CHECK_SECONDS) $(FUZZ_TARGETS)

$(BUILD)/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -DFUZZ_APP_DIR='"$(CURDIR)/tests/fuzz/app"' -c -o $@ $<

$(BUILD)/fuzz_%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/fuzz/fuzz_common.o $(CORE_LIB) $(LLHTTP_LIB)
	$(CC) $(SAN) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(CORE_LIB) $(LLHTTP_LIB) $(HOST_LIBS)

$(BENCH_BIN): bench/refserver.c $(LLHTTP_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -I$(LLHTTP_INC) $(PKG_CFLAGS) -o $@ $< $(LLHTTP_LIB) $(HOST_LIBS)

bench: deps
	$(call install_packages,$(BENCH_PACKAGES))
	@$(MAKE) --no-print-directory all $(BENCH_BIN) samples-node
	@# every part runs, whatever an earlier one found; make bench fails at the
	@# end when any missed a target
	@failed=0; \
	for cmd in "bench/run.py --build $(BUILD)" "bench/node_worker.py --build $(BUILD)" \
	           "bench/timers.py --build $(BUILD)" \
	           "bench/custom_handler.py --build $(BUILD) --out bench/custom_handler.md" \
	           "bench/blob.py --build $(BUILD) --quick"; do \
	  echo "python3 $$cmd"; python3 $$cmd || failed=$$((failed + 1)); \
	done; \
	if [ $$failed -ne 0 ]; then echo "bench: $$failed part(s) missed a target"; exit 1; fi

# Instructions per request under callgrind (bench/instructions.py; about a
# minute): the host's own work per request, free of the machine's noise.
bench-instructions: deps
	$(call install_packages,valgrind wrk)
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	python3 bench/instructions.py --build $(BUILD)

# The queue extension's benchmark (bench/queue.py; about three minutes).
bench-queue: deps
	$(call install_packages,$(BENCH_PACKAGES))
	@$(MAKE) --no-print-directory all
	python3 bench/queue.py --build $(BUILD)


# bench-blob: the blob trigger's full benchmark (minutes: 100,000 blobs).
bench-blob: all
	python3 bench/blob.py --build $(BUILD)

# install-headers: what building a function or an extension out of tree needs.
install-headers:
	install -d $(DESTDIR)$(PREFIX)/include/fnhost $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 host/include/fnhost/*.h $(DESTDIR)$(PREFIX)/include/fnhost/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' config/fnhost.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/fnhost.pc

# install: the samples and the extension template are copied with their built
# .so files but without the runtime state a run leaves in them (.fnhost/,
# the template example's out/).
install: all install-headers
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/fnhost/config \
	  $(DESTDIR)$(PREFIX)/lib/fnhost/extensions $(DESTDIR)$(PREFIX)/share/fnhost/extensions
	install -m 755 $(BUILD)/fnhost $(DESTDIR)$(PREFIX)/bin/fnhost
	$(if $(EXT_SO),install -m 755 $(EXT_SO) $(DESTDIR)$(PREFIX)/lib/fnhost/extensions/)
	install -d $(DESTDIR)$(PREFIX)/lib/fnhost/workers
	tar -cf - workers | tar -xf - -C $(DESTDIR)$(PREFIX)/lib/fnhost
	install -m 644 config/extensions.json $(DESTDIR)$(PREFIX)/share/fnhost/config/
	tar -cf - --exclude=.fnhost --exclude=node_modules samples | tar -xf - -C $(DESTDIR)$(PREFIX)/share/fnhost
	tar -cf - --exclude=.fnhost --exclude=template/example/out -C extensions template | \
	  tar -xf - -C $(DESTDIR)$(PREFIX)/share/fnhost/extensions

clean:
	rm -rf build build-asan build-tsan $(FUZZ_BUILD) $(FN_SO)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
