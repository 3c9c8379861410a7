/* Unit tests for lib/datadir (the shipped data's search) and cfg's CFG_DATA/CFG_PATH items. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "datadir.h"
#include "unit.h"

/* mkdir -p root/rel (rel has at most a few components). */
static void t_mkdirs(const char *root, const char *rel)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		(void)mkdir(path, 0755);
		*p = '/';
	}
	(void)mkdir(path, 0755);
}

static void t_rmtree(const char *root)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK_INT(system(cmd), 0);
}

/* out = root/rel, canonical (root comes from mkdtemp under /tmp, which may be a link). */
static void t_real(const char *root, const char *rel, char *out)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	UNIT_REQUIRE(realpath(path, out) != NULL);
}

UNIT_TEST(datadir_install_layout_wins_over_source_tree)
{
	char root[] = "/tmp/aimem-datadir-XXXXXX";
	UNIT_REQUIRE(mkdtemp(root) != NULL);
	t_mkdirs(root, "bin");
	t_mkdirs(root, "share/ai-memory/workers/lexicons");
	t_mkdirs(root, "workers/lexicons"); /* a source-tree look-alike one level up */
	char exe_dir[PATH_MAX], want[PATH_MAX], out[PATH_MAX];
	snprintf(exe_dir, sizeof(exe_dir), "%s/bin", root);
	t_real(root, "share/ai-memory/workers/lexicons", want);
	CHECK_INT(datadir_find(exe_dir, "workers/lexicons", out, sizeof(out)), 0);
	CHECK_STR(out, want);
	t_rmtree(root);
}

UNIT_TEST(datadir_source_tree_above_build_folders)
{
	char root[] = "/tmp/aimem-datadir-XXXXXX";
	UNIT_REQUIRE(mkdtemp(root) != NULL);
	t_mkdirs(root, "build/bin");
	t_mkdirs(root, "build/san/bin");
	t_mkdirs(root, "migrations");
	char exe_dir[PATH_MAX], want[PATH_MAX], out[PATH_MAX];
	t_real(root, "migrations", want);
	snprintf(exe_dir, sizeof(exe_dir), "%s/build/bin", root);
	CHECK_INT(datadir_find(exe_dir, "migrations", out, sizeof(out)), 0);
	CHECK_STR(out, want);
	snprintf(exe_dir, sizeof(exe_dir), "%s/build/san/bin", root);
	CHECK_INT(datadir_find(exe_dir, "migrations", out, sizeof(out)), 0);
	CHECK_STR(out, want);
	t_rmtree(root);
}

UNIT_TEST(datadir_not_found_gives_the_name_back)
{
	char root[] = "/tmp/aimem-datadir-XXXXXX";
	UNIT_REQUIRE(mkdtemp(root) != NULL);
	t_mkdirs(root, "a/b/c/d/bin");
	char exe_dir[PATH_MAX], out[PATH_MAX];
	snprintf(exe_dir, sizeof(exe_dir), "%s/a/b/c/d/bin", root);
	CHECK_INT(datadir_find(exe_dir, "no/such/data.v1.txt", out, sizeof(out)), -1);
	CHECK_STR(out, "no/such/data.v1.txt");
	/* absolute names are the caller's own: taken as written, never searched */
	CHECK_INT(datadir_find(exe_dir, "/etc/hostname", out, sizeof(out)), -1);
	CHECK_STR(out, "/etc/hostname");
	CHECK_INT(datadir_find(exe_dir, "", out, sizeof(out)), -1);
	CHECK_STR(out, "");
	/* too small an out buffer: nothing half-written */
	char small[4] = "xyz";
	CHECK_INT(datadir_find(exe_dir, "no/such", small, sizeof(small)), -1);
	CHECK_STR(small, "");
	t_rmtree(root);
}

UNIT_TEST(datadir_working_directory_last)
{
	char root[] = "/tmp/aimem-datadir-XXXXXX", cwd[PATH_MAX];
	UNIT_REQUIRE(mkdtemp(root) != NULL);
	UNIT_REQUIRE(getcwd(cwd, sizeof(cwd)) != NULL);
	t_mkdirs(root, "bin");
	t_mkdirs(root, "work/prompts");
	char exe_dir[PATH_MAX], work[PATH_MAX], want[PATH_MAX], out[PATH_MAX];
	snprintf(exe_dir, sizeof(exe_dir), "%s/bin", root);
	snprintf(work, sizeof(work), "%s/work", root);
	t_real(root, "work/prompts", want);
	UNIT_REQUIRE(chdir(work) == 0);
	int rc = datadir_find(exe_dir, "prompts", out, sizeof(out));
	UNIT_REQUIRE(chdir(cwd) == 0);
	CHECK_INT(rc, 0);
	CHECK_STR(out, want);
	t_rmtree(root);
}

UNIT_TEST(datadir_own_executable)
{
	/* the runner is build/tests/run-unit (or build/san/tests/...): the repository is above */
	char exe_dir[PATH_MAX], out[PATH_MAX], root[] = "/", cwd[PATH_MAX];
	CHECK_INT(datadir_exe_dir(exe_dir, sizeof(exe_dir)), 0);
	CHECK_CONTAINS(exe_dir, "/tests");
	UNIT_REQUIRE(getcwd(cwd, sizeof(cwd)) != NULL);
	UNIT_REQUIRE(chdir(root) == 0); /* not found through the working directory */
	int rc = datadir_find(NULL, "workers/lexicons/topics.txt", out, sizeof(out));
	UNIT_REQUIRE(chdir(cwd) == 0);
	CHECK_INT(rc, 0);
	CHECK(out[0] == '/');
	CHECK_CONTAINS(out, "/workers/lexicons/topics.txt");
}

struct t_paths {
	char *lexicons, *key_file, *plain;
};

static const struct cfg_item t_path_items[] = {
	{ .key = "lexicons.dir",
	  .type = CFG_STRING,
	  .def = "workers/lexicons",
	  .flags = CFG_DATA,
	  .offset = offsetof(struct t_paths, lexicons),
	  .help = "lexicons" },
	{ .key = "auth.public_key_file",
	  .type = CFG_STRING,
	  .flags = CFG_PATH,
	  .offset = offsetof(struct t_paths, key_file),
	  .help = "key" },
	{ .key = "app.name",
	  .type = CFG_STRING,
	  .def = "not/a/path",
	  .offset = offsetof(struct t_paths, plain),
	  .help = "a string that only looks like a path" },
};

UNIT_TEST(cfg_data_default_found_and_paths_checked)
{
	struct t_paths s = { 0 };
	char cwd[PATH_MAX], err[512] = "";
	UNIT_REQUIRE(getcwd(cwd, sizeof(cwd)) != NULL);
	UNIT_REQUIRE(chdir("/") == 0); /* the default is found from the executable, not the cwd */
	struct cfg *c = cfg_new(t_path_items, 3, &s, NULL);
	UNIT_REQUIRE(chdir(cwd) == 0);
	CHECK(s.lexicons[0] == '/');
	CHECK_CONTAINS(s.lexicons, "/workers/lexicons");
	CHECK_STR(s.plain, "not/a/path"); /* only CFG_DATA defaults are looked up */
	CHECK_INT(cfg_check_paths(c, err, sizeof(err)), 0);
	struct buf out = BUF_INIT;
	cfg_print(c, &out);
	CHECK_CONTAINS(buf_str(&out), "/workers/lexicons  # default\n");
	buf_free(&out);

	/* an explicit value is taken as written and must open */
	CHECK_INT(cfg_set(c, "lexicons.dir", "workers/lexicons", "t.conf:1", err, sizeof(err)), 0);
	CHECK_STR(s.lexicons, "workers/lexicons");
	CHECK_INT(
	    cfg_set(c, "auth.public_key_file", "/nonexistent/key.pem", "AIMEM_X", err, sizeof(err)),
	    0);
	CHECK_INT(cfg_set(c, "lexicons.dir", "/", "t.conf:1", err, sizeof(err)), 0);
	CHECK_INT(cfg_check_paths(c, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "AIMEM_X: auth.public_key_file: cannot open /nonexistent/key.pem: ");
	CHECK_INT(cfg_set(c, "auth.public_key_file", "/etc/hostname", "AIMEM_X", err, sizeof(err)),
	          0);
	CHECK_INT(cfg_set(c, "lexicons.dir", "/nonexistent/lexicons", "t.conf:2", err, sizeof(err)),
	          0);
	CHECK_INT(cfg_check_paths(c, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "t.conf:2: lexicons.dir: cannot open /nonexistent/lexicons: No such");
	cfg_free(&c);
}

UNIT_TEST(cfg_missing_config_file_is_named)
{
	struct t_paths s = { 0 };
	char err[512] = "";
	struct cfg *c = cfg_new(t_path_items, 3, &s, NULL);
	CHECK_INT(cfg_load_file(c, "/nonexistent/aimem.conf", err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "config file /nonexistent/aimem.conf: cannot open: No such file");
	cfg_free(&c);
}
