# casesync - build, test, demo and install.
#
#   make                 build/casesyncd and build/casesync
#   make check           every test, against a throwaway PostgreSQL 15 and the
#                        council simulator (installs missing packages first)
#   make check SANITIZE=address,undefined   (or: make asan) the same under
#                        ASan and UBSan, built in build/san/
#   make chaos           crash recovery (SIGKILL at every fail point) and two
#                        daemons sharing a backlog, at 10,000 changes
#   make demo            the main job end to end, explained as it goes
#   make bench           the speed figures, each as a ratio to its own
#                        baseline measured in the same run (bench/run)
#   make install         honours DESTDIR and PREFIX
#
# Set NO_DEPS=1 to skip the package check (e.g. when packaging).

VERSION := 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
DATADIR ?= $(PREFIX)/share
DESTDIR ?=
CC ?= cc
CFLAGS ?= -O2 -g
SANITIZE ?=

PKGS := libpq libcurl jansson libcrypto libxml-2.0
TEST_PKGS := cmocka libmicrohttpd

ifeq ($(SANITIZE),)
BUILD := build
SANFLAGS :=
else
BUILD := build/san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wundef
ifeq ($(CI),true)
WARN += -Werror
endif

# Recursive (=) so pkg-config runs after tools/ensure-deps has installed.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DCASESYNC_VERSION='"$(VERSION)"' \
	$(WARN) $(CFLAGS) $(SANFLAGS) -Iinclude $(PKG_CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

MAINS := daemon/casesyncd.c daemon/casesync.c
LIB_SRCS := $(filter-out $(MAINS),$(wildcard daemon/*.c))
LIB_OBJS := $(patsubst daemon/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) \
	$(BUILD)/obj/migrations.o
SQL := $(sort $(wildcard sql/casesync/*.sql)) $(sort $(wildcard sql/casestore/*.sql))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
SIM_SRCS := $(wildcard tests/lcs-sim/*.c)

.PHONY: all deps deps-test check asan chaos demo bench install uninstall clean test-bins

all: deps $(BUILD)/casesyncd $(BUILD)/casesync

deps:
ifneq ($(NO_DEPS),1)
	@tools/ensure-deps build
endif

deps-test:
ifneq ($(NO_DEPS),1)
	@tools/ensure-deps check
endif

$(BUILD)/obj $(BUILD)/tests $(BUILD)/gen $(BUILD)/bench:
	@mkdir -p $@

$(BUILD)/gen/migrations.c: $(SQL) tools/embed-sql | $(BUILD)/gen
	tools/embed-sql $@ $(SQL)

$(BUILD)/obj/migrations.o: $(BUILD)/gen/migrations.c include/migrate.h | $(BUILD)/obj
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: daemon/%.c $(wildcard include/*.h) | $(BUILD)/obj
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libcasesync.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/casesyncd: $(BUILD)/obj/casesyncd.o $(BUILD)/libcasesync.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The crash-recovery test build: the same code with its fail points armed
# (failpoint.h). Only the files that have fail points are compiled twice.
FP_SRCS := $(shell grep -lw FAILPOINT daemon/*.c) daemon/failpoint.c
FP_OBJS := $(patsubst daemon/%.c,$(BUILD)/fp-obj/%.o,$(sort $(FP_SRCS)))
FP_LIB_OBJS := $(filter-out $(patsubst $(BUILD)/fp-obj/%,$(BUILD)/obj/%,$(FP_OBJS)),$(LIB_OBJS))

$(BUILD)/fp-obj:
	@mkdir -p $@

$(BUILD)/fp-obj/%.o: daemon/%.c $(wildcard include/*.h) | $(BUILD)/fp-obj
	$(CC) $(ALL_CFLAGS) -DCASESYNC_FAILPOINTS -c $< -o $@

$(BUILD)/casesyncd-fp: $(BUILD)/obj/casesyncd.o $(FP_OBJS) $(FP_LIB_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/casesync: $(BUILD)/obj/casesync.o $(BUILD)/libcasesync.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/lcs-sim: $(SIM_SRCS) $(wildcard tests/lcs-sim/*.h) | $(BUILD)/obj
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) \
		$(shell pkg-config --cflags $(TEST_PKGS) jansson libcrypto gnutls libxml-2.0) \
		-o $@ $(SIM_SRCS) \
		$(shell pkg-config --libs libmicrohttpd jansson libcrypto gnutls libxml-2.0) -lpthread

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(BUILD)/libcasesync.a | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -Itests/unit \
		-o $@ $< $(BUILD)/libcasesync.a $(ALL_LDFLAGS) \
		$(shell pkg-config --libs cmocka) $(PKG_LIBS)

$(BUILD)/bench/notify-latency: bench/notify-latency.c | $(BUILD)/bench
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) \
		$(shell pkg-config --cflags libpq) -o $@ $< $(shell pkg-config --libs libpq)

$(BUILD)/bench/xml-stream: bench/xml-stream.c $(BUILD)/libcasesync.a | $(BUILD)/bench
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libcasesync.a $(ALL_LDFLAGS) $(PKG_LIBS)

test-bins: $(BUILD)/casesyncd $(BUILD)/casesyncd-fp $(BUILD)/casesync $(BUILD)/lcs-sim $(UNIT_BINS) \
	$(BUILD)/bench/notify-latency $(BUILD)/bench/xml-stream

# Each step re-reads pkg-config after the packages are in place.
check: deps-test
	@$(MAKE) --no-print-directory NO_DEPS=1 test-bins
	@tests/run $(BUILD)

asan:
	@$(MAKE) --no-print-directory check SANITIZE=address,undefined

# The crash-recovery and two-daemon tests at full size (10,000 changes;
# make check runs them small). RECOVERY_CHANGES=N to change it.
chaos: deps-test
	@$(MAKE) --no-print-directory NO_DEPS=1 $(BUILD)/casesyncd $(BUILD)/casesyncd-fp \
		$(BUILD)/casesync $(BUILD)/lcs-sim
	@tests/chaos/run $(BUILD)

demo: deps-test
	@$(MAKE) --no-print-directory NO_DEPS=1 $(BUILD)/casesyncd $(BUILD)/casesync $(BUILD)/lcs-sim
	@tools/demo $(BUILD)

bench: deps-test
	@$(MAKE) --no-print-directory NO_DEPS=1 $(BUILD)/casesync $(BUILD)/bench/notify-latency \
		$(BUILD)/bench/xml-stream
	@bench/run $(BUILD)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(SYSCONFDIR)/casesync \
		$(DESTDIR)$(DATADIR)/casesync/mappings
	install -m 755 $(BUILD)/casesyncd $(DESTDIR)$(SBINDIR)/casesyncd
	install -m 755 $(BUILD)/casesync $(DESTDIR)$(BINDIR)/casesync
	cp -R mappings/. $(DESTDIR)$(DATADIR)/casesync/mappings/
	install -d $(DESTDIR)$(DATADIR)/man/man1 $(DESTDIR)$(DATADIR)/man/man5 \
		$(DESTDIR)$(DATADIR)/man/man8
	install -m 644 docs/man/casesync.1 $(DESTDIR)$(DATADIR)/man/man1/casesync.1
	[ ! -e docs/man/casesync-mapping.5 ] || install -m 644 \
		docs/man/casesync-mapping.5 $(DESTDIR)$(DATADIR)/man/man5/casesync-mapping.5
	install -m 644 docs/man/casesyncd.8 $(DESTDIR)$(DATADIR)/man/man8/casesyncd.8
	[ -e $(DESTDIR)$(SYSCONFDIR)/casesync/casesync.conf ] || \
		sed 's|^dir = .*|dir = $(DATADIR)/casesync/mappings|' etc/casesync.conf \
		> $(DESTDIR)$(SYSCONFDIR)/casesync/casesync.conf

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/casesyncd $(DESTDIR)$(BINDIR)/casesync
	rm -rf $(DESTDIR)$(DATADIR)/casesync
	rm -f $(DESTDIR)$(DATADIR)/man/man1/casesync.1 $(DESTDIR)$(DATADIR)/man/man8/casesyncd.8 \
		$(DESTDIR)$(DATADIR)/man/man5/casesync-mapping.5

clean:
	rm -rf build
