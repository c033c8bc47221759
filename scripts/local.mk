dist_noinst_SCRIPTS += scripts/deps autogen.sh
dist_noinst_SCRIPTS += scripts/setup
