# core: the VM registry and lifecycle, the supervisor monitor, the event
# bus, the state file, reattach and restart policy. Reaches the features
# only through the module ops they register.
src_libvmsup_la_SOURCES += \
	src/core/vm.c src/core/vm.h src/core/statefile.c src/core/statefile.h \
	src/core/hooks.c src/core/hooks.h src/core/supervisor.c src/core/supervisor.h \
	src/core/reattach.c src/core/reattach.h src/core/restart.c src/core/restart.h
