# core: the VM registry and lifecycle, the supervisor monitor, the event
# bus, the state file, reattach and restart policy. Reaches the features
# only through the module ops they register (module.h).
src_libvmsup_la_SOURCES += \
	src/core/vm.c src/core/vm-status.c src/core/vm.h src/core/supervisor.h src/core/module.h \
	src/core/sup-internal.h src/core/module.c src/core/registry.c \
	src/core/waiter.c src/core/bus.c src/core/lifecycle.c src/core/process.c \
	src/core/monitor.c src/core/fatal.c src/core/qmp-call.c src/core/stop.c src/core/op.c src/core/ops-proxy.c \
	src/core/statefile.c src/core/statefile.h src/core/statewriter.c src/core/statewriter.h \
	src/core/reattach.c src/core/reattach.h src/core/reattach-internal.h \
	src/core/reattach-watch.c src/core/reattach-qmp.c src/core/restart.c src/core/restart.h
