# tests fragment (cgroup)
