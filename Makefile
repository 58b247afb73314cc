# tillgroup: plain Makefile. Dependencies only through pkg-config.
# make            library, CLI          make test    every suite (installs deps first)
# make demo       a short store day     make asan / make ubsan   the suite under sanitizers
# make fuzz       long libFuzzer runs   make soak    thousands of kills and power cuts
# make bench      ledger, receipt, scan and sync benchmarks   make bench-receipt  beside npm peers
# make install PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CFLAGS ?= -O2 -g
BUILD ?= build
SANITIZE ?=
WERROR ?=
FUZZ_SECONDS ?= 600
SOAK_KILLS ?= 5000
SOAK_CUTS ?= 1000

PKGS := sqlite3 jansson libsodium libqrencode pangocairo glib-2.0 inih libcurl zlib libusb-1.0 \
  libmicrohttpd
# tillgroup-hq adds its PostgreSQL client (libmicrohttpd, its HTTP server, is in PKGS:
# the terminal serves the nightly pull with it too).
HQ_PKGS := libpq
WARN := -std=c11 -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wshadow \
        $(if $(WERROR),-Werror)
DEFS := -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
SAN := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer)
PC_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PC_LIBS = $(shell pkg-config --libs $(PKGS))
ALL_CFLAGS = $(WARN) $(DEFS) $(CFLAGS) $(SAN) -fPIC -fvisibility=hidden -Ipos -Ireceipts -Isync -Idrivers \
  $(PC_CFLAGS) $(HQ_CFLAGS)
HQ_CFLAGS = $(shell pkg-config --cflags $(HQ_PKGS))
HQ_LIBS = $(shell pkg-config --libs $(HQ_PKGS))
LDLIBS_ALL = $(PC_LIBS)

CLI_SRC := pos/cli.c $(wildcard pos/cli_*.c pos/bench_*.c)
HQ_SRC := $(wildcard sync/hq*.c)
HQ_MAIN := sync/hq_main.c
LIB_SRC := $(filter-out $(CLI_SRC),$(wildcard pos/*.c)) $(wildcard receipts/*.c) \
  $(filter-out $(HQ_SRC),$(wildcard sync/*.c)) $(wildcard drivers/*.c)
TEST_SRC := $(wildcard tests/test_*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
HQ_OBJ := $(filter-out $(BUILD)/$(HQ_MAIN:.c=.o),$(HQ_SRC:%.c=$(BUILD)/%.o))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all deps test test-run asan ubsan fuzz soak demo bench bench-receipt install uninstall clean

all: $(BUILD)/libtillgroup.a $(BUILD)/libtillgroup.so $(BUILD)/tillgroup $(BUILD)/tillgroup-hq

deps:
	@sh scripts/deps.sh

HDRS := $(wildcard pos/*.h receipts/*.h sync/*.h drivers/*.h)

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libtillgroup.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libtillgroup.so.0: $(LIB_OBJ)
	$(CC) $(CFLAGS) $(SAN) -shared -Wl,-soname,libtillgroup.so.0 -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/libtillgroup.so: $(BUILD)/libtillgroup.so.0
	ln -sf libtillgroup.so.0 $@

$(BUILD)/tillgroup: $(CLI_OBJ) $(BUILD)/libtillgroup.a
	$(CC) $(CFLAGS) $(SAN) -o $@ $(CLI_OBJ) $(BUILD)/libtillgroup.a $(LDLIBS_ALL)

# HQ's parts (all of sync/hq*.c but its main) as a library the tests link too.
$(BUILD)/libtillgroup-hq.a: $(HQ_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/tillgroup-hq: $(BUILD)/$(HQ_MAIN:.c=.o) $(BUILD)/libtillgroup-hq.a $(BUILD)/libtillgroup.a
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS_ALL) $(HQ_LIBS)

# Tests link the static library, so they may call the tg__ internals too.
$(BUILD)/tests/helpers.o: tests/helpers.c tests/helpers.h $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -c $< -o $@

TEST_HELPERS := escpos_check hq_process hq_proxy hq_line_check net_printer pull_client pull_peer
$(TEST_HELPERS:%=$(BUILD)/tests/%.o): $(BUILD)/tests/%.o: tests/%.c tests/%.h $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

TEST_OBJ := $(BUILD)/tests/helpers.o $(TEST_HELPERS:%=$(BUILD)/tests/%.o)
$(BUILD)/tests/test_%: tests/test_%.c $(TEST_OBJ) $(BUILD)/libtillgroup-hq.a $(BUILD)/libtillgroup.a \
    tests/helpers.h tests/escpos_check.h $(wildcard tests/golden/*.inc)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(TEST_OBJ) \
	  $(BUILD)/libtillgroup-hq.a $(BUILD)/libtillgroup.a $(LDLIBS_ALL) $(HQ_LIBS) \
	  $(shell pkg-config --libs cmocka) -lpthread

# The USB suite links the emulated bus (umockdev); tests/run.sh runs it under umockdev-wrapper.
UMOCK_PKG := umockdev-1.0
$(BUILD)/tests/usb_mock.o: tests/usb_mock.c tests/usb_mock.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags $(UMOCK_PKG)) -c $< -o $@

$(BUILD)/tests/test_usb: tests/test_usb.c $(BUILD)/tests/usb_mock.o $(TEST_OBJ) \
    $(BUILD)/libtillgroup.a tests/helpers.h tests/usb_mock.h
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(BUILD)/tests/usb_mock.o \
	  $(TEST_OBJ) $(BUILD)/libtillgroup-hq.a $(BUILD)/libtillgroup.a $(LDLIBS_ALL) $(HQ_LIBS) \
	  $(shell pkg-config --libs $(UMOCK_PKG) cmocka) -lpthread

# The example links the shared library through the public header only.
$(BUILD)/tests/example: tests/example.c pos/tillgroup.h $(BUILD)/libtillgroup.so
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(SAN) -Ipos -o $@ $< -L$(BUILD) -l:libtillgroup.so \
	  -Wl,-rpath,$(abspath $(BUILD))

# libFuzzer targets need clang and their own build of the library: compiled once
# into FUZZ_BUILD (the sanitizer suites reuse it), each target then only links.
FUZZ_BUILD ?= build/fuzz
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_HELPERS := tests/fuzz/terminal.c tests/escpos_check.c tests/hq_line_check.c
FUZZ_LIB_SRC := $(LIB_SRC) $(filter-out $(HQ_MAIN),$(HQ_SRC)) $(FUZZ_HELPERS)
FUZZ_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
.SECONDARY: $(FUZZ_OBJ) # kept after linking, so the next suite relinks nothing
FUZZ_CFLAGS = $(WARN) $(DEFS) -O1 -g -Ipos -Ireceipts -Isync -Idrivers -Itests $(PC_CFLAGS) $(HQ_CFLAGS)
$(FUZZ_BUILD)/obj/%.o: %.c $(HDRS) tests/fuzz/terminal.h tests/escpos_check.h tests/hq_line_check.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJ) \
	  $(LDLIBS_ALL) $(HQ_LIBS)

test: deps
	@$(MAKE) --no-print-directory test-run

test-run: all $(TEST_BIN) $(BUILD)/tests/example $(FUZZ_BIN)
	@BUILD=$(BUILD) FUZZ_BUILD=$(FUZZ_BUILD) SANITIZE=$(SANITIZE) SAN_FLAGS="$(SAN)" sh tests/run.sh

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=address,undefined test-run

ubsan: deps
	@$(MAKE) --no-print-directory BUILD=build/ubsan SANITIZE=undefined test-run

fuzz: deps $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
	  n=$$(basename $$f); mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

soak: deps all $(BUILD)/tests/test_crash $(BUILD)/tests/test_powercut
	TG_CRASH_KILLS=$(SOAK_KILLS) $(BUILD)/tests/test_crash
	TG_POWERCUT_KILLS=$(SOAK_CUTS) $(BUILD)/tests/test_powercut

demo: deps all
	@sh scripts/demo.sh $(BUILD)/tillgroup

bench: deps all
	$(BUILD)/tillgroup bench ledger --sales 5000 --json
	$(BUILD)/tillgroup bench receipt --receipt tests/receipts/reference-receipt.json --qr native --json
	$(BUILD)/tillgroup bench receipt --receipt tests/receipts/reference-receipt.json --qr raster --json
	$(BUILD)/tillgroup bench scan --json
	$(BUILD)/tillgroup bench sync --records 100000 --json
	pg_virtualenv -t -o fsync=on $(BUILD)/tillgroup bench sync --records 100000 --hq postgresql --json

# The receipt encoder beside the JavaScript encoders POS developers use (npm).
bench-receipt: deps all
	sh tests/bench/receipt.sh $(BUILD)/tillgroup tests/receipts/reference-receipt.json

install: all
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 $(BUILD)/libtillgroup.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libtillgroup.so.0 $(DESTDIR)$(PREFIX)/lib/
	ln -sf libtillgroup.so.0 $(DESTDIR)$(PREFIX)/lib/libtillgroup.so
	install -m 644 pos/tillgroup.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@PKGS@|$(PKGS)|' tillgroup.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tillgroup.pc
	install -m 755 $(BUILD)/tillgroup $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(BUILD)/tillgroup-hq $(DESTDIR)$(PREFIX)/bin/
	install -m 644 docs/tillgroup.1 docs/tillgroup-hq.1 $(DESTDIR)$(PREFIX)/share/man/man1/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libtillgroup.a $(DESTDIR)$(PREFIX)/lib/libtillgroup.so* \
	  $(DESTDIR)$(PREFIX)/include/tillgroup.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/tillgroup.pc \
	  $(DESTDIR)$(PREFIX)/bin/tillgroup $(DESTDIR)$(PREFIX)/bin/tillgroup-hq \
	  $(DESTDIR)$(PREFIX)/share/man/man1/tillgroup.1 $(DESTDIR)$(PREFIX)/share/man/man1/tillgroup-hq.1

clean:
	rm -rf build
