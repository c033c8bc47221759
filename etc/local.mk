# fragment owned by the etc module
dist_sysconf_DATA = etc/vmsupd.conf

# systemd unit, with the configured paths.
systemdunitdir = $(prefix)/lib/systemd/system
systemdunit_DATA = etc/vmsupd.service
EXTRA_DIST += etc/vmsupd.service.in
CLEANFILES += etc/vmsupd.service
etc/vmsupd.service: $(srcdir)/etc/vmsupd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) etc && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/etc/vmsupd.service.in > $@.tmp && mv $@.tmp $@
