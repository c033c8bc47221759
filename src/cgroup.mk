# cgroup module fragment
