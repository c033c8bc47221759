# fragment owned by the qmp module
lib_LTLIBRARIES += qmp/libqmp.la
qmp_libqmp_la_SOURCES = qmp/qmp.h qmp/error.c qmp/parser.c \
	qmp/session-internal.h qmp/session.c qmp/command.c qmp/qga.c qmp/monitor.c qmp/inband.c \
	qmp/sync.c
qmp_libqmp_la_LIBADD = $(JSONC_LIBS) $(LIBEVENT_LIBS)
qmp_libqmp_la_LDFLAGS = -version-info 0:0:0
nobase_include_HEADERS = qmp/qmp.h
pkgconfig_DATA += qmp/libqmp.pc
