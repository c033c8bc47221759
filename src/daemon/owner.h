/*
 * Who may see and act on which VM or template: each belongs to the uid that
 * created it; root, the daemon's own uid and members of admin_group act on
 * any. To anyone else another user's VM or template does not exist (404,
 * so names do not leak).
 */
#ifndef VMSUP_OWNER_H
#define VMSUP_OWNER_H

#include <stdbool.h>
#include <sys/types.h>

#include <json-c/json.h>

struct vmsup_peer;
struct vm;

/* admin_group's gid into *gid ((gid_t)-1 for NULL); -1 with *err if no such group. */
int owner_admin_gid(const char *admin_group, gid_t *gid, char **err);

bool owner_is_admin(const struct vmsup_peer *p, gid_t admin_gid);

/* May a peer (admin: from owner_is_admin) see vm? */
bool owner_sees(const struct vmsup_peer *p, bool admin, const struct vm *vm);

/* May the peer see a listed VM or template (its "owner"; none: the
 * daemon's uid, a template made before templates had owners)? */
bool owner_of_entry(const struct vmsup_peer *p, bool admin, struct json_object *entry);

/* Drop from a {key: [...]} list ("vms", "templates") what the peer does not own. */
void owner_filter_list(struct json_object *list, const char *key, const struct vmsup_peer *p,
		       bool admin);

#endif
