# cli: vmctl. It talks to vmsupd through the client library; its only way
# into the supervisor itself is the in-process entry point (daemon.h), for
# `vmctl run` with no daemon.

# libvmctl: everything of vmctl but main(), so the unit tests link it.
noinst_LTLIBRARIES += src/cli/libvmctl.la
src_cli_libvmctl_la_SOURCES = src/cli/vmctl.h src/cli/vmctl-util.c src/cli/vmctl-global.c src/cli/vmctl-usage.c \
	src/cli/vmctl-output.c src/cli/vmctl-create.c src/cli/vmctl-cmds.c src/cli/vmctl-logs.c \
	src/cli/vmctl-console.c \
	src/cli/vmctl-shell.c src/cli/vmctl-shell.h src/cli/vmctl-exec.c src/cli/vmctl-exec.h \
	src/cli/vmctl-ssh-wait.c \
	src/cli/vmctl-run.c src/cli/vmctl-run-internal.h src/cli/vmctl-run-guest.c \
	src/cli/vmctl-run-pool.c src/cli/vmctl-launcher.c src/cli/vmctl-launcher.h \
	src/cli/vmctl-inproc.c src/cli/vmctl-inproc.h src/cli/vmctl-template.c \
	src/cli/vmctl-service.c src/cli/vmctl-net.c
nodist_src_cli_libvmctl_la_SOURCES = src/cli/vmctl-launcher-tmpl.c
src_cli_libvmctl_la_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS)
src_cli_libvmctl_la_LIBADD = src/client/libvmclient.la $(JSONC_LIBS)

bin_PROGRAMS += src/cli/vmctl
src_cli_vmctl_SOURCES = src/cli/vmctl.c
src_cli_vmctl_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS)
# libvmsup: the supervisor, for run's in-process mode (no daemon).
src_cli_vmctl_LDADD = src/cli/libvmctl.la src/client/libvmclient.la src/libvmsup.la \
	$(CURL_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS)

# The launcher template is compiled in, so `vmctl run` needs no installed
# data file; each line becomes a C string literal.
src/cli/vmctl-launcher-tmpl.c: $(top_srcdir)/scripts/vm-launcher.sh.in
	$(AM_V_GEN)$(MKDIR_P) src/cli && { \
	  echo '/* generated from scripts/vm-launcher.sh.in: do not edit */'; \
	  echo '#include "src/cli/vmctl-launcher.h"'; \
	  echo 'const char vmctl_launcher_template[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/	"/' -e 's/$$/\\n"/' \
	    $(top_srcdir)/scripts/vm-launcher.sh.in; \
	  echo ';'; } > $@-t && mv $@-t $@
CLEANFILES += src/cli/vmctl-launcher-tmpl.c
EXTRA_DIST += scripts/vm-launcher.sh.in
