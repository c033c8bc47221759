/* vm_qmp_guard: what a caller's QMP may not ask of qemu (issue 27 item 5). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "src/qemu/qmp-guard.h"

static int guard(const char *json, char **why)
{
	struct json_object *o = json_tokener_parse(json);
	int r;

	cr_assert_not_null(o, "bad test JSON: %s", json);
	*why = NULL;
	r = vm_qmp_guard(o, why);
	json_object_put(o);
	return r;
}

Test(qmpguard, refused)
{
	const char *bad[] = {
	    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat\"}}",
	    "{\"exec-oob\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat\"}}",
	    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"file:/tmp/x\"}}",
	    "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"exec:cat /x\"}}",
	    "{\"execute\":\"migrate-recover\",\"arguments\":{\"uri\":\"EXEC:cat\"}}",
	    "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\" migrate "
	    "exec:x\"}}",
	    "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"drive_add 0 "
	    "file=/etc/shadow\"}}",
	    "{\"execute\":\"dump-guest-memory\",\"arguments\":{\"paging\":false,\"protocol\":"
	    "\"file:/x\"}}",
	    "{\"execute\":\"screendump\",\"arguments\":{\"filename\":\"/x\"}}",
	    "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":0,\"size\":1,\"filename\":\"/x\"}}",
	    "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"file\",\"node-name\":\"n\","
	    "\"filename\":\"/x\"}}",
	    "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"vvfat\",\"node-name\":\"n\","
	    "\"dir\":\"/\"}}",
	    "{\"execute\":\"drive-mirror\",\"arguments\":{\"device\":\"d\",\"target\":\"/x\","
	    "\"sync\":\"full\"}}",
	    "{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"c\",\"backend\":{\"type\":"
	    "\"pipe\",\"data\":{\"device\":\"/tmp/p\"}}}}",
	    "{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"c\",\"backend\":{\"type\":"
	    "\"null\",\"data\":{\"logfile\":\"/tmp/l\"}}}}",
	    "{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"tap\",\"id\":\"t\"}}",
	    "{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"tap\",\"id\":\"t\","
	    "\"script\":\"/bin/evil\",\"downscript\":\"no\"}}",
	    "{\"execute\":\"netdev-add\",\"arguments\":{\"type\":\"bridge\",\"id\":\"t\"}}",
	    "{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"user\",\"id\":\"u\","
	    "\"guestfwd\":[{\"str\":\"tcp:10.0.2.1:1-cmd:sh\"}]}}",
	    "{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"user\",\"id\":\"u\","
	    "\"smb\":\"/\"}}",
	    "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"memory-backend-file\","
	    "\"id\":\"m\",\"size\":1,\"mem_path\":\"/x\"}}",
	    "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"secret\",\"id\":\"s\","
	    "\"file\":\"/etc/shadow\"}}",
	    "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"loader\",\"file\":\"/x\"}}",
	    "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"sev-guest\",\"id\":\"s\","
	    "\"dh-cert-file\":\"/x\"}}",
	    "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"e1000\",\"romfile\":\"/x\"}}",
	    "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"vfio-pci\"}}",
	    "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/m\",\"property\":\"mem-path\","
	    "\"value\":\"/x\"}}",
	    "{\"execute\":\"transaction\",\"arguments\":{\"actions\":[{\"type\":"
	    "\"blockdev-snapshot-sync\",\"data\":{\"device\":\"d\",\"snapshot-file\":\"/x\"}}]}}",
	};
	char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(guard(bad[i], &why), -1, "let through: %s", bad[i]);
		cr_expect(why && strstr(why, "refused"), "%s: %s", bad[i], why);
		free(why);
	}
}

Test(qmpguard, allowed)
{
	const char *ok[] = {
	    "{\"execute\":\"query-status\"}",
	    "{\"execute\":\"qmp_capabilities\",\"id\":1}",
	    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:10.0.0.1:4444\"}}",
	    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:/run/m.sock\"}}",
	    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"fd:mig\"}}",
	    "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"tcp:0:4444\"}}",
	    "{\"execute\":\"dump-guest-memory\",\"arguments\":{\"paging\":false,\"protocol\":"
	    "\"fd:dump\"}}",
	    "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"info "
	    "status\"}}",
	    "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"stop\"}}",
	    "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"raw\",\"node-name\":\"r\","
	    "\"file\":\"n\"}}",
	    "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"null-co\","
	    "\"node-name\":\"z\"}}",
	    "{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"c\",\"backend\":{\"type\":"
	    "\"null\",\"data\":{}}}}",
	    "{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"user\",\"id\":\"u\","
	    "\"hostfwd\":[{\"str\":\"tcp:127.0.0.1:2222-:22\"}]}}",
	    "{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"tap\",\"id\":\"t\","
	    "\"fd\":\"tapfd\"}}",
	    "{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"tap\",\"id\":\"t\","
	    "\"script\":\"no\",\"downscript\":\"no\"}}",
	    "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"memory-backend-ram\","
	    "\"id\":\"m\",\"size\":1048576}}",
	    "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-net-pci\","
	    "\"netdev\":\"u\"}}",
	    "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/machine\",\"property\":\"x\","
	    "\"value\":1}}",
	    "[1]",
	};
	char *why;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_expect_eq(guard(ok[i], &why), 0, "refused: %s: %s", ok[i], why);
		free(why);
	}
}
