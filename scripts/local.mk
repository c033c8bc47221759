dist_noinst_SCRIPTS += scripts/deps autogen.sh
dist_noinst_SCRIPTS += scripts/setup
# The include check (make check runs it through tests/docs/test-includes.sh).
dist_noinst_SCRIPTS += scripts/check-includes

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
# The README's two first commands in a fresh Debian 12 chroot (issue 24);
# CI runs it after make check.
dist_noinst_SCRIPTS += scripts/check-fresh
check-fresh:
	$(SHELL) $(srcdir)/scripts/check-fresh
.PHONY: check-fresh
