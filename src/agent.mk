# agent module fragment: the guest-agent library linked into vmsupd
noinst_LTLIBRARIES += src/libvmagent.la
src_libvmagent_la_SOURCES = src/agent.c src/agent.h src/ipselect.c src/ipselect.h \
	src/gexec.c src/gexec.h src/b64.c src/b64.h src/keys.c src/keys.h
src_libvmagent_la_LIBADD = qmp/libqmp.la $(JSONC_LIBS) $(LIBEVENT_LIBS)

# Benchmark (never run by make check): spawn -> IP vs spawn -> agent port open.
bench_programs += bench/time-to-ip
bench_time_to_ip_SOURCES = bench/time-to-ip.c
bench_time_to_ip_LDADD = tests/libharness-agent.la $(JSONC_LIBS) $(LIBEVENT_LIBS)
