/*
 * vmctl internals shared by its command modules: global options, error
 * reporting (the `vmctl: NAME: reason` contract), argument parsing, API calls.
 */
#ifndef VMCTL_H
#define VMCTL_H

#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include <json-c/json.h>

/* Exit statuses of the CLI contract. */
#define VMCTL_EXIT_ERR	 1
#define VMCTL_EXIT_USAGE 2

struct vmctl {
	const char *sock; /* resolved API socket */
	int json;	  /* -o json */
	int quiet;	  /* -q */
};

/*
 * Global options (vmctl-global.c), taken by main before the command and by
 * vmctl_parse among each command's options, anywhere before "--". main
 * registers its struct vmctl; the commands read it after parsing.
 * vmctl_global_opt returns 0 when it took opt, -1 when opt is not global,
 * or VMCTL_EXIT_USAGE after printing. vmctl_with_global_opts copies lo and
 * the global long options into all[size]; -1 when they do not fit.
 */
enum { VMCTL_OPT_SOCKET = 900 };
#define VMCTL_GLOBAL_SHORTOPTS "o:q"
#define VMCTL_GLOBAL_LONGOPTS                                                                      \
	{"socket", required_argument, NULL, VMCTL_OPT_SOCKET},                                     \
	    {"output", required_argument, NULL, 'o'},                                              \
	{                                                                                          \
		"quiet", no_argument, NULL, 'q'                                                    \
	}
void vmctl_set_globals(struct vmctl *g);
int vmctl_global_opt(const char *cmd, int opt, const char *arg);
int vmctl_with_global_opts(const struct option *lo, struct option *all, size_t size);

/* `vmctl: NAME: reason` on stderr; returns VMCTL_EXIT_ERR. */
int vmctl_fail(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `vmctl: CMD: reason` + the command's usage line; returns VMCTL_EXIT_USAGE. */
int vmctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Help texts (vmctl-usage.c). cmd NULL = the global help. */
int vmctl_print_help(FILE *f, const char *cmd);
void vmctl_print_usage_line(FILE *f, const char *cmd);

/* VM names as the API accepts them: [A-Za-z0-9][A-Za-z0-9_.-]{0,62}. */
int vmctl_valid_name(const char *name);
/* Strict decimal in [min, max]; 0 or -1. */
int vmctl_parse_long(const char *s, long min, long max, long *out);
/* A size in MiB: a decimal with an optional unit M/MiB or G/GiB (any case;
 * none = MiB), in [min, max] MiB; 0 or -1. */
int vmctl_parse_mib(const char *s, long min, long max, long *out);

/*
 * Per-command argument parsing: options (getopt_long, in order), up to
 * npos positionals, and with want_rest everything after them (or after
 * "--") as a command line. fn handles each option (return 0, or
 * VMCTL_EXIT_USAGE after printing). Returns 0, VMCTL_EXIT_USAGE, or -1 when
 * --help was printed (exit 0).
 */
typedef int (*vmctl_opt_fn)(const char *cmd, int opt, const char *arg, void *ctx);
struct vmctl_args {
	const char *pos[4];
	int npos;
	char **rest;
	int nrest;
};
int vmctl_parse(const char *cmd, int argc, char **argv, const char *shortopts,
		const struct option *longopts, int maxpos, int want_rest, vmctl_opt_fn fn,
		void *ctx, struct vmctl_args *out);

/*
 * One API call. On a 2xx reply returns 0 with *reply (may be NULL; caller
 * puts it). Otherwise prints `vmctl: name: desc` and returns VMCTL_EXIT_ERR;
 * *http (optional) gets the status, 0 when no reply came.
 */
int vmctl_call(const struct vmctl *g, const char *name, const char *method, const char *path,
	       struct json_object *body, long timeout_ms, struct json_object **reply, long *http);

/* `CMD NAME ...`: vmctl_parse, then NAME there and valid (else a usage
 * error); returns as vmctl_parse. */
int vmctl_parse_name(const char *cmd, int argc, char **argv, const char *shortopts,
		     const struct option *lo, vmctl_opt_fn fn, void *ctx, int maxpos, int want_rest,
		     struct vmctl_args *a);
/* GET /v1/vms/NAME followed by suffix (NULL, or e.g. "/logs?tail=3"); as vmctl_call. */
int vmctl_get_vm(const struct vmctl *g, const char *name, const char *suffix,
		 struct json_object **reply);
/* vmctl_get_vm and print the reply: with -o json the reply (or its member
 * key, null if absent), else text(reply). */
int vmctl_get_print(const struct vmctl *g, const char *name, const char *suffix, const char *key,
		    void (*text)(struct json_object *reply));

/*
 * 1 when the VM no longer runs (crashed, failed, stopped, or gone from the
 * daemon), with why[] saying so in the daemon's words ("crashed: killed by
 * the kernel's OOM killer ..."); 0 while it runs or when the daemon does
 * not answer (the caller's own wait decides then). For loops that wait on
 * a guest: they fail at once instead of retrying into a dead VM.
 */
int vmctl_vm_dead(const struct vmctl *g, const char *name, char *why, size_t size);

/* Output (vmctl-output.c). */
void vmctl_print_json(struct json_object *v);
void vmctl_print_vm_text(struct json_object *vm);
/* The list table; names_only (-q): one name a line, no header. */
void vmctl_print_vm_list_text(struct json_object *vms, int names_only);
void vmctl_print_event_text(struct json_object *ev);
/* rm -r (NULL: nothing), going on past what cannot be removed. */
void vmctl_rmrf(const char *dir);

/* A field as a string for text output ("-" for null/absent); buf for numbers. */
const char *vmctl_field(struct json_object *o, const char *key, char *buf, size_t n);
/* A duration field in ms with one decimal ("16.8"), "-" when absent. */
const char *vmctl_ms(struct json_object *o, const char *key, char *buf, size_t n);
/* Seconds since the epoch as "2026-12-05 21:20:11 UTC", in buf. */
const char *vmctl_utc(double epoch, char *buf, size_t n);

/*
 * The VM-spec options shared by create and run (vmctl-create.c): put
 * VMCTL_SPEC_LONGOPTS into a command's longopts and pass each option to
 * vmctl_spec_opt, which returns 0 when it took it, -1 when the option is
 * not a spec option, or an exit status after printing the error.
 */
enum {
	VMCTL_OPT_MEM = 1000,
	VMCTL_OPT_CPUS,
	VMCTL_OPT_KERNEL,
	VMCTL_OPT_INITRD,
	VMCTL_OPT_APPEND,
	VMCTL_OPT_DISK,
	VMCTL_OPT_ACCEL,
	VMCTL_OPT_SHARE,
	VMCTL_OPT_RESTART,
	VMCTL_OPT_NO_GUEST,
	VMCTL_OPT_DISK_MODE,
	VMCTL_OPT_NO_START,
	VMCTL_OPT_NET,
	VMCTL_OPT_PUBLISH,
	VMCTL_OPT_EGRESS,
	VMCTL_OPT_PIN,
	VMCTL_OPT_EMULATOR_PIN,
	VMCTL_OPT_FIRST_FREE /* commands number their own options from here */
};
#define VMCTL_SPEC_LONGOPTS                                                                        \
	{"mem", required_argument, NULL, VMCTL_OPT_MEM},                                           \
	    {"cpus", required_argument, NULL, VMCTL_OPT_CPUS},                                     \
	    {"kernel", required_argument, NULL, VMCTL_OPT_KERNEL},                                 \
	    {"initrd", required_argument, NULL, VMCTL_OPT_INITRD},                                 \
	    {"append", required_argument, NULL, VMCTL_OPT_APPEND},                                 \
	    {"disk", required_argument, NULL, VMCTL_OPT_DISK},                                     \
	    {"disk-mode", required_argument, NULL, VMCTL_OPT_DISK_MODE},                           \
	    {"accel", required_argument, NULL, VMCTL_OPT_ACCEL},                                   \
	    {"share", required_argument, NULL, VMCTL_OPT_SHARE},                                   \
	    {"restart", required_argument, NULL, VMCTL_OPT_RESTART},                               \
	    {"net", required_argument, NULL, VMCTL_OPT_NET},                                       \
	    {"publish", required_argument, NULL, VMCTL_OPT_PUBLISH},                               \
	    {"egress", no_argument, NULL, VMCTL_OPT_EGRESS},                                       \
	{                                                                                          \
		"no-guest", no_argument, NULL, VMCTL_OPT_NO_GUEST                                  \
	}
/* --pin and --emulator-pin of create and run (not of template create:
 * a restored VM's threads are its own), taken by vmctl_spec_opt. */
#define VMCTL_PIN_LONGOPTS                                                                         \
	{"pin", required_argument, NULL, VMCTL_OPT_PIN},                                           \
	{                                                                                          \
		"emulator-pin", required_argument, NULL, VMCTL_OPT_EMULATOR_PIN                    \
	}
int vmctl_spec_opt(const char *cmd, int opt, const char *arg, struct json_object *spec);
/*
 * A pinning option's argument into body: for key "pin" a CPU list ("pin":
 * every vCPU on it) or a vCPU map V:LIST,V:LIST ("vcpu_pin"; items without
 * a colon continue the previous vCPU's list); for "emulator_pin" a CPU
 * list. '' or none: null (not pinned). 0 or an exit status.
 */
int vmctl_pin_opt(const char *cmd, const char *key, const char *arg, struct json_object *body);
/* --net, --publish, --egress (vmctl-net.c), the same contract. */
int vmctl_net_opt(const char *cmd, int opt, const char *arg, struct json_object *spec);

/* Commands: argc/argv start at the command name. */
int vmctl_cmd_create(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_list(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_status(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_lifecycle(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_stop(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_destroy(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_memory(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_cpu(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_ip(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_logs(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_console(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_port(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_exec(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_run(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_qmp(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_events(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_metrics(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_health(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_pool(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_version(const struct vmctl *g, int argc, char **argv);
/* vmsupd as a host service (vmctl-service.c): autostart NAME on|off, shutdown --all. */
int vmctl_cmd_autostart(const struct vmctl *g, int argc, char **argv);
int vmctl_cmd_shutdown(const struct vmctl *g, int argc, char **argv);
/* Templates (vmctl-template.c): template create|list|rm, create NAME --from T. */
int vmctl_cmd_template(const struct vmctl *g, int argc, char **argv);
int vmctl_create_has_from(int argc, char **argv);
int vmctl_cmd_create_from(const struct vmctl *g, int argc, char **argv);

#endif
