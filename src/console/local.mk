# console: a VM's console log kept under console_log_max (rotation), and
# its timer in the daemon (vm-console).
noinst_LTLIBRARIES += src/console/libvmconsole.la
src_console_libvmconsole_la_SOURCES = src/console/console-log.c src/console/console-log.h
src_console_libvmconsole_la_LIBADD = src/util/libvmutil.la

src_libvmsup_la_SOURCES += src/console/vm-console.c src/console/vm-console.h
src_libvmsup_la_LIBADD += src/console/libvmconsole.la
