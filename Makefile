# ai-memory: one non-recursive GNU Makefile.
#
#   make                 build lib/ (static archive) and every program into build/
#   make test            unit tests, then integration tests against a real PostgreSQL and Kafka
#   make unit            unit tests only (no services needed)
#   make integration     integration tests only
#                        (these three first install what is missing with scripts/deps.sh, as
#                        make demo does; SKIP_DEPS=1 skips that where the libraries come from
#                        elsewhere)
#   make SANITIZE=address,undefined test    the same under ASan/UBSan (separate build dir)
#   make chaos / soak    fault injection (issue 8) and the 30-minute soak (docs/RELIABILITY.md)
#   make valgrind        unit tests under valgrind
#   make valgrind-integration   ingest and summarizer under valgrind on real services
#   make fuzz FUZZ_SECONDS=60   libFuzzer targets (clang)
#   make format / format-check / lint
#   make demo            the whole pipeline on local services with a sample, until Ctrl-C (README)
#   make demo-check      the same, non-interactive: exits 0 when the sample's context came back right
#   make deps            install what the project needs (scripts/deps.sh)
#   make install PREFIX=/usr/local DESTDIR=   the programs into PREFIX/bin, the data they read
#                        (lexicons, prompts, migrations) into PREFIX/share/ai-memory

CC       ?= cc
empty    :=
space    := $(empty) $(empty)
PKGS     := rdkafka libpq jansson libcurl libjwt libmicrohttpd openblas
PKG_CONFIG ?= pkg-config
DEPS_SH  ?= scripts/deps.sh
PREFIX   ?= /usr/local
VERSION  := 0.1.0
PYTHON   ?= /usr/bin/python3
CLANG    ?= clang-14
CLANG_FORMAT ?= clang-format-14

ifeq ($(origin CC),default)
CC := gcc
endif

ifneq ($(SANITIZE),)
BUILD    ?= build/san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT      ?= -O1
else
BUILD    ?= build
SANFLAGS :=
OPT      ?= -O2
endif

WARN     := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
ifneq ($(WERROR),)
WARN     += -Werror
endif
# pkg-config runs once, when a recipe first needs the flags (on a fresh machine that is after
# deps-ensure installed the libraries), and quietly: before the libraries exist the Makefile
# still parses, and `make -n` prints no pkg-config errors.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $$(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null))$(PKG_LIBS)
CPPFLAGS += -D_GNU_SOURCE -DAIMEM_VERSION='"$(VERSION)"' -Ilib
CFLAGS   += -std=c11 -g $(OPT) $(WARN) -fno-common $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP
# --as-needed: a program records only the shared libraries it calls, so the daemons that do not
# embed with lib/minilm never load OpenBLAS (which starts its thread pool when loaded).
LDFLAGS  += $(SANFLAGS) -Wl,--as-needed
LDLIBS   += $(PKG_LIBS) -lpthread -lm

LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A    := $(BUILD)/libaimem.a

# calls/: the call-processing domain (built-in processors, model answer parsers, personality
# scoring), built as its own archive on top of lib/. Linked before lib/ wherever it is used
# (the workers, aimem, the tests); lib/ never includes it (make lint checks).
CALLS_SRC := $(wildcard calls/*.c)
CALLS_OBJ := $(CALLS_SRC:%.c=$(BUILD)/%.o)
CALLS_A   := $(BUILD)/libaimemcalls.a
LIBS_A    := $(CALLS_A) $(LIB_A)
$(CALLS_OBJ): CPPFLAGS += -Icalls

# Programs: name:folder. A program is built when its folder has .c files, so a new worker or
# API only needs its folder (and a line here). Each folder's own headers are on its include path.
PROGRAM_DIRS := aimem:cli aimem-ingest:ingest aimem-memories:workers/memories \
		aimem-summarizer:workers/summarizer aimem-personality:workers/personality \
		aimem-embedder:workers/embedder \
		aimem-query:query-api
PROGRAMS := $(foreach p,$(PROGRAM_DIRS),$(if $(wildcard $(word 2,$(subst :, ,$(p)))/*.c),$(p)))
prog_dir  = $(word 2,$(subst :, ,$(filter $(1):%,$(PROGRAMS))))
prog_obj  = $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(call prog_dir,$(1))/*.c))
CLI_OBJ  := $(call prog_obj,aimem)

BENCH_SRC := $(wildcard bench/*.c)
BENCH     := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)

TOOL_SRC := $(wildcard tests/tools/*.c)
TOOLS    := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/%)

BINS     := $(foreach p,$(PROGRAMS),$(BUILD)/bin/$(word 1,$(subst :, ,$(p))))
UNIT_BIN := $(BUILD)/tests/run-unit

# Every fuzz target is also built by the ordinary build with a replay main (tests/fuzz/replay.c),
# so `make test` (plain and SANITIZE=) replays its seeds and tests/fuzz/regressions/<target>/.
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%)
# fuzz_http links aimem-query's handlers (its own qdb stub replaces query-api/qdb.c)
FUZZ_QUERY_SRC := query-api/api.c query-api/native.c query-api/compat.c query-api/search.c \
		  query-api/query_cursor.c query-api/search_pool.c
# the unit runner tests aimem-query's cursors
UNIT_QUERY_SRC := query-api/query_cursor.c

ALL_OBJ  := $(FUZZ_SRC:%.c=$(BUILD)/%.o) $(BUILD)/tests/fuzz/replay.o $(LIB_OBJ) $(CALLS_OBJ) $(foreach p,$(PROGRAMS),$(call prog_obj,$(word 1,$(subst :, ,$(p))))) $(UNIT_OBJ) $(TOOL_SRC:%.c=$(BUILD)/%.o) \
	    $(BENCH_SRC:%.c=$(BUILD)/%.o)

.PHONY: all test unit integration bench chaos chaos-cluster soak valgrind valgrind-integration fuzz format format-check lint demo demo-check demo-down deps deps-ensure pkgs-check install docs clean
.DEFAULT_GOAL := all

# What every compile waits for (order-only): under `make test`, `unit` or `integration`, deps-ensure
# (install what is missing); otherwise pkgs-check (say which command installs the libraries
# instead of failing on a missing header).
ifneq ($(and $(filter test unit integration,$(MAKECMDGOALS)),$(if $(SKIP_DEPS),,yes)),)
DEPS_FIRST := deps-ensure
else
DEPS_FIRST := pkgs-check
endif

all: $(BINS) $(UNIT_BIN) $(TOOLS) $(BENCH) $(FUZZ_REPLAY)

$(BUILD)/%.o: %.c | $(DEPS_FIRST)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(CALLS_A): $(CALLS_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

# The HTTP programs serve their part of schemas/openapi.yaml at GET /openapi.json, compiled in
# as JSON (scripts/openapi-c.py; PyYAML is a test dependency already installed by deps.sh).
PROG_GEN_aimem-query  := $(BUILD)/gen/openapi_query.o
PROG_GEN_aimem-ingest := $(BUILD)/gen/openapi_ingest.o
$(BUILD)/gen/openapi_%.c: schemas/openapi.yaml scripts/openapi-c.py | $(DEPS_FIRST)
	@mkdir -p $(@D)
	$(PYTHON) scripts/openapi-c.py $* $< $@
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

define PROGRAM_RULE
$(BUILD)/bin/$(1): $(call prog_obj,$(1)) $(PROG_GEN_$(1)) $(LIBS_A)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $(call prog_obj,$(1)) $(PROG_GEN_$(1)) $(LIBS_A) $$(LDLIBS)
$(BUILD)/$(call prog_dir,$(1))/%.o: CPPFLAGS += -I$(call prog_dir,$(1)) -Icalls
endef
$(foreach p,$(PROGRAMS),$(eval $(call PROGRAM_RULE,$(word 1,$(subst :, ,$(p))))))

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBS_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bench/%.o: CPPFLAGS += -Icalls -Iquery-api

# The unit runner links the CLI modules too (minus main) so they can be tested.
$(UNIT_BIN): $(UNIT_OBJ) $(filter-out $(BUILD)/cli/main.o,$(CLI_OBJ)) $(UNIT_QUERY_SRC:%.c=$(BUILD)/%.o) $(LIBS_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(UNIT_OBJ): CPPFLAGS += -Icalls -Iquery-api -Icli

# fuzz targets deliberately drop results ((void) does not silence gcc's warn_unused_result)
$(FUZZ_SRC:%.c=$(BUILD)/%.o): CFLAGS += -Wno-unused-result
$(FUZZ_SRC:%.c=$(BUILD)/%.o): CPPFLAGS += -Icalls
$(BUILD)/tests/fuzz/fuzz_http.o: CPPFLAGS += -Iquery-api
$(BUILD)/tests/fuzz/fuzz_http: $(FUZZ_QUERY_SRC:%.c=$(BUILD)/%.o)
# fuzz_cmdline links the aimem subcommands' command-line helper
$(BUILD)/tests/fuzz/fuzz_cmdline.o: CPPFLAGS += -Icli
$(BUILD)/tests/fuzz/fuzz_cmdline: $(BUILD)/cli/cmdline.o
$(FUZZ_REPLAY): $(BUILD)/tests/fuzz/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $(LIBS_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter-out $(LIBS_A),$^) $(LIBS_A) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/tools/%.o $(LIBS_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/tools/%.o: CPPFLAGS += -Icalls

# Unit tests need no services. Integration tests start their own PostgreSQL and Kafka.
unit: $(UNIT_BIN) | $(DEPS_FIRST)
	$(UNIT_BIN)

integration: all | $(DEPS_FIRST)
	AIMEM_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/integration \
		--junitxml=$(BUILD)/integration.xml

test: all | $(DEPS_FIRST)
	@$(PYTHON) tests/run_all.py --build $(BUILD) --python $(PYTHON)

# Benchmarks print figures next to limits measured in the same run (never part of `make test`).
bench: all
	AIMEM_BUILD=$(abspath $(BUILD)) bench/ingest.sh
	AIMEM_BUILD=$(abspath $(BUILD)) bench/summarizer.sh
	AIMEM_BUILD=$(abspath $(BUILD)) bench/personality.sh
	AIMEM_BUILD=$(abspath $(BUILD)) bench/summarize.sh
	AIMEM_BUILD=$(abspath $(BUILD)) bench/query.sh
	AIMEM_BUILD=$(abspath $(BUILD)) bench/embed.sh
	AIMEM_BUILD=$(abspath $(BUILD)) bench/embedder.sh
	AIMEM_BUILD=$(abspath $(BUILD)) bench/search.sh

# The long kill run: 50 SIGKILLs of the summarizer over 10,000 events (make test runs 20 over 3,000),
# then the full chaos run of issue 8 (tests/chaos/driver.py: 20,000 events, 50 kills of 4 workers,
# 10 inside COMMIT, 10 PostgreSQL crash-stops, 5 Kafka restarts, a fenced paused worker; sizes from
# AIMEM_CHAOS_* in the environment, see the driver; make test runs a short version).
chaos: all
	AIMEM_BUILD=$(abspath $(BUILD)) AIMEM_CHAOS_KILLS=50 AIMEM_CHAOS_EVENTS=10000 $(PYTHON) -m pytest -q -s \
		tests/integration/test_summarizer.py -k sigkill
	AIMEM_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/chaos/driver.py chaos

# Chaos on a 3-broker Kafka cluster and a PostgreSQL primary with a standby (issue 19): steady
# traffic through aimem-ingest, brokers, workers and the primary killed, the standby promoted;
# the invariants over what ingest acknowledged (tests/chaos/cluster.py; AIMEM_CLUSTER_* sizes).
chaos-cluster: all
	AIMEM_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/chaos/cluster.py

# Soak (issues 8, 17): every injector at a low rate, 50 req/s of open-loop API traffic, invariants every minute,
# RSS growth per process, speed per minute (fails on p99 last/first 10 min > 1.5 or rate < 90%); AIMEM_SOAK_MINUTES (default 30).
soak: all
	AIMEM_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/chaos/driver.py soak

valgrind: $(UNIT_BIN)
	AIMEM_UNIT_NOFORK=0 valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
		--trace-children=yes -q $(UNIT_BIN)

# A short integration run under valgrind: aimem-ingest (300 requests) and aimem-summarizer (252
# events) with --leak-check=full, then SIGTERM; 0 errors and 0 bytes definitely lost (needs the
# plain build: valgrind does not run ASan binaries).
valgrind-integration: all
	AIMEM_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -s -p no:cacheprovider \
		tests/integration/valgrind_run.py

FUZZ_SECONDS ?= 30
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -g -O1 -D_GNU_SOURCE -Ilib -Icalls $(PKG_CFLAGS) $(FUZZ_SAN)
# lib/ and calls/ are compiled once for every target (coverage-instrumented, not linked with
# libFuzzer's main)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o) $(CALLS_SRC:%.c=build/fuzz/obj/%.o)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

build/fuzz/obj/query-api/%.o: FUZZ_CFLAGS += -DAIMEM_VERSION='"$(VERSION)"'
build/fuzz/fuzz_http: tests/fuzz/fuzz_http.c $(FUZZ_QUERY_SRC:%.c=build/fuzz/obj/%.o) $(FUZZ_LIB_OBJ)
	$(CLANG) $(FUZZ_CFLAGS) -Iquery-api -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lpthread -lm

build/fuzz/fuzz_cmdline: tests/fuzz/fuzz_cmdline.c build/fuzz/obj/cli/cmdline.o $(FUZZ_LIB_OBJ)
	$(CLANG) $(FUZZ_CFLAGS) -Icli -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lpthread -lm

build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_OBJ)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) $(PKG_LIBS) -lpthread -lm

fuzz: $(FUZZ_TARGETS:%=build/fuzz/%)
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus-$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
		build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=5 -print_final_stats=1 \
			build/fuzz/corpus-$$t tests/fuzz/seeds/$$t 2>build/fuzz/$$t.log \
			|| { tail -50 build/fuzz/$$t.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units' build/fuzz/$$t.log || true; \
	done

FORMAT_FILES = $(wildcard lib/*.[ch] calls/*.[ch] cli/*.[ch] ingest/*.[ch] workers/*/*.[ch] query-api/*.[ch] bench/*.c tests/unit/*.[ch] \
		 tests/tools/*.c tests/fuzz/*.c)
format:
	$(CLANG_FORMAT) -i $(FORMAT_FILES)

format-check:
	$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_FILES)

# Banned: unbounded string functions and unchecked number parsing (STYLE.md).
lint:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|atof|strtok)\s*\(' \
		$(FORMAT_FILES) || { echo "lint: banned function (see STYLE.md)"; exit 1; }
	@! grep -nE '\bSET +(LOCAL +)?app\.' $(FORMAT_FILES) || { echo "lint: set the tenant with set_config(..., true)"; exit 1; }
	@! grep -nE '#include "($(subst $(space),|,$(notdir $(wildcard calls/*.h) $(wildcard query-api/*.h) $(wildcard cli/*.h) $(wildcard ingest/*.h))))"' \
		lib/*.[ch] || { echo "lint: lib/ includes nothing from calls/ or a program (docs/DESIGN.md §2)"; exit 1; }
	@$(PYTHON) scripts/check-includes.py || { echo "lint: include cycle or an arrow out of lib/ (scripts/check-includes.py)"; exit 1; }
	@echo "lint: ok"

deps:
	scripts/deps.sh

# Quick when everything is in place (deps.sh --check: about a second); installs otherwise.
deps-ensure:
	@bash $(DEPS_SH) --check >/dev/null 2>&1 || { \
		echo "make: installing what is missing ($(DEPS_SH))"; bash $(DEPS_SH); }

pkgs-check:
	@$(PKG_CONFIG) --exists $(PKGS) 2>/dev/null || { echo "make: the C libraries \
	($(PKGS)) are missing: make deps installs them (make test does it first)" >&2; exit 1; }

# The programs into PREFIX/bin and, at their paths in the source tree, the data their defaults
# name into PREFIX/share/ai-memory, where lib/datadir looks (../share/ai-memory next to the
# program). DESTDIR stages the tree for a package.
DATA_FILES := $(wildcard workers/lexicons/* workers/*/prompts/* migrations/*.sql)
install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	@set -e; for f in $(DATA_FILES); do \
		install -D -m 644 $$f $(DESTDIR)$(PREFIX)/share/ai-memory/$$f; done
	@echo "install: $(words $(BINS)) programs in $(DESTDIR)$(PREFIX)/bin, $(words $(DATA_FILES)) data files in $(DESTDIR)$(PREFIX)/share/ai-memory"

# docs/configuration.md and deploy/config/*.conf are generated from the programs' settings tables
docs: all
	AIMEM_BUILD=$(abspath $(BUILD)) scripts/config-docs.sh
	AIMEM_BUILD=$(abspath $(BUILD)) scripts/example-configs.sh

# No `all` prerequisite: on a fresh machine scripts/demo.sh installs the libraries first, then builds.
demo:
	scripts/demo.sh

demo-check:
	scripts/demo.sh --check

# Only needed when a demo was killed hard (Ctrl-C stops everything itself).
demo-down:
	scripts/dev down --dir .run/demo

clean:
	rm -rf build

-include $(ALL_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d)

# keep tool objects between runs (they are pattern-rule intermediates)
.SECONDARY:
