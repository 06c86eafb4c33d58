/*
 * Which role a node runs (daemon/mesh/roles.c): state_dir/role.json, as
 * `meshgate init` and `meshgate join` leave it, wins over
 * coordinator.enabled either way; without it, or when it is unreadable or
 * names no role, the config decides. The origin names what decided.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "mesh/roles.h"
#include "testlib.h"

static char dir[] = "/tmp/mg-roles-XXXXXX";

static void role_file(const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, MESH_ROLE_FILE);
	if (!text) {
		unlink(path);
		return;
	}
	f = fopen(path, "w");
	if (!CHECK(f != NULL))
		return;
	fputs(text, f);
	fclose(f);
}

static void check_role(bool enabled, const char *text, bool want, enum mesh_role_origin origin)
{
	struct mg_config cfg = { .state_dir = dir };
	enum mesh_role_origin got = -1;

	cfg.coordinator.enabled = enabled;
	role_file(text);
	CHECK(mesh_roles_coordinator_wanted(&cfg, &got) == want);
	CHECK_EQ_INT(got, origin);
	CHECK(mesh_roles_coordinator_wanted(&cfg, NULL) == want);
}

static void test_role_file_over_config(void)
{
	check_role(false, NULL, false, MESH_ROLE_CONFIG);
	check_role(true, NULL, true, MESH_ROLE_CONFIG);
	check_role(false, "{\"role\": \"coordinator\"}\n", true, MESH_ROLE_INIT);
	check_role(true, "{\"role\": \"coordinator\"}\n", true, MESH_ROLE_INIT);
	check_role(true, "{\"role\": \"member\"}\n", false, MESH_ROLE_JOIN);
	check_role(false, "{\"role\": \"member\"}\n", false, MESH_ROLE_JOIN);
	/* Not a role: the config decides. */
	check_role(true, "{\"role\": \"admin\"}", true, MESH_ROLE_CONFIG);
	check_role(false, "{\"role\": 1}", false, MESH_ROLE_CONFIG);
	check_role(true, "not json", true, MESH_ROLE_CONFIG);
	check_role(false, "", false, MESH_ROLE_CONFIG);
	role_file(NULL);
}

static void test_origin_names(void)
{
	CHECK(strcmp(mesh_roles_origin_name(MESH_ROLE_CONFIG), "config") == 0);
	CHECK(strcmp(mesh_roles_origin_name(MESH_ROLE_INIT), "meshgate init") == 0);
	CHECK(strcmp(mesh_roles_origin_name(MESH_ROLE_JOIN), "meshgate join") == 0);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN(test_role_file_over_config);
	RUN(test_origin_names);
	rmdir(dir);
	return test_summary();
}
