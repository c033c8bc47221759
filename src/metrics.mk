# Fragment owned by the ops module (issue 11): the Prometheus writer,
# the systemd unit, the ops scripts and the bash completion.

noinst_LTLIBRARIES += src/libvmmetrics.la
src_libvmmetrics_la_SOURCES = src/metrics.c src/metrics.h src/metrics-vmsup.c \
	src/metrics-proc.c
src_libvmmetrics_la_LIBADD = $(LIBEVENT_LIBS) -lm

# systemd unit, with the configured paths.
systemdunitdir = $(prefix)/lib/systemd/system
systemdunit_DATA = etc/vmsupd.service
EXTRA_DIST += etc/vmsupd.service.in
CLEANFILES += etc/vmsupd.service
etc/vmsupd.service: $(srcdir)/etc/vmsupd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) etc && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/etc/vmsupd.service.in > $@.tmp && mv $@.tmp $@

# Ops scripts (python3 standard library only).
dist_bin_SCRIPTS += scripts/vm-qmp scripts/vm-balloon-all scripts/vm-top scripts/vm-ip

# bash completion: bash-completion loads completions/<command>, so the file
# must be called vmctl once installed.
bashcompletiondir = $(datadir)/bash-completion/completions
bashcompletion_DATA = completion/vmctl
EXTRA_DIST += scripts/vmctl.bash-completion
CLEANFILES += completion/vmctl
completion/vmctl: $(srcdir)/scripts/vmctl.bash-completion
	$(AM_V_GEN)$(MKDIR_P) completion && cp $(srcdir)/scripts/vmctl.bash-completion $@
