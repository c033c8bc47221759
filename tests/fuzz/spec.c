/* libFuzzer target: API request JSON -> VM spec (vm_spec_from_json). A
 * spec it accepts must turn back into JSON that it accepts again, equal. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/qemu/config.h"
#include "src/qemu/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vmsup_config cfg;
	static int inited;
	struct json_tokener *tok;
	struct json_object *j;
	struct vm_spec s, again;
	char *err = NULL;

	if (!inited) {
		if (vmsup_config_init(&cfg, &err))
			abort();
		inited = 1;
	}
	if (!(tok = json_tokener_new_ex(64)))
		return 0;
	j = json_tokener_parse_ex(tok, (const char *)data, (int)(size > 65536 ? 65536 : size));
	json_tokener_free(tok);
	if (!j)
		return 0;
	if (vm_spec_from_json(j, &cfg, &s, &err) == 0) {
		struct json_object *back = vm_spec_to_json(&s), *back2;
		char *e2 = NULL;
		if (vm_spec_from_json(back, &cfg, &again, &e2))
			abort(); /* the state file could not be read back */
		back2 = vm_spec_to_json(&again);
		if (strcmp(json_object_to_json_string(back), json_object_to_json_string(back2)))
			abort();
		json_object_put(back);
		json_object_put(back2);
		vm_spec_release(&again);
		vm_spec_release(&s);
		free(e2);
	} else {
		vm_spec_release(&s);
	}
	free(err);
	json_object_put(j);
	return 0;
}
