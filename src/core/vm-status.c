/*
 * GET /v1/vms at scale: each VM's vm_cached_json is kept as text between
 * changes, and the list is those texts copied into the reply with the few
 * live fields after each. Building and printing some 60 json-c values per
 * VM on every list was most of the reply's time (bench/results.md, issue
 * 25); the single-VM GET still builds its reply afresh.
 *
 * The text is dropped by vm_status_changed, which every writer of a field
 * the record shows calls. VMSUP_STATUS_CACHE_CHECK=1 (the test harness
 * sets it) keeps the text at single-VM GETs too, compares a kept text with
 * a fresh one at each read of either kind and aborts the daemon on a
 * difference: a writer that forgot the call fails the tests instead of
 * showing a stale list.
 */
#include "src/core/sup-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "src/core/restart.h"
#include "src/util/log.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* vm_live_json of a VM with no restart pending, no state file error and no
 * file in its spec: a guest-less VM's list entry needs no allocation */
static const char live_none[] =
    ",\"restart_pending_s\":null,\"state_file_error\":null,\"state_unsaved\":false,"
    "\"missing\":[]}";

void vm_status_changed(struct vm *vm)
{
	free(vm->status_text);
	vm->status_text = NULL;
	vm->status_len = 0;
}

static bool check_mode(void)
{
	static int on = -1;

	if (on < 0) {
		const char *e = getenv("VMSUP_STATUS_CACHE_CHECK");
		on = e && *e && strcmp(e, "0") != 0;
	}
	return on;
}

/* vm_cached_json as text without its closing brace; NULL: out of memory */
static char *fresh_text(const struct vm *vm, size_t *len)
{
	struct json_object *o = vm_cached_json(vm);
	size_t n = 0;
	const char *s = o ? json_object_to_json_string_length(o, JSON_FLAGS, &n) : NULL;
	char *t = s && n >= 2 ? strndup(s, n - 1) : NULL;

	*len = t ? n - 1 : 0;
	json_object_put(o);
	return t;
}

static void check_fresh(const struct vm *vm)
{
	size_t n;
	char *t;

	if (!check_mode() || !vm->status_text || !(t = fresh_text(vm, &n)))
		return;
	if (n != vm->status_len || memcmp(t, vm->status_text, n) != 0) {
		LOG_E(vm->spec.name, "GET /v1/vms would show a stale record: kept %s} now %s}",
		      vm->status_text, t);
		abort();
	}
	free(t);
}

void vmsup_status_check(struct vm *vm)
{
	if (!check_mode())
		return;
	/* kept from here on too: the next read of any kind compares with it,
	 * so that every GET of a test checks the changes since the last */
	if (vm->status_text)
		check_fresh(vm);
	else
		vm->status_text = fresh_text(vm, &vm->status_len);
}

static bool names_files(const struct vm_spec *s)
{
	return s->kernel || s->initrd || s->nshares || s->disk || s->ndisks;
}

/* The live fields and the closing brace; -1: out of memory */
static int add_live(const struct vm *vm, struct evbuffer *out)
{
	struct json_object *o;
	const char *s;
	size_t n = 0;
	int ret = -1;
	bool none = !vm_restart_pending(vm) && !vm->save_error && !names_files(&vm->spec);

	if (none && !check_mode())
		return evbuffer_add(out, live_none, sizeof(live_none) - 1);
	if (!(o = json_object_new_object()))
		return -1;
	vm_restart_status(vm, o);
	vm_live_json(vm, o);
	if ((s = json_object_to_json_string_length(o, JSON_FLAGS, &n)) && n >= 2) {
		if (none &&
		    (n - 1 != sizeof(live_none) - 2 || memcmp(s + 1, live_none + 1, n - 1))) {
			LOG_E(vm->spec.name, "GET /v1/vms: live fields %s, not %s", s, live_none);
			abort();
		}
		ret = evbuffer_add(out, ",", 1) || evbuffer_add(out, s + 1, n - 1) ? -1 : 0;
	}
	json_object_put(o);
	return ret;
}

int vmsup_list_write(struct vmsup *sup, struct evbuffer *out, vmsup_vm_shown_fn shown,
		     const void *arg)
{
	bool first = true;

	if (evbuffer_add(out, "{\"vms\":[", 8))
		return -1;
	for (struct vm *vm = sup->vms; vm; vm = vm->next) {
		if (shown && !shown(vm, arg))
			continue;
		if (vm->status_text)
			check_fresh(vm);
		else if (!(vm->status_text = fresh_text(vm, &vm->status_len)))
			return -1;
		if ((!first && evbuffer_add(out, ",", 1)) ||
		    evbuffer_add(out, vm->status_text, vm->status_len) || add_live(vm, out))
			return -1;
		first = false;
	}
	return evbuffer_add(out, "]}\n", 3);
}
