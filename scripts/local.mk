dist_noinst_SCRIPTS += scripts/deps autogen.sh
dist_noinst_SCRIPTS += scripts/setup
# qemu_user's default, the system user vmsupd runs qemu as when it is root.
# Made on a real install as root only: a staged (DESTDIR) install is a
# package's, whose scripts make it.
dist_noinst_SCRIPTS += scripts/mkuser-qemu
install-exec-hook:
	if test -z "$(DESTDIR)" && test "$$(id -u)" = 0; then \
		$(SHELL) $(srcdir)/scripts/mkuser-qemu; fi
# The include check (make check runs it through tests/docs/test-includes.sh).
dist_noinst_SCRIPTS += scripts/check-includes

# Ops scripts (python3 standard library only). They share one client module,
# vmsup_api.py, installed into $(opspydir); make fills in configure's paths:
# the module's sysconfdir and runstatedir (where vmctl looks for the socket)
# and the scripts' $(opspydir) and $(bindir). In the build tree each script
# imports the module beside it, so tests run what make built.
ops_scripts = scripts/vm-qmp scripts/vm-balloon-all scripts/vm-top scripts/vm-ip
bin_SCRIPTS += $(ops_scripts)
opspydir = $(pkgdatadir)/python
opspy_DATA = scripts/vmsup_api.py
EXTRA_DIST += scripts/vm-qmp.in scripts/vm-balloon-all.in scripts/vm-top.in \
	scripts/vm-ip.in scripts/vmsup_api.py.in
CLEANFILES += $(ops_scripts) $(opspy_DATA)
scripts/vm-qmp: $(srcdir)/scripts/vm-qmp.in
scripts/vm-balloon-all: $(srcdir)/scripts/vm-balloon-all.in
scripts/vm-top: $(srcdir)/scripts/vm-top.in
scripts/vm-ip: $(srcdir)/scripts/vm-ip.in
scripts/vmsup_api.py: $(srcdir)/scripts/vmsup_api.py.in
# one recipe for the five (%-patterns are a GNU make extension)
$(ops_scripts) $(opspy_DATA): Makefile
	$(AM_V_GEN)$(MKDIR_P) scripts && \
	sed -e 's|@sysconfdir[@]|$(sysconfdir)|g' -e 's|@runstatedir[@]|$(runstatedir)|g' \
		-e 's|@opspydir[@]|$(opspydir)|g' -e 's|@bindir[@]|$(bindir)|g' \
		$(srcdir)/$@.in > $@.tmp && \
	case $@ in *.py) ;; *) chmod a+x $@.tmp ;; esac && mv $@.tmp $@

# bash completion: bash-completion loads completions/<command>, so the file
# must be called vmctl once installed.
bashcompletiondir = $(datadir)/bash-completion/completions
bashcompletion_DATA = completion/vmctl
EXTRA_DIST += scripts/vmctl.bash-completion
CLEANFILES += completion/vmctl
completion/vmctl: $(srcdir)/scripts/vmctl.bash-completion
	$(AM_V_GEN)$(MKDIR_P) completion && cp $(srcdir)/scripts/vmctl.bash-completion $@
# The README's two first commands in a fresh Debian 12 chroot (issue 24);
# CI runs it after make check.
dist_noinst_SCRIPTS += scripts/check-fresh
check-fresh:
	$(SHELL) $(srcdir)/scripts/check-fresh
.PHONY: check-fresh
