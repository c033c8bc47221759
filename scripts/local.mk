dist_noinst_SCRIPTS += scripts/deps autogen.sh
