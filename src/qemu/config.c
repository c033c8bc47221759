#include "src/qemu/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <config.h> /* autoconf's, not src/qemu/config.h */
#include "src/util/bounds.h"
#include "src/util/err.h"
#include "src/util/log.h"
#include "src/qemu/net.h"
#include "src/util/name.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif
#ifndef QEMU_DEFAULT
#define QEMU_DEFAULT "qemu-system-x86_64"
#endif

enum kind { K_STR, K_PATH, K_PATHS, K_OPTSTR, K_UINT, K_ACCEL, K_LEVEL, K_WORD, K_NAME };

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	unsigned min, max;	  /* K_UINT */
	const char *const *words; /* K_WORD: the value is the index of the word */
};

/* in the order of the values they stand for */
static const char *const formats[] = {"text", "json", NULL};  /* VMSUP_LOG_TEXT, _JSON */
static const char *const on_exits[] = {"keep", "stop", NULL}; /* on_exit_stop false, true */
static const char *const net_modes[] = {"user", "none", "bridge", NULL}; /* enum vm_net_mode */
static const char *const bools[] = {"false", "true", NULL};
static const char *const sandboxes[] = {"auto", "on", "off", NULL}; /* enum vmsup_sandbox */

#define S(f) offsetof(struct vmsup_config, f)
static const struct key keys[] = {
    {"socket", K_PATH, S(socket), 0, 0, NULL},
    {"state_dir", K_PATH, S(state_dir), 0, 0, NULL},
    {"run_dir", K_PATH, S(run_dir), 0, 0, NULL},
    {"qemu", K_STR, S(qemu), 0, 0, NULL},
    {"accel", K_ACCEL, S(accel), 0, 0, NULL},
    {"mem_mib", K_UINT, S(mem_mib), VMSUP_MEM_MIN_MIB, VMSUP_MEM_MAX_MIB, NULL},
    {"cpus", K_UINT, S(cpus), 1, VMSUP_CPUS_MAX, NULL},
    {"default_kernel", K_PATH, S(default_kernel), 0, 0, NULL},
    {"default_initrd", K_PATH, S(default_initrd), 0, 0, NULL},
    {"default_append", K_OPTSTR, S(default_append), 0, 0, NULL},
    {"stop_grace_s", K_UINT, S(stop_grace_s), 0, VMSUP_TIMEOUT_MAX_S, NULL},
    {"on_exit", K_WORD, S(on_exit_stop), 0, 0, on_exits},
    {"max_vms", K_UINT, S(max_vms), 1, 100000, NULL},
    {"qemu_user", K_STR, S(qemu_user), 0, 0, NULL},
    {"ssh_key", K_PATH, S(ssh_key), 0, 0, NULL},
    {"guest_user", K_STR, S(guest_user), 0, 0, NULL},
    {"api_group", K_STR, S(api_group), 0, 0, NULL},
    {"admin_group", K_STR, S(admin_group), 0, 0, NULL},
    {"memory_floor_mib", K_UINT, S(memory_floor_mib), 1, 1048576, NULL},
    {"mem_overhead_mib", K_UINT, S(mem_overhead_mib), 0, 1048576, NULL},
    {"tcg_tb_size_mib", K_UINT, S(tcg_tb_size_mib), 1, 4096, NULL},
    {"restart_burst", K_UINT, S(restart_burst), 1, 1000, NULL},
    {"restart_interval_s", K_UINT, S(restart_interval_s), 1, 86400, NULL},
    {"log_level", K_LEVEL, S(log_level), 0, 0, NULL},
    {"log_format", K_WORD, S(log_format), 0, 0, formats},
    {"pool_template", K_NAME, S(pool_template), 0, 0, NULL},
    {"pool_size", K_UINT, S(pool_size), 0, 64, NULL},
    {"console_log_max", K_UINT, S(console_log_max), VMSUP_CONSOLE_LOG_MIN, VMSUP_CONSOLE_LOG_MAX,
     NULL},
    {"net_mode", K_WORD, S(net_mode), 0, 0, net_modes},
    {"bridge", K_STR, S(bridge), 0, 0, NULL},
    {"allow_egress", K_WORD, S(allow_egress), 0, 0, bools},
    {"publish_address", K_STR, S(publish_address), 0, 0, NULL},
    {"share_roots", K_PATHS, S(share_roots), 0, 0, NULL},
    {"qemu_sandbox", K_WORD, S(qemu_sandbox), 0, 0, sandboxes},
    {"max_connections", K_UINT, S(max_connections), 0, 1000000, NULL},
    {"read_timeout_s", K_UINT, S(read_timeout_s), 1, 3600, NULL},
    {"exec_output_max", K_UINT, S(exec_output_max), VMSUP_EXEC_OUTPUT_MIN, VMSUP_EXEC_OUTPUT_MAX,
     NULL},
};
#undef S

int vmsup_accel_valid(const char *s)
{
	return s && (!strcmp(s, "kvm") || !strcmp(s, "tcg") || !strcmp(s, "kvm:tcg"));
}

int vmsup_accel_may_tcg(const char *s)
{
	return s && (!strcmp(s, "tcg") || !strcmp(s, "kvm:tcg"));
}

static int set_str(char **dst, const char *v, char **err)
{
	char *d = strdup(v);
	if (!d)
		return vmsup_err(err, "out of memory");
	free(*dst);
	*dst = d;
	return 0;
}

int vmsup_config_init(struct vmsup_config *c, char **err)
{
	memset(c, 0, sizeof(*c));
	c->mem_mib = 512;
	c->cpus = 1;
	c->stop_grace_s = 30;
	c->max_vms = 256;
	c->memory_floor_mib = 64;
	c->mem_overhead_mib = 256;
	c->tcg_tb_size_mib = 128;
	c->restart_burst = 5;
	c->restart_interval_s = 60;
	c->log_level = VMSUP_LOG_INFO;
	c->log_format = VMSUP_LOG_TEXT;
	c->console_log_max = 8u << 20;
	c->read_timeout_s = 10;
	c->exec_output_max = VMSUP_EXEC_OUTPUT_DEFAULT;
	if (set_str(&c->socket, RUNSTATEDIR "/vmsupd/api.sock", err) ||
	    set_str(&c->state_dir, LOCALSTATEDIR "/lib/vmsupd", err) ||
	    set_str(&c->run_dir, RUNSTATEDIR "/vmsupd", err) ||
	    set_str(&c->qemu, QEMU_DEFAULT, err) || set_str(&c->accel, "kvm:tcg", err) ||
	    set_str(&c->guest_user, "root", err) ||
	    set_str(&c->publish_address, "127.0.0.1", err)) {
		vmsup_config_release(c);
		return -1;
	}
	return 0;
}

static int parse_uint(const char *v, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long n;

	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return -1;
	*out = (unsigned)n;
	return 0;
}

static int set_word(const struct key *k, int *out, const char *key, const char *v, char **err)
{
	char list[128] = "";

	for (int i = 0; k->words[i]; i++) {
		if (!strcmp(v, k->words[i])) {
			*out = i;
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 k->words[i]);
	}
	return vmsup_err(err, "%s: '%s' is not one of %s", key, v, list);
}

int vmsup_config_set(struct vmsup_config *c, const char *key, const char *v, char **err)
{
	const struct key *k = NULL;
	char *base = (char *)c;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, key) == 0)
			k = &keys[i];
	if (!k)
		return vmsup_err(err, "unknown key '%s'", key);
	switch (k->kind) {
	case K_PATHS:
		/* blank-separated absolute paths; quotes and commas would reach
		 * qemu's option syntax and the guest's command line */
		for (const char *w = v + strspn(v, " \t"); *w; w += strspn(w, " \t")) {
			size_t n = strcspn(w, " \t");
			if (w[0] != '/' || memchr(w, '"', n) || memchr(w, '\'', n))
				return vmsup_err(err, "%s: '%.*s' is not an absolute path", key,
						 (int)n, w);
			w += n;
		}
		if (!v[strspn(v, " \t")])
			return vmsup_err(err, "%s: empty value", key);
		return set_str((char **)(base + k->off), v, err);
	case K_PATH:
		if (v[0] != '/')
			return vmsup_err(err, "%s: '%s' is not an absolute path", key, v);
		/* fallthrough */
	case K_STR:
		if (!*v)
			return vmsup_err(err, "%s: empty value", key);
		/* fallthrough */
	case K_OPTSTR:
		return set_str((char **)(base + k->off), v, err);
	case K_UINT:
		if (parse_uint(v, k->min, k->max, (unsigned *)(base + k->off)))
			return vmsup_err(err, "%s: '%s' is not an integer in %u..%u", key, v,
					 k->min, k->max);
		return 0;
	case K_NAME: {
		char *why = NULL;
		/* templates are named like VMs (src/snapshot/template.h) */
		if (vmsup_name_check(v, &why)) {
			vmsup_err(err, "%s: '%s' is not a template name: %s", key, v,
				  why ? why : "invalid");
			free(why);
			return -1;
		}
		return set_str((char **)(base + k->off), v, err);
	}
	case K_ACCEL:
		if (!vmsup_accel_valid(v))
			return vmsup_err(err, "%s: '%s' is not one of kvm, tcg, kvm:tcg", key, v);
		return set_str((char **)(base + k->off), v, err);
	case K_LEVEL: {
		int l = vmsup_log_level_parse(v);
		if (l < 0)
			return vmsup_err(err, "%s: '%s' is not one of error, warn, info, debug",
					 key, v);
		*(int *)(base + k->off) = l;
		return 0;
	}
	case K_WORD:
		return set_word(k, (int *)(base + k->off), key, v, err);
	}
	return vmsup_err(err, "%s: unhandled key kind", key);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int vmsup_config_load(struct vmsup_config *c, const char *path, char **err)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, *why = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int ret = -1;

	if (!f)
		return vmsup_err(err, "%s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) >= 0) {
		char *s, *eq, *key, *val;

		lineno++;
		if (strlen(line) > 4096) {
			vmsup_err(err, "%s:%u: line too long", path, lineno);
			goto out;
		}
		s = trim(line);
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			vmsup_err(err, "%s:%u: expected 'key = value'", path, lineno);
			goto out;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		/* values may be quoted to keep spaces at either end or a '#' */
		if (val[0] == '"') {
			size_t n = strlen(val);
			if (n < 2 || val[n - 1] != '"') {
				vmsup_err(err, "%s:%u: unterminated quote", path, lineno);
				goto out;
			}
			val[n - 1] = '\0';
			val++;
		} else {
			char *hash = strchr(val, '#');
			if (hash) {
				*hash = '\0';
				val = trim(val);
			}
		}
		if (!*key) {
			vmsup_err(err, "%s:%u: missing key", path, lineno);
			goto out;
		}
		if (vmsup_config_set(c, key, val, &why)) {
			vmsup_err(err, "%s:%u: %s", path, lineno, why ? why : "bad value");
			goto out;
		}
	}
	if (ferror(f)) {
		vmsup_err(err, "%s: read error", path);
		goto out;
	}
	ret = 0;
out:
	free(why);
	free(line);
	fclose(f);
	return ret;
}

int vmsup_config_finish(struct vmsup_config *c, char **err)
{
	struct in_addr a;

	if (c->pool_size && !c->pool_template)
		return vmsup_err(err,
				 "pool_size = %u needs pool_template (the template pool VMs "
				 "are restored from)",
				 c->pool_size);
	if (c->pool_size > c->max_vms)
		return vmsup_err(err, "pool_size = %u is more than max_vms = %u", c->pool_size,
				 c->max_vms);
	if (inet_pton(AF_INET, c->publish_address, &a) != 1)
		return vmsup_err(err, "publish_address = %s is not an IPv4 address",
				 c->publish_address);
	if (c->bridge && !vm_net_ifname_valid(c->bridge))
		return vmsup_err(err, "bridge = %s is not a network interface name", c->bridge);
	if (c->net_mode == VM_NET_BRIDGE && !c->bridge)
		return vmsup_err(err, "net_mode = bridge needs bridge = NAME (an existing bridge)");
	if (!c->ssh_key) {
		if (asprintf(&c->ssh_key, "%s/id_ed25519", c->state_dir) < 0) {
			c->ssh_key = NULL;
			return vmsup_err(err, "out of memory");
		}
	}
	return 0;
}

static const size_t str_fields[] = {
    offsetof(struct vmsup_config, socket),	    offsetof(struct vmsup_config, state_dir),
    offsetof(struct vmsup_config, run_dir),	    offsetof(struct vmsup_config, qemu),
    offsetof(struct vmsup_config, accel),	    offsetof(struct vmsup_config, default_kernel),
    offsetof(struct vmsup_config, default_initrd),  offsetof(struct vmsup_config, default_append),
    offsetof(struct vmsup_config, qemu_user),	    offsetof(struct vmsup_config, ssh_key),
    offsetof(struct vmsup_config, guest_user),	    offsetof(struct vmsup_config, api_group),
    offsetof(struct vmsup_config, admin_group),	    offsetof(struct vmsup_config, pool_template),
    offsetof(struct vmsup_config, publish_address), offsetof(struct vmsup_config, share_roots),
    offsetof(struct vmsup_config, bridge),
};

int vmsup_config_copy(struct vmsup_config *dst, const struct vmsup_config *src, char **err)
{
	*dst = *src;
	for (size_t i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++) {
		char **d = (char **)((char *)dst + str_fields[i]);
		if (*d && !(*d = strdup(*d))) {
			for (size_t j = i + 1; j < sizeof(str_fields) / sizeof(str_fields[0]); j++)
				*(char **)((char *)dst + str_fields[j]) = NULL;
			vmsup_config_release(dst);
			return vmsup_err(err, "out of memory");
		}
	}
	return 0;
}

void vmsup_config_release(struct vmsup_config *c)
{
	for (size_t i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++) {
		char **d = (char **)((char *)c + str_fields[i]);
		free(*d);
		*d = NULL;
	}
}
