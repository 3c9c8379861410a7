/*
 * proc_tenant: the folder of tenants' topic files and the look-up by customer_id (see
 * proc_tenant.h). A sorted array and a binary search: loaded once, read by any thread.
 */
#include "proc_tenant.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc_lex.h"
#include "xalloc.h"

#define PROC_TENANTS_MAGIC 0x54454e54u

struct tenant_entry {
	long long customer_id;
	struct proc_lexicons *lx; /* owned */
};

struct proc_tenants {
	unsigned magic;
	struct tenant_entry *v;
	size_t n, cap;
};

/* "<customer_id>.txt" with a positive id and no leading zero; the id into *id. */
static bool tenant_file_name(const char *name, long long *id)
{
	size_t len = strlen(name);
	if (len < 5 || len > 23 || strcmp(name + len - 4, ".txt") != 0 || name[0] < '1' ||
	    name[0] > '9')
		return false;
	long long v = 0;
	for (size_t i = 0; i < len - 4; i++) {
		if (name[i] < '0' || name[i] > '9' || v > (9223372036854775807LL - 9) / 10)
			return false;
		v = v * 10 + (name[i] - '0');
	}
	*id = v;
	return true;
}

static int tenant_cmp(const void *a, const void *b)
{
	long long x = ((const struct tenant_entry *)a)->customer_id;
	long long y = ((const struct tenant_entry *)b)->customer_id;
	return x < y ? -1 : x > y;
}

/* Loads one file into tn; -1 with err set. */
static int tenant_add(struct proc_tenants *tn, const struct proc_lexicons *lx, const char *dir,
                      const char *name, long long id, char *err, size_t errlen)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		snprintf(err, errlen, "%s: directory name too long", dir);
		return -1;
	}
	struct proc_lexicons *t = proc_lex_load_topics(lx, path, err, errlen);
	if (t == NULL)
		return -1;
	if (tn->n == tn->cap) {
		tn->cap = tn->cap ? tn->cap * 2 : 16;
		tn->v = xreallocarray(tn->v, tn->cap, sizeof(*tn->v));
	}
	tn->v[tn->n++] = (struct tenant_entry){ id, t };
	return 0;
}

struct proc_tenants *proc_tenants_load(const struct proc_lexicons *lx, const char *dir, char *err,
                                       size_t errlen)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		snprintf(err, errlen, "%s: cannot open the folder", dir);
		return NULL;
	}
	struct proc_tenants *tn = xcalloc(1, sizeof(*tn));
	tn->magic = PROC_TENANTS_MAGIC;
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		long long id;
		if (de->d_name[0] == '.')
			continue;
		if (!tenant_file_name(de->d_name, &id)) {
			snprintf(err, errlen,
			         "%s/%s: tenant topic files are named <customer_id>.txt", dir,
			         de->d_name);
			rc = -1;
		} else {
			rc = tenant_add(tn, lx, dir, de->d_name, id, err, errlen);
		}
	}
	closedir(d);
	if (rc != 0) {
		proc_tenants_free(&tn);
		return NULL;
	}
	if (tn->n > 0)
		qsort(tn->v, tn->n, sizeof(*tn->v), tenant_cmp);
	return tn;
}

void proc_tenants_free(struct proc_tenants **tnp)
{
	if (tnp == NULL || *tnp == NULL)
		return;
	struct proc_tenants *tn = *tnp;
	if (tn->magic != PROC_TENANTS_MAGIC)
		abort();
	for (size_t i = 0; i < tn->n; i++)
		proc_lex_free(&tn->v[i].lx);
	free(tn->v);
	tn->magic = 0;
	free(tn);
	*tnp = NULL;
}

size_t proc_tenants_count(const struct proc_tenants *tn)
{
	return tn ? tn->n : 0;
}

const struct proc_lexicons *proc_tenants_find(const struct proc_tenants *tn, long long customer_id)
{
	if (tn == NULL || tn->n == 0)
		return NULL;
	struct tenant_entry key = { customer_id, NULL };
	const struct tenant_entry *e = bsearch(&key, tn->v, tn->n, sizeof(*tn->v), tenant_cmp);
	return e ? e->lx : NULL;
}
