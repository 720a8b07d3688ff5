# ftsc - one non-recursive Makefile.
#
#   make            build ftsc, ftsrun, libftsrt
#   make demo       install missing Debian packages (as root), build, run the sample
#   make check      all tests: Check suites, man-page lint, the Python binding
#                   (Debian's python3-torch, which make deps installs); reads
#                   nothing outside the repository
#   make check-fts FTS_DIR=dir
#                   FTS's own example schedules and configs (a finetuning-
#                   scheduler checkout, or a folder of its example files)
#   make check-big  a manifest over 4 GiB (4.3 GB under TMPDIR, a minute
#                   or two; not part of make check)
#   make bench      benchmarks
#   make install    PREFIX=/usr/local DESTDIR=
#   make SANITIZE=address,undefined check
#   make WERROR=0   do not turn warnings into errors

PREFIX      ?= /usr/local
prefix      ?= $(PREFIX)
exec_prefix ?= $(prefix)
bindir      ?= $(exec_prefix)/bin
libdir      ?= $(exec_prefix)/lib
includedir  ?= $(prefix)/include
datarootdir ?= $(prefix)/share
mandir      ?= $(datarootdir)/man
pkgconfigdir ?= $(libdir)/pkgconfig
# the Python package: PYTHONPATH=$(pythondir) (it finds libftsrt.so in $(libdir))
pythondir   ?= $(libdir)/ftsc/python
INSTALL     ?= install

# libftsrt's version and soname come from runtime/ftsrt.h (one place)
VERSION     := $(shell sed -n 's/^\#define FTSRT_VERSION_STRING "\(.*\)"/\1/p' runtime/ftsrt.h)
SOVERSION   := $(shell sed -n 's/^\#define FTSRT_VERSION_MAJOR \([0-9]*\)/\1/p' runtime/ftsrt.h)

CC      ?= cc
FLEX    ?= flex
BISON   ?= bison
WERROR  ?= 1
OPT     ?= -O2 -g

WARN := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wwrite-strings -Wundef -Wvla -Wformat=2 -fno-common
ifeq ($(WERROR),1)
WARN += -Werror
endif

ifneq ($(SANITIZE),)
SANFLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

DEBIAN_PKGS := flex bison libyaml-dev libopenblas-dev check libpcre2-dev pkg-config mandoc \
	python3-torch python3-pip python3-setuptools clang libclang-rt-14-dev libopenmpi-dev openmpi-bin
# python3-torch: the Python binding's parity test (Debian's /usr/bin/python3);
# python3-pip + python3-setuptools: the test of `pip install ./python`;
# clang + libclang-rt-14-dev: make fuzz (libFuzzer)
# libopenmpi-dev + openmpi-bin: ftsrun-mpi, built only where mpicc is found
PYTHON ?= /usr/bin/python3

B ?= build
PKG_CFLAGS := $(shell pkg-config --cflags yaml-0.1 libpcre2-8 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs yaml-0.1 libpcre2-8 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

ALL_CPPFLAGS := -D_GNU_SOURCE -Icompiler -I$(B) -I$(B)/grammar $(CPPFLAGS)
# The runtime is compiled with runtime/ alone on its include path, so the
# build refuses a runtime file that includes compiler code.  The compiler
# includes nothing of the runtime but ftsrt.h and plan_format.h (by
# relative path); the tests see both.
RT_ALL_CPPFLAGS := -D_GNU_SOURCE -Iruntime $(CPPFLAGS)
TEST_CPPFLAGS := $(ALL_CPPFLAGS) -Iruntime
ALL_CFLAGS   := $(WARN) $(OPT) $(SANFLAGS) -fno-math-errno $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS  := $(SANFLAGS) $(LDFLAGS)

# --- sources -------------------------------------------------------------
COMPILER_SRC := $(filter-out compiler/main.c,$(wildcard compiler/*.c))
COMPILER_OBJ := $(COMPILER_SRC:%.c=$(B)/%.o) $(B)/grammar/ftsc.tab.o \
	$(B)/grammar/ftsc.yy.o $(B)/stdlib_embed.o
# tool-only sources (they read YAML): linked into ftsrun and the tests, not libftsrt
RT_TOOL_SRC  := runtime/ftsrun.c runtime/verify.c runtime/verify_lrs.c runtime/quadratic.c runtime/nqm_plot.c
RT_TOOL_OBJ  := $(B)/runtime/verify.o $(B)/runtime/verify_lrs.o $(B)/runtime/quadratic.o $(B)/runtime/nqm_plot.o
RUNTIME_SRC  := $(filter-out $(RT_TOOL_SRC),$(wildcard runtime/*.c))
RUNTIME_OBJ  := $(RUNTIME_SRC:%.c=$(B)/%.o)
RUNTIME_PIC  := $(RUNTIME_SRC:%.c=$(B)/pic/%.o)
STDLIB_SRC   := $(sort $(wildcard stdlib/*.fts))
TEST_SRC     := $(wildcard tests/unit/check_*.c)
TEST_BIN     := $(TEST_SRC:tests/unit/%.c=$(B)/tests/%)
MAN_PAGES    := $(wildcard man/*.[1-8])

FTSC    := $(B)/ftsc
FTSRUN  := $(B)/ftsrun
MPICC   ?= $(shell command -v mpicc 2>/dev/null)
FTSRUN_MPI := $(if $(MPICC),$(B)/ftsrun-mpi)
LIBFTSC := $(B)/libftsc.a
LIBRT_A := $(B)/libftsrt.a
LIBRT_SO := $(B)/libftsrt.so.$(VERSION)

.PHONY: all deps demo check check-big check-fts test lint pytest pyinstall-test mpi-test bench bench-plan install uninstall clean fuzz
.SUFFIXES:
# keep the objects of the test programs between runs
.SECONDARY:

all: $(FTSC) $(FTSRUN) $(LIBRT_A) $(LIBRT_SO) $(FTSRUN_MPI)

# --- dependencies: install missing Debian packages when run as root ------
deps:
	@missing=""; for p in $(DEBIAN_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
		else \
			echo "missing Debian packages:$$missing (run 'make deps' as root, or apt-get install them)" >&2; exit 1; \
		fi; \
	fi

# --- generated sources ----------------------------------------------------
# grouped targets: one run of each generator makes both of its files
$(B)/grammar/ftsc.tab.c $(B)/grammar/ftsc.tab.h &: grammar/ftsc.y
	@mkdir -p $(@D)
	$(BISON) -Wall -Werror --defines=$(B)/grammar/ftsc.tab.h -o $(B)/grammar/ftsc.tab.c $<

$(B)/grammar/ftsc.yy.c $(B)/grammar/ftsc.yy.h &: grammar/ftsc.l $(B)/grammar/ftsc.tab.h
	@mkdir -p $(@D)
	$(FLEX) --header-file=$(B)/grammar/ftsc.yy.h -o $(B)/grammar/ftsc.yy.c $<

# generated parser code gets a narrow, named relaxation
GEN_RELAX := -Wno-unused-function -Wno-missing-prototypes -Wno-sign-compare -Wno-unused-parameter -Wno-shadow

$(B)/grammar/ftsc.tab.o: $(B)/grammar/ftsc.tab.c $(B)/grammar/ftsc.yy.h $(B)/diag_fmt.h
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(GEN_RELAX) -MMD -MP -c -o $@ $<

$(B)/grammar/ftsc.yy.o: $(B)/grammar/ftsc.yy.c $(B)/grammar/ftsc.tab.h $(B)/diag_fmt.h
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(GEN_RELAX) -MMD -MP -c -o $@ $<

# printf formats of the diagnostics catalogue, for compile-time argument checks
$(B)/diag_fmt.h: compiler/diag.def
	@mkdir -p $(@D)
	sed -nE 's/^DIAG\(([A-Z0-9_]+), [A-Z]+, [^,]+, "[^"]*", ("([^"\\]|\\.)*"),.*/#define \1_FMT \2/p' $< > $@.tmp
	@test "$$(grep -c '^#define' $@.tmp)" = "$$(grep -c '^DIAG(' $<)" || { echo "diag.def: an entry is not on one line" >&2; exit 1; }
	mv $@.tmp $@

$(B)/tools/embed: tools/embed.c
	@mkdir -p $(@D)
	$(CC) -O1 -o $@ $<

$(B)/stdlib_embed.c: $(B)/tools/embed $(STDLIB_SRC)
	$(B)/tools/embed $(STDLIB_SRC) > $@.tmp && mv $@.tmp $@

$(B)/stdlib_embed.o: $(B)/stdlib_embed.c
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# --- objects ----------------------------------------------------------------
$(B)/compiler/%.o: compiler/%.c $(B)/grammar/ftsc.tab.h $(B)/grammar/ftsc.yy.h $(B)/diag_fmt.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# the runtime: OpenMP for its one parallel region per step, OpenBLAS for GEMMs
RT_CFLAGS := -fopenmp
# OpenBLAS is referenced weakly (runtime/blas.h): a linker that drops libraries
# only weak references need (--as-needed, Debian's default) must keep it
BLAS_LIBS := -Wl,--push-state,--no-as-needed -lopenblas -Wl,--pop-state
RT_LIBS   := -fopenmp $(BLAS_LIBS) -lm
# ftsc validates optimizers through libftsrt but never steps Muon: it does not
# load OpenBLAS (runtime/blas.h: weak references), whose constructor would
# start a spinning thread per core
FTSC_LIBS := -fopenmp -lm

$(B)/runtime/%.o: runtime/%.c
	@mkdir -p $(@D)
	$(CC) $(RT_ALL_CPPFLAGS) $(ALL_CFLAGS) $(RT_CFLAGS) -fvisibility=hidden -MMD -MP -c -o $@ $<

$(B)/pic/runtime/%.o: runtime/%.c
	@mkdir -p $(@D)
	$(CC) $(RT_ALL_CPPFLAGS) $(ALL_CFLAGS) $(RT_CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c -o $@ $<

$(LIBFTSC): $(COMPILER_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIBRT_A): $(RUNTIME_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIBRT_SO): $(RUNTIME_PIC)
	$(CC) -shared -Wl,-soname,libftsrt.so.$(SOVERSION) $(ALL_LDFLAGS) -o $@ $^ $(RT_LIBS)
	ln -sf libftsrt.so.$(VERSION) $(B)/libftsrt.so.$(SOVERSION)
	ln -sf libftsrt.so.$(VERSION) $(B)/libftsrt.so

$(FTSC): $(B)/compiler/main.o $(LIBFTSC) $(LIBRT_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(FTSC_LIBS) -pthread

$(FTSRUN): $(B)/runtime/ftsrun.o $(RT_TOOL_OBJ) $(LIBRT_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(RT_LIBS)

# ftsrun-mpi: ftsrun whose `run` is a sharded data-parallel job over MPI
# (mpirun -n W); built only where mpicc is found, the rest never needs it
ifneq ($(FTSRUN_MPI),)
$(B)/runtime/ftsrun_mpi.o: runtime/ftsrun.c
	@mkdir -p $(@D)
	$(MPICC) -DFTSRUN_MPI $(RT_ALL_CPPFLAGS) $(ALL_CFLAGS) $(RT_CFLAGS) -fvisibility=hidden -MMD -MP -c -o $@ $<

$(FTSRUN_MPI): $(B)/runtime/ftsrun_mpi.o $(RT_TOOL_OBJ) $(LIBRT_A)
	$(MPICC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(RT_LIBS)
endif

# the pkg-config file, written by `make install` with the directories it installs to
define FTSRT_PC
prefix=$(prefix)
exec_prefix=$(exec_prefix)
libdir=$(libdir)
includedir=$(includedir)

Name: ftsrt
Description: ftsc runtime: executes fine-tuning schedule plans
Version: $(VERSION)
Libs: -L$${libdir} -lftsrt
Libs.private: -fopenmp -Wl,--push-state,--no-as-needed -lopenblas -Wl,--pop-state -lm
Cflags: -I$${includedir}
endef
export FTSRT_PC

# --- tests ------------------------------------------------------------------
$(B)/tests/%.o: tests/unit/%.c $(B)/diag_fmt.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CPPFLAGS) $(ALL_CFLAGS) -Wno-missing-prototypes -MMD -MP -c -o $@ $<

$(B)/tests/%: $(B)/tests/%.o $(RT_TOOL_OBJ) $(LIBFTSC) $(LIBRT_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS) $(RT_LIBS) -pthread

# linked as ftsc is, without OpenBLAS
$(B)/tests/check_noblas: $(B)/tests/check_noblas.o $(LIBRT_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(FTSC_LIBS) -pthread

# FTS_DIR is removed from the tests' environment: make check reads only the repository
test: all $(TEST_BIN)
	@fail=0; for t in $(TEST_BIN); do \
		echo "== $$t"; env -u FTS_DIR -u CK_RUN_CASE FTSC_BIN=$(FTSC) FTSRUN_BIN=$(FTSRUN) $$t || fail=1; \
	done; exit $$fail

lint: $(FTSC)
	mandoc -Tlint -Wwarning $(MAN_PAGES)
	@if readelf -d $(FTSC) | grep -q 'NEEDED.*libopenblas'; then \
		echo "lint: $(FTSC) loads OpenBLAS (its constructor starts spinning threads): link it with FTSC_LIBS" >&2; \
		exit 1; fi
	$(PYTHON) tests/man/api.py runtime/ftsrt.h man/libftsrt.3

check: test lint pytest pyinstall-test mpi-test

# ftsrun-mpi against ftsrun (skipped, with a notice, without MPI)
mpi-test: all
	@echo "== tests/mpi_test.sh"
	@sh tests/mpi_test.sh $(FTSC) $(FTSRUN) "$(FTSRUN_MPI)"

# FTS's own files: every example schedule and config (and, where FTS_DIR holds
# them as YAML, FTS's test fixtures) with the verdicts FTS gives them, the
# example configs' merged settings, and their conversions to the ftsc language
check-fts: all $(TEST_BIN)
	@if [ -z "$(FTS_DIR)" ]; then \
		echo "usage: make check-fts FTS_DIR=DIR (a finetuning-scheduler checkout or a folder of its examples)" >&2; \
		exit 2; fi
	@if [ ! -d "$(FTS_DIR)" ]; then echo "check-fts: $(FTS_DIR): no such directory" >&2; exit 2; fi
	@fail=0; for t in cases cli config dsl; do \
		echo "== check-fts: $(B)/tests/check_$$t"; \
		FTS_DIR="$(abspath $(FTS_DIR))" CK_RUN_CASE=fts-examples FTSC_BIN=$(FTSC) FTSRUN_BIN=$(FTSRUN) \
			$(B)/tests/check_$$t || fail=1; \
	done; exit $$fail

# the Python binding against Debian's python3-torch (installed by make deps);
# a sanitized libftsrt.so needs the sanitizer runtimes preloaded into Python
# (colon-separated: the value has no blank, so it survives being word-split)
ifneq ($(SANITIZE),)
PY_ENV := LD_PRELOAD=$(shell $(CC) -print-file-name=libasan.so):$(shell $(CC) -print-file-name=libubsan.so) \
	ASAN_OPTIONS=detect_leaks=0
endif
pytest: all
	@if $(PYTHON) -c 'import torch' 2>/dev/null; then \
		echo "== tests/python/test_ftsrt.py"; \
		FTSC_BIN=$(FTSC) FTSRT_LIBRARY=$(CURDIR)/$(B)/libftsrt.so $(PY_ENV) \
			$(PYTHON) tests/python/test_ftsrt.py; \
	else \
		echo "pytest: $(PYTHON) has no torch: run 'make deps' as root (python3-torch)" >&2; exit 1; \
	fi

# make install + pkg-config + pip install ./python, as a user outside the project
pyinstall-test: all
	@echo "== tests/python/install_test.sh"
	@CC="$(CC)" MAKE="$(MAKE)" LDFLAGS="$(ALL_LDFLAGS)" PYTHON="env $(PY_ENV) $(PYTHON)" \
		sh tests/python/install_test.sh

# the main job on the bundled sample: check -> build -> run
DEMO_FLAGS := --manifest samples/deberta-v3-base-seqcls.tsv \
	'--initial-optimizer={class_path: torch.optim.AdamW, init_args: {lr: 1.0e-05, weight_decay: 1.0e-05}}' \
	'--initial-lr-scheduler={class_path: torch.optim.lr_scheduler.LinearLR, init_args: {start_factor: 0.1, total_iters: 4}}' \
	--no-decay=bias,LayerNorm.weight --phase0-groups=2 --restore-best=false --max-epochs=12
demo: deps
	$(MAKE) all
	@echo "== ftsc check samples/deberta_demo.fts"
	$(FTSC) check samples/deberta_demo.fts $(DEMO_FLAGS) --explain-plan
	@echo "== ftsc build samples/deberta_demo.fts"
	$(FTSC) build samples/deberta_demo.fts $(DEMO_FLAGS) -o $(B)/deberta_demo.ftsplan
	@echo "== ftsrun run (noisy quadratic model over the DeBERTa shapes, scaled)"
	$(FTSRUN) run $(B)/deberta_demo.ftsplan --scale 0.05 --epochs 12 --steps-per-epoch 8 \
		--log $(B)/deberta_demo.csv --plot $(B)/deberta_demo.svg
	@echo "ok: checked, built and ran; per-epoch log $(B)/deberta_demo.csv, loss and lr plot $(B)/deberta_demo.svg"

check-big: all
	@sh tests/big_manifest.sh $(B)

bench: all
	@sh bench/run.sh $(B)
	@sh bench/plan.sh $(B)
	@sh bench/dsl.sh $(B)
	@sh bench/optim.sh $(B)
	@if $(PYTHON) -c 'import torch' 2>/dev/null; then $(PYTHON) bench/python_step.py $(B); fi

# --- install ------------------------------------------------------------------
install: all
	$(INSTALL) -d $(DESTDIR)$(bindir) $(DESTDIR)$(libdir) $(DESTDIR)$(includedir) \
		$(DESTDIR)$(pkgconfigdir) $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man3 \
		$(DESTDIR)$(mandir)/man5
	$(INSTALL) -m 0755 $(FTSC) $(FTSRUN) $(FTSRUN_MPI) $(DESTDIR)$(bindir)/
	$(INSTALL) -m 0644 $(LIBRT_A) $(DESTDIR)$(libdir)/
	$(INSTALL) -m 0755 $(LIBRT_SO) $(DESTDIR)$(libdir)/
	ln -sf libftsrt.so.$(VERSION) $(DESTDIR)$(libdir)/libftsrt.so.$(SOVERSION)
	ln -sf libftsrt.so.$(VERSION) $(DESTDIR)$(libdir)/libftsrt.so
	$(INSTALL) -m 0644 runtime/ftsrt.h $(DESTDIR)$(includedir)/
	printf '%s\n' "$$FTSRT_PC" > $(DESTDIR)$(pkgconfigdir)/ftsrt.pc
	chmod 0644 $(DESTDIR)$(pkgconfigdir)/ftsrt.pc
	$(INSTALL) -d $(DESTDIR)$(pythondir)/ftsrt
	$(INSTALL) -m 0644 python/ftsrt/*.py $(DESTDIR)$(pythondir)/ftsrt/
	for m in $(MAN_PAGES); do \
		s=$${m##*.}; $(INSTALL) -d $(DESTDIR)$(mandir)/man$$s; \
		$(INSTALL) -m 0644 $$m $(DESTDIR)$(mandir)/man$$s/; done

uninstall:
	rm -f $(DESTDIR)$(bindir)/ftsc $(DESTDIR)$(bindir)/ftsrun $(DESTDIR)$(bindir)/ftsrun-mpi \
		$(DESTDIR)$(libdir)/libftsrt.* $(DESTDIR)$(includedir)/ftsrt.h \
		$(DESTDIR)$(pkgconfigdir)/ftsrt.pc
	rm -rf $(DESTDIR)$(pythondir)/ftsrt
	for m in $(MAN_PAGES); do rm -f $(DESTDIR)$(mandir)/man$${m##*.}/$${m##*/}; done

clean:
	rm -rf $(B)

-include $(wildcard $(B)/compiler/*.d $(B)/grammar/*.d $(B)/stdlib_embed.d $(B)/runtime/*.d \
	$(B)/pic/runtime/*.d $(B)/tests/*.d)

# --- fuzzing (clang libFuzzer): make fuzz FUZZ_SECONDS=60 ---------------------
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_PROPERTY_CASES ?= 20000
FUZZ_PROPERTY_SEED ?= 1000
FUZZ_FLAGS   := -std=c11 -g -O1 -D_GNU_SOURCE -Iruntime -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all
FUZZ_RT_SRC  := runtime/plan.c runtime/plan_file.c runtime/plan_records.c runtime/plan_names.c runtime/plan_identity.c runtime/plan_api.c runtime/lambda.c runtime/err.c runtime/mem.c

$(B)/fuzz/fuzz_plan: tests/fuzz/fuzz_plan.c $(FUZZ_RT_SRC) runtime/plan.h runtime/plan_format.h \
		runtime/plan_ops.def runtime/plan_records.def runtime/lambda.h runtime/ftsrt.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_plan.c $(FUZZ_RT_SRC) -lm

# the compiler's front ends: YAML (and lowering), and the ftsc language
FUZZ_FRONT := $(COMPILER_SRC) $(B)/grammar/ftsc.tab.c $(B)/grammar/ftsc.yy.c $(B)/stdlib_embed.c
$(B)/fuzz/fuzz_yaml $(B)/fuzz/fuzz_dsl: $(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_FRONT) $(B)/diag_fmt.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fopenmp -Icompiler -I$(B) -I$(B)/grammar -w -o $@ $< $(FUZZ_FRONT) \
		$(RUNTIME_SRC) $(PKG_LIBS) $(BLAS_LIBS) -lm -pthread

# the manifest reader, the regex translator, the config reader and the lambda
# compiler/VM: compiler sources, as the front ends
FUZZ_MORE := fuzz_manifest fuzz_pyre fuzz_config fuzz_lambda
$(FUZZ_MORE:%=$(B)/fuzz/%): $(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_FRONT) $(B)/diag_fmt.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fopenmp -Icompiler -I$(B) -I$(B)/grammar -w -o $@ $< $(FUZZ_FRONT) \
		$(RUNTIME_SRC) $(PKG_LIBS) $(BLAS_LIBS) -lm -pthread

# checkpoint resume followed by more steps: the whole runtime
$(B)/fuzz/fuzz_resume: tests/fuzz/fuzz_resume.c $(RUNTIME_SRC)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fopenmp -w -o $@ $< $(RUNTIME_SRC) $(BLAS_LIBS) -lm -pthread

fuzz: $(B)/fuzz/fuzz_plan $(B)/fuzz/fuzz_yaml $(B)/fuzz/fuzz_dsl $(FUZZ_MORE:%=$(B)/fuzz/%) \
		$(B)/fuzz/fuzz_resume $(B)/tests/check_semantics all
	@mkdir -p $(B)/fuzz/corpus_yaml $(B)/fuzz/corpus_dsl
	cp tests/schedules/*.yaml tests/cases/*.yaml samples/*.yaml $(B)/fuzz/corpus_yaml/
	cp samples/*.fts $(B)/fuzz/corpus_dsl/
	$(B)/fuzz/fuzz_yaml -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
		-artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus_yaml
	$(B)/fuzz/fuzz_dsl -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
		-artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus_dsl
	@mkdir -p $(B)/fuzz/corpus_plan
	@FTSC_BIN=$(FTSC) sh tests/fuzz/seed_plan.sh $(B)/fuzz/corpus_plan
	$(B)/fuzz/fuzz_plan -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		-artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus_plan
	@mkdir -p $(B)/fuzz/corpus_manifest $(B)/fuzz/corpus_pyre $(B)/fuzz/corpus_config \
		$(B)/fuzz/corpus_lambda $(B)/fuzz/corpus_resume
	cp tests/data/manifests/fts-*.tsv $(B)/fuzz/corpus_manifest/
	@sh tests/fuzz/seed_more.sh $(B)/fuzz $(FTSC) $(FTSRUN)
	for h in $(FUZZ_MORE); do \
		$(B)/fuzz/$$h -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -artifact_prefix=$(B)/fuzz/ \
			$(B)/fuzz/corpus_$${h#fuzz_} || exit 1; done
	FUZZ_PLAN=$(B)/fuzz/resume.plan $(B)/fuzz/fuzz_resume -max_total_time=$(FUZZ_SECONDS) \
		-max_len=1048576 -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus_resume
	@echo "== the check/run invariant over $(FUZZ_PROPERTY_CASES) random schedules"
	CK_RUN_CASE=invariant FTS_PROPERTY_CASES=$(FUZZ_PROPERTY_CASES) FTS_PROPERTY_SEED=$(FUZZ_PROPERTY_SEED) \
		$(B)/tests/check_semantics

# --- plan benchmark: open + validate the plan of a 500k-parameter manifest ----
bench-plan: all
	@sh bench/plan.sh $(B)
