# fragment owned by the man module (issue 11)
# The pages in man/ name paths as @sysconfdir@, @runstatedir@,
# @localstatedir@ and @sbindir@; the installed pages (man/gen/) say what
# configure chose, the same paths the binaries were built with (issue 24).
man_MANS = man/gen/vmctl.1 man/gen/vmsupd.conf.5 man/gen/vmsupd.8 man/gen/mesos-vm-executor.8
man_in = man/vmctl.1 man/vmsupd.conf.5 man/vmsupd.8 man/mesos-vm-executor.8
EXTRA_DIST += $(man_in)
CLEANFILES += $(man_MANS)
# One recipe for the four pages: each is made from the page of its name in
# man/ (one rule for the four targets: %-patterns are a GNU make extension).
$(man_MANS): $(man_in) Makefile
	$(AM_V_GEN)$(MKDIR_P) man/gen && \
	sed -e 's|@sysconfdir[@]|$(sysconfdir)|g' -e 's|@runstatedir[@]|$(runstatedir)|g' \
		-e 's|@localstatedir[@]|$(localstatedir)|g' -e 's|@sbindir[@]|$(sbindir)|g' \
		$(srcdir)/man/`basename $@` > $@.tmp && mv $@.tmp $@
