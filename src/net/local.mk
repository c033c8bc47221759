# net: mode bridge of a VM's network, a tap per VM on a host bridge
# (issue 22), and its glue into the core (vm-bridge).
src_libvmsup_la_SOURCES += src/net/tap.c src/net/tap.h src/net/vm-bridge.c src/net/vm-bridge.h
