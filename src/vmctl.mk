# vmctl fragment: the API client library and the vmctl CLI.

# libvmclient: the HTTP client of the vmsupd API (libcurl), shared with the
# Mesos executor, tests and benchmarks.
noinst_LTLIBRARIES += src/libvmclient.la
src_libvmclient_la_SOURCES = src/client.c src/client.h src/b64.c src/b64.h
src_libvmclient_la_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS)
src_libvmclient_la_LIBADD = $(CURL_LIBS) $(JSONC_LIBS)

# libvmctl: everything of vmctl but main(), so the unit tests link it.
noinst_LTLIBRARIES += src/libvmctl.la
src_libvmctl_la_SOURCES = src/vmctl.h src/vmctl-util.c src/vmctl-usage.c \
	src/vmctl-output.c src/vmctl-create.c src/vmctl-cmds.c \
	src/vmctl-shell.c src/vmctl-shell.h src/vmctl-exec.c src/vmctl-exec.h \
	src/vmctl-run.c src/vmctl-launcher.c src/vmctl-launcher.h \
	src/vmctl-inproc.c src/vmctl-inproc.h
nodist_src_libvmctl_la_SOURCES = src/vmctl-launcher-tmpl.c
src_libvmctl_la_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS)
src_libvmctl_la_LIBADD = src/libvmclient.la $(JSONC_LIBS)

bin_PROGRAMS += src/vmctl
src_vmctl_SOURCES = src/vmctl.c
src_vmctl_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS)
# libvmsup: the supervisor core, for run's in-process mode (no daemon).
src_vmctl_LDADD = src/libvmctl.la src/libvmclient.la src/libvmsup.la $(CURL_LIBS) \
	$(JSONC_LIBS) $(LIBEVENT_LIBS)

# The launcher template is compiled in, so `vmctl run` needs no installed
# data file; each line becomes a C string literal.
src/vmctl-launcher-tmpl.c: $(top_srcdir)/scripts/vm-launcher.sh.in
	$(AM_V_GEN)$(MKDIR_P) src && { \
	  echo '/* generated from scripts/vm-launcher.sh.in: do not edit */'; \
	  echo '#include "src/vmctl-launcher.h"'; \
	  echo 'const char vmctl_launcher_template[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/	"/' -e 's/$$/\\n"/' \
	    $(top_srcdir)/scripts/vm-launcher.sh.in; \
	  echo ';'; } > $@-t && mv $@-t $@
CLEANFILES += src/vmctl-launcher-tmpl.c
EXTRA_DIST += scripts/vm-launcher.sh.in

# bench/vmctl-run: `vmctl run -- true` split into its phases, through a
# daemon and in-process (make bench builds it; never run by make check).
bench_programs += bench/vmctl-run
bench_vmctl_run_SOURCES = bench/vmctl-run.c bench/benchlib.c bench/benchlib.h
bench_vmctl_run_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS)
bench_vmctl_run_LDADD = src/libvmclient.la qmp/libqmp.la $(CURL_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS) -lm
# it times the vmctl binary next to it
EXTRA_bench_vmctl_run_DEPENDENCIES = src/vmctl
