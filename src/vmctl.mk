# vmctl fragment: the API client library and the vmctl CLI.

# libvmclient: the HTTP client of the vmsupd API (libcurl), shared with the
# Mesos executor, tests and benchmarks.
noinst_LTLIBRARIES += src/libvmclient.la
src_libvmclient_la_SOURCES = src/client.c src/client.h
src_libvmclient_la_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS)
src_libvmclient_la_LIBADD = $(CURL_LIBS) $(JSONC_LIBS)

# libvmctl: everything of vmctl but main(), so the unit tests link it.
noinst_LTLIBRARIES += src/libvmctl.la
src_libvmctl_la_SOURCES = src/vmctl.h src/vmctl-util.c src/vmctl-usage.c \
	src/vmctl-output.c src/vmctl-create.c src/vmctl-cmds.c \
	src/vmctl-shell.c src/vmctl-shell.h src/vmctl-exec.c src/vmctl-exec.h \
	src/vmctl-run.c src/vmctl-launcher.c src/vmctl-launcher.h \
	src/b64.c src/b64.h
nodist_src_libvmctl_la_SOURCES = src/vmctl-launcher-tmpl.c
src_libvmctl_la_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS)
src_libvmctl_la_LIBADD = src/libvmclient.la $(JSONC_LIBS)

bin_PROGRAMS += src/vmctl
src_vmctl_SOURCES = src/vmctl.c
src_vmctl_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS)
src_vmctl_LDADD = src/libvmctl.la src/libvmclient.la $(CURL_LIBS) $(JSONC_LIBS)

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
