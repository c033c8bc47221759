# libFuzzer targets (configure with CC=clang --enable-fuzzing, best in a
# build dir of its own: configure then instruments every object, see
# configure.ac). Each target links the library its code lives in, so a
# source file added there is in the target too. Run one by hand:
#   tests/fuzz/fuzz-api -max_total_time=600 CORPUS $(srcdir)/tests/fuzz/api-corpus
FUZZ_TARGETS = tests/fuzz/fuzz-config:config-corpus tests/fuzz/fuzz-spec:spec-corpus \
	tests/fuzz/qmp-parser:qmp-corpus tests/fuzz/fuzz-recordio:recordio-corpus \
	tests/fuzz/fuzz-api:api-corpus tests/fuzz/fuzz-statefile:statefile-corpus
EXTRA_DIST += tests/fuzz/config-corpus tests/fuzz/spec-corpus tests/fuzz/qmp-corpus \
	tests/fuzz/recordio-corpus tests/fuzz/api-corpus tests/fuzz/statefile-corpus
CLEANFILES += tests/fuzz/*.fuzz.log

if FUZZING
# -no-install: a real binary, not libtool's wrapper script around one
FUZZ_LINK = $(FUZZ_LDFLAGS) -no-install
fuzz_targets = tests/fuzz/fuzz-config tests/fuzz/fuzz-spec tests/fuzz/qmp-parser \
	tests/fuzz/fuzz-recordio tests/fuzz/fuzz-api tests/fuzz/fuzz-statefile
noinst_PROGRAMS += $(fuzz_targets)
# a config file's text -> vmsup_config
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/config.c
tests_fuzz_fuzz_config_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_config_LDADD = src/libvmsup.la
# an API request's JSON -> VM spec, and back
tests_fuzz_fuzz_spec_SOURCES = tests/fuzz/spec.c
tests_fuzz_fuzz_spec_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_spec_LDADD = src/libvmsup.la
# qemu's QMP byte stream -> messages
tests_fuzz_qmp_parser_SOURCES = tests/fuzz/qmp-parser.c
tests_fuzz_qmp_parser_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_qmp_parser_LDADD = qmp/libqmp.la $(JSONC_LIBS)
# the Mesos agent's RecordIO stream -> events
tests_fuzz_fuzz_recordio_SOURCES = tests/fuzz/recordio.c
tests_fuzz_fuzz_recordio_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_recordio_LDADD = src/executor/libvmexec.la $(JSONC_LIBS)
# an HTTP request (method, path, body) -> the daemon's router and routes
tests_fuzz_fuzz_api_SOURCES = tests/fuzz/api.c tests/fuzz/fuzz-sup.c tests/fuzz/fuzz-sup.h
tests_fuzz_fuzz_api_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_api_LDADD = src/libvmsup.la $(LIBEVENT_LIBS) $(JSONC_LIBS)
# a state file's bytes -> the VM reattach would rebuild
tests_fuzz_fuzz_statefile_SOURCES = tests/fuzz/statefile.c tests/fuzz/fuzz-sup.c \
	tests/fuzz/fuzz-sup.h
tests_fuzz_fuzz_statefile_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_statefile_LDADD = src/libvmsup.la $(JSONC_LIBS)
endif

# make fuzz-smoke: each target for FUZZ_SECONDS on a copy of its seed
# corpus; any other build says it skips. A crash, leak, round-trip abort or
# RSS over 2 GiB fails the run and leaves the input in the build dir
# (tests/fuzz/fuzz-NAME-crash-*).
FUZZ_SECONDS = 30
if FUZZING
fuzz-smoke: $(fuzz_targets)
	@set -e; for t in $(FUZZ_TARGETS); do \
	  bin=$${t%%:*}; seeds=$(srcdir)/tests/fuzz/$${t#*:}; \
	  work=$$(mktemp -d); cp $$seeds/* $$work/; \
	  echo "fuzz-smoke: $$bin, $(FUZZ_SECONDS) s"; \
	  if ! LSAN_OPTIONS="suppressions=$(abs_top_srcdir)/tests/lsan.supp:print_suppressions=0" \
	      ./$$bin -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 \
	      -artifact_prefix=$$bin- $$work > $$bin.fuzz.log 2>&1; then \
	    tail -40 $$bin.fuzz.log; rm -rf $$work; echo "fuzz-smoke: $$bin FAILED"; exit 1; fi; \
	  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov:' $$bin.fuzz.log | tail -3; \
	  rm -rf $$work; \
	done
else
fuzz-smoke:
	@echo "fuzz-smoke: SKIP: configure with CC=clang --enable-fuzzing (needs clang's libFuzzer) to build the targets"
endif
.PHONY: fuzz-smoke
