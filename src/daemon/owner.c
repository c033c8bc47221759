/* VM ownership for the API (see owner.h). */
#include "src/daemon/owner.h"

#include <grp.h>
#include <unistd.h>

#include "src/core/vm.h"
#include "src/util/err.h"
#include "src/util/peer.h"

int owner_admin_gid(const char *admin_group, gid_t *gid, char **err)
{
	struct group *g;

	*gid = (gid_t)-1;
	if (!admin_group)
		return 0;
	if (!(g = getgrnam(admin_group)))
		return vmsup_err(err, "admin_group '%s': no such group", admin_group);
	*gid = g->gr_gid;
	return 0;
}

bool owner_is_admin(const struct vmsup_peer *p, gid_t admin_gid)
{
	/* the daemon's own uid owns every reattached VM of an older state file */
	if (p->uid == 0 || p->uid == geteuid())
		return true;
	return admin_gid != (gid_t)-1 && vmsup_peer_in_group(p, admin_gid);
}

bool owner_sees(const struct vmsup_peer *p, bool admin, const struct vm *vm)
{
	return admin || vm->owner == p->uid;
}

bool owner_of_entry(const struct vmsup_peer *p, bool admin, struct json_object *entry)
{
	struct json_object *o;
	uid_t uid = geteuid(); /* made before owners were recorded: the daemon's */

	if (admin)
		return true;
	if (json_object_object_get_ex(entry, "owner", &o) && json_object_is_type(o, json_type_int))
		uid = (uid_t)json_object_get_int64(o);
	return uid == p->uid;
}

void owner_filter_list(struct json_object *list, const char *key, const struct vmsup_peer *p,
		       bool admin)
{
	struct json_object *a, *kept;

	if (admin || !json_object_object_get_ex(list, key, &a) ||
	    !json_object_is_type(a, json_type_array) || !(kept = json_object_new_array()))
		return;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *v = json_object_array_get_idx(a, i);
		if (owner_of_entry(p, admin, v))
			json_object_array_add(kept, json_object_get(v));
	}
	json_object_object_add(list, key, kept);
}
