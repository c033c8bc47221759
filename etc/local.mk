# fragment owned by the etc module
dist_sysconf_DATA = etc/vmsupd.conf
