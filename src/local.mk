# fragment owned by the src module
include src/cgroup.mk
include src/agent.mk
