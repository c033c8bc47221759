# fragment owned by the man module (issue 11)
dist_man_MANS += man/vmctl.1 man/vmsupd.conf.5 man/vmsupd.8 man/mesos-vm-executor.8
