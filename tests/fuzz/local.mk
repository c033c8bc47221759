# make fuzz-smoke: each libFuzzer target for FUZZ_SECONDS on a copy of its
# seed corpus (a build configured with CC=clang --enable-fuzzing; any other
# build says it skips). A crash, leak or failed round trip fails the run and
# leaves the input in the build dir (crash-*, leak-*).
FUZZ_SECONDS = 10
FUZZ_TARGETS = tests/fuzz/fuzz-config:config-corpus tests/fuzz/fuzz-spec:spec-corpus \
	tests/fuzz/qmp-parser:qmp-corpus tests/fuzz/fuzz-recordio:recordio-corpus

if FUZZING
fuzz-smoke: tests/fuzz/fuzz-config tests/fuzz/fuzz-spec tests/fuzz/qmp-parser tests/fuzz/fuzz-recordio
	@set -e; for t in $(FUZZ_TARGETS); do \
	  bin=$${t%%:*}; seeds=$(srcdir)/tests/fuzz/$${t#*:}; \
	  work=$$(mktemp -d); cp $$seeds/* $$work/; \
	  echo "fuzz-smoke: $$bin, $(FUZZ_SECONDS) s"; \
	  if ! ./$$bin -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$work \
	      > $$bin.fuzz.log 2>&1; then \
	    tail -40 $$bin.fuzz.log; rm -rf $$work; echo "fuzz-smoke: $$bin FAILED"; exit 1; fi; \
	  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov:' $$bin.fuzz.log | tail -3; \
	  rm -rf $$work; \
	done
else
fuzz-smoke:
	@echo "fuzz-smoke: SKIP: configure with CC=clang --enable-fuzzing (needs clang's libFuzzer) to build the targets"
endif
.PHONY: fuzz-smoke
EXTRA_DIST += tests/fuzz/recordio-corpus
CLEANFILES += tests/fuzz/*.fuzz.log
