# fragment owned by the man module (issue 11)
# The pages in man/ name paths as @sysconfdir@, @runstatedir@,
# @localstatedir@ and @sbindir@; the installed pages (man/gen/) say what
# configure chose, the same paths the binaries were built with (issue 24).
man_MANS = man/gen/vmctl.1 man/gen/vmsupd.conf.5 man/gen/vmsupd.8 man/gen/mesos-vm-executor.8
EXTRA_DIST += man/vmctl.1 man/vmsupd.conf.5 man/vmsupd.8 man/mesos-vm-executor.8
CLEANFILES += $(man_MANS)
man_subst = sed -e 's|@sysconfdir[@]|$(sysconfdir)|g' -e 's|@runstatedir[@]|$(runstatedir)|g' \
	-e 's|@localstatedir[@]|$(localstatedir)|g' -e 's|@sbindir[@]|$(sbindir)|g'
man/gen/vmctl.1: $(srcdir)/man/vmctl.1 Makefile
	$(AM_V_GEN)$(MKDIR_P) man/gen && $(man_subst) $(srcdir)/man/vmctl.1 > $@.tmp && mv $@.tmp $@
man/gen/vmsupd.conf.5: $(srcdir)/man/vmsupd.conf.5 Makefile
	$(AM_V_GEN)$(MKDIR_P) man/gen && $(man_subst) $(srcdir)/man/vmsupd.conf.5 > $@.tmp && mv $@.tmp $@
man/gen/vmsupd.8: $(srcdir)/man/vmsupd.8 Makefile
	$(AM_V_GEN)$(MKDIR_P) man/gen && $(man_subst) $(srcdir)/man/vmsupd.8 > $@.tmp && mv $@.tmp $@
man/gen/mesos-vm-executor.8: $(srcdir)/man/mesos-vm-executor.8 Makefile
	$(AM_V_GEN)$(MKDIR_P) man/gen && $(man_subst) $(srcdir)/man/mesos-vm-executor.8 > $@.tmp && mv $@.tmp $@
