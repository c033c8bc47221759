# guest: the guest agent client (readiness, IP, exec, ssh keys) and its glue
# into the core (vm-agent).
noinst_LTLIBRARIES += src/guest/libvmagent.la
src_guest_libvmagent_la_SOURCES = \
	src/guest/agent.c src/guest/agent.h src/guest/agent-internal.h src/guest/agent-ip.c \
	src/guest/agent-exec.c src/guest/ipselect.c src/guest/ipselect.h \
	src/guest/gexec.c src/guest/gexec.h src/guest/gexec-files.c \
	src/guest/gexec-internal.h src/guest/keys.c src/guest/keys.h
src_guest_libvmagent_la_LIBADD = src/util/libvmutil.la qmp/libqmp.la $(JSONC_LIBS) \
	$(LIBEVENT_LIBS)

src_libvmsup_la_SOURCES += src/guest/vm-agent.c src/guest/vm-agent.h
src_libvmsup_la_LIBADD += src/guest/libvmagent.la
