/*
 * The numeric limits of a VM, one table for everyone who checks them: the
 * daemon's validators (spec, routes, config, pool) and vmctl, so that the
 * CLI refuses exactly what the daemon would (a usage error, exit 2, instead
 * of a round trip) and never what the daemon accepts.
 */
#ifndef VMSUP_BOUNDS_H
#define VMSUP_BOUNDS_H

#define VMSUP_MEM_MIN_MIB   16u			    /* a VM's memory */
#define VMSUP_MEM_MAX_MIB   1048576u		    /* 1 TiB */
#define VMSUP_CPUS_MAX	    64u			    /* vCPUs of a VM */
#define VMSUP_QUOTA_PCT_MAX (100u * VMSUP_CPUS_MAX) /* CPU quota: 100 per vCPU */
#define VMSUP_PERIOD_MIN_US 1000u		    /* CFS period: the kernel's bounds */
#define VMSUP_PERIOD_MAX_US 1000000u
#define VMSUP_TIMEOUT_MAX_S 86400u /* stop and destroy grace, in seconds */
/* exec's stdin through the agent, in bytes: its base64 fits the API's
 * 1 MiB request body, and it travels inside one guest-exec command */
#define VMSUP_EXEC_INPUT_MAX (512u * 1024u)

#endif
