/* The template routes (see api-template.h). */
#include "src/daemon/http.h"
#include "src/daemon/api-template.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "src/daemon/api.h"
#include "src/daemon/owner.h"
#include "src/util/log.h"
#include "src/snapshot/template.h"
#include "src/snapshot/vm-template.h"

/* The body as JSON; an empty body is an error here: 0, or -1 after replying. */
static int read_body(struct evhttp_request *req, struct json_object **out)
{
	if (http_read_json(req, out) < 0)
		return -1;
	if (!*out) {
		http_send_error(req, 400, "InvalidParameter",
				"a VM spec with the template's name is required");
		return -1;
	}
	return 0;
}

static void detach(void *job)
{
	/* the template is made all the same; nobody hears of it */
	vm_template_job_detach(job);
}

static void create(struct vmsup *sup, struct evhttp_request *req, const struct vmsup_peer *peer)
{
	struct json_object *body;
	struct http_held *h;

	if (read_body(req, &body))
		return;
	/* the template VM boots the caller's kernel, initrd: theirs to read */
	if (!http_peer_files_ok(req, peer, body)) {
		json_object_put(body);
		return;
	}
	/* booting a template VM takes longer than the idle timeout: held without one */
	if ((h = http_held_new(req)))
		http_held_wait(h, vm_template_create(sup, body, peer, http_held_done, h), detach);
	json_object_put(body);
}

static void reply(struct evhttp_request *req, const char *cls, struct json_object *o)
{
	struct json_object *e;

	if (cls && json_object_object_get_ex(o, "error", &e) &&
	    json_object_is_type(e, json_type_string))
		http_send_outcome(req, cls, json_object_get_string(e), NULL, false);
	else
		http_send_outcome(req, NULL, NULL, o, false);
	json_object_put(o);
}

/* every byte of a big RAM file is read: the reply comes when that is done */
static void verify(struct vmsup *sup, struct evhttp_request *req, const char *name)
{
	const char *cls = NULL;
	struct json_object *o = vm_template_verify(sup, name, &cls);

	reply(req, cls, o);
}

/* The list's entry of template name (a new reference), or NULL. */
static struct json_object *entry(struct vmsup *sup, const char *name)
{
	const char *cls = NULL;
	struct json_object *l = vm_template_list(sup, &cls), *a, *found = NULL;

	if (!cls && json_object_object_get_ex(l, "templates", &a))
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			struct json_object *t = json_object_array_get_idx(a, i), *n;
			if (json_object_object_get_ex(t, "name", &n) &&
			    !strcmp(json_object_get_string(n), name))
				found = json_object_get(t);
		}
	json_object_put(l);
	return found;
}

/* The peer's view of template name: its entry, or NULL after a 404. */
static struct json_object *visible(struct vmsup *sup, struct evhttp_request *req,
				   const struct vmsup_peer *peer, bool admin, const char *name)
{
	struct json_object *e = entry(sup, name);

	if (e && owner_of_entry(peer, admin, e))
		return e;
	json_object_put(e);
	http_send_error(req, 404, "NotFound", "no template named '%s'", name);
	return NULL;
}

int api_template_from_ok(struct vmsup *sup, struct evhttp_request *req,
			 const struct vmsup_peer *peer, bool admin, struct json_object *body)
{
	struct json_object *from, *e;
	char *why = NULL;

	if (admin || !json_object_is_type(body, json_type_object) ||
	    !json_object_object_get_ex(body, "from", &from) ||
	    !json_object_is_type(from, json_type_string))
		return 1;
	/* a bad name is the create's to refuse (400) */
	if (tmpl_name_check(json_object_get_string(from), &why) < 0) {
		free(why);
		return 1;
	}
	if (!(e = visible(sup, req, peer, admin, json_object_get_string(from))))
		return 0;
	json_object_put(e);
	return 1;
}

void api_template_route(struct vmsup *sup, struct evhttp_request *req,
			const struct vmsup_peer *peer, bool admin, const char *name,
			const char *verb)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	struct json_object *e;
	char *err = NULL;
	const char *cls = NULL;

	if (!name) {
		if (m == EVHTTP_REQ_GET) {
			struct json_object *o = vm_template_list(sup, &cls);
			if (!cls)
				owner_filter_list(o, "templates", peer, admin);
			reply(req, cls, o);
		} else if (m == EVHTTP_REQ_POST) {
			create(sup, req, peer);
		} else {
			http_send_error(req, 405, "MethodNotAllowed", "use GET or POST");
		}
		return;
	}
	if (tmpl_name_check(name, &err) < 0) {
		http_send_error(req, 400, "InvalidParameter", "bad template name: %s", err);
		free(err);
		return;
	}
	if (verb && strcmp(verb, "verify")) {
		http_send_error(req, 404, "NotFound", "no such path");
		return;
	}
	if (verb ? m != EVHTTP_REQ_POST : m != EVHTTP_REQ_GET && m != EVHTTP_REQ_DELETE) {
		http_send_error(req, 405, "MethodNotAllowed",
				verb ? "use POST" : "use GET or DELETE");
		return;
	}
	/* another user's template does not exist (an admin's: every one does) */
	if (!(e = visible(sup, req, peer, admin, name)))
		return;
	if (verb) {
		json_object_put(e);
		verify(sup, req, name);
	} else if (m == EVHTTP_REQ_GET) {
		reply(req, NULL, e);
	} else {
		json_object_put(e);
		struct json_object *o = vm_template_rm(sup, name, &cls);
		reply(req, cls, o);
	}
}

void api_template_teardown(void)
{
	vm_template_teardown();
}
