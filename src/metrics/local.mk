# metrics: the Prometheus text writer and collectors, and their glue into
# the core (vm-stats).
noinst_LTLIBRARIES += src/metrics/libvmmetrics.la
src_metrics_libvmmetrics_la_SOURCES = src/metrics/metrics.c src/metrics/metrics.h \
	src/metrics/metrics-vmsup.c
src_metrics_libvmmetrics_la_LIBADD = $(LIBEVENT_LIBS) -lm

src_libvmsup_la_SOURCES += src/metrics/vm-stats.c src/metrics/vm-stats.h
src_libvmsup_la_LIBADD += src/metrics/libvmmetrics.la
