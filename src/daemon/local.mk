# daemon: vmsupd; the HTTP API (routes, held requests, peer checks) and the
# only layer that knows HTTP statuses.
src_libvmsup_la_SOURCES += \
	src/daemon/daemon.c src/daemon/daemon.h src/daemon/http.c src/daemon/http.h \
	src/daemon/api.c src/daemon/api.h src/daemon/router.c src/daemon/router.h \
	src/daemon/api-vm.c src/daemon/api-vm.h src/daemon/api-guest.c src/daemon/api-guest.h \
	src/daemon/api-logs.c src/daemon/api-logs.h \
	src/daemon/api-console.c src/daemon/api-console.h \
	src/daemon/api-limits.c src/daemon/api-limits.h \
	src/daemon/api-template.c src/daemon/api-template.h \
	src/daemon/api-pool.c src/daemon/api-pool.h \
	src/daemon/api-health.c src/daemon/api-health.h \
	src/daemon/accept.c src/daemon/accept.h \
	src/daemon/conn.c src/daemon/conn.h \
	src/daemon/owner.c src/daemon/owner.h \
	src/daemon/notify.c src/daemon/notify.h \
	src/daemon/autostart.c src/daemon/autostart.h \
	src/daemon/api-shutdown.c src/daemon/api-shutdown.h
# sd_notify (Type=notify)
src_libvmsup_la_LIBADD += $(SYSTEMD_LIBS)

sbin_PROGRAMS += src/daemon/vmsupd
src_daemon_vmsupd_SOURCES = src/daemon/vmsupd.c
src_daemon_vmsupd_LDADD = src/libvmsup.la
