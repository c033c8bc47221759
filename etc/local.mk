# fragment owned by the etc module
dist_sysconf_DATA = etc/vmsupd.conf

# systemd units, with the configured paths: the daemon, and the stop of every
# VM at host shutdown (vmsupd-guests, in the style of libvirt-guests).
systemdunitdir = $(prefix)/lib/systemd/system
systemdunit_DATA = etc/vmsupd.service etc/vmsupd-guests.service
EXTRA_DIST += etc/vmsupd.service.in etc/vmsupd-guests.service.in
CLEANFILES += etc/vmsupd.service etc/vmsupd-guests.service
etc/vmsupd.service: $(srcdir)/etc/vmsupd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) etc && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/etc/vmsupd.service.in > $@.tmp && mv $@.tmp $@
etc/vmsupd-guests.service: $(srcdir)/etc/vmsupd-guests.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) etc && \
	sed -e 's|@bindir[@]|$(bindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/etc/vmsupd-guests.service.in > $@.tmp && mv $@.tmp $@
