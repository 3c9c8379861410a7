/*
 * redact_policy: the service-wide kinds, the tenants' files, the lock that lets SIGHUP swap
 * them (see redact_policy.h). A sorted array and a binary search per lookup.
 */
#include "redact_policy.h"

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "xalloc.h"

#define POLICY_MAGIC 0x504f4c49u

struct tenant_policy {
	long long customer_id;
	unsigned kinds;
	char version[REDACT_VERSION_MAX];
};

struct policy_table {
	unsigned kinds; /* redact.kinds */
	char version[REDACT_VERSION_MAX];
	struct tenant_policy *v;
	size_t n;
};

struct redact_policy {
	unsigned magic;
	pthread_rwlock_t lock;
	struct policy_table *t; /* owned; swapped under the write lock */
};

/* "card,cvv,..." or "none" into a mask. */
static int parse_kinds(const char *s, unsigned *out, char *err, size_t errlen)
{
	*out = 0;
	if (strcmp(s, "none") == 0)
		return 0;
	for (const char *p = s; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		while (len > 0 && *p == ' ')
			p++, len--;
		while (len > 0 && p[len - 1] == ' ')
			len--;
		int k = redact_kind_parse(p, len);
		if (k < 0) {
			snprintf(err, errlen,
			         "redact.kinds: unknown kind \"%.*s\" (card, cvv, expiry, ssn, "
			         "bank_account, routing, iban, email, phone, dob, address or none)",
			         (int)(len > 32 ? 32 : len), p);
			return -1;
		}
		*out |= 1u << k;
		p = e ? e + 1 : p + len;
	}
	return 0;
}

static uint32_t fnv32(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* One "<kind> on|off" line per kind; base is redact.kinds. */
static int parse_tenant(const char *path, const char *text, size_t len, unsigned base,
                        struct tenant_policy *tp, char *err, size_t errlen)
{
	tp->kinds = base;
	int line = 0;
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		line++;
		char buf[96];
		size_t n = (size_t)(le - p);
		if (n >= sizeof(buf)) {
			snprintf(err, errlen, "%s:%d: line too long", path, line);
			return -1;
		}
		memcpy(buf, p, n);
		buf[n] = '\0';
		p = le + (nl != NULL);
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		char kind[32], state[8], extra[2];
		int got = sscanf(buf, "%31s %7s %1s", kind, state, extra);
		if (got <= 0)
			continue;
		int k = redact_kind_parse(kind, strlen(kind));
		if (got != 2 || k < 0 || (strcmp(state, "on") != 0 && strcmp(state, "off") != 0)) {
			snprintf(
			    err, errlen,
			    "%s:%d: expected \"<kind> on\" or \"<kind> off\" with a kind of card, "
			    "cvv, expiry, ssn, bank_account, routing, iban, email, phone, dob, "
			    "address",
			    path, line);
			return -1;
		}
		if (strcmp(state, "on") == 0)
			tp->kinds |= 1u << k;
		else
			tp->kinds &= ~(1u << k);
	}
	snprintf(tp->version, sizeof(tp->version), REDACT_RULES_VERSION "/t%08x-%x",
	         (unsigned)fnv32(text, len), tp->kinds);
	return 0;
}

/* "<customer_id>.conf": a positive decimal without a leading zero. */
static bool tenant_name(const char *name, long long *id)
{
	size_t len = strlen(name);
	if (len < 6 || len > 24 || strcmp(name + len - 5, ".conf") != 0 || name[0] < '1' ||
	    name[0] > '9')
		return false;
	long long v = 0;
	for (size_t i = 0; i < len - 5; i++) {
		if (name[i] < '0' || name[i] > '9' || v > (9223372036854775807LL - 9) / 10)
			return false;
		v = v * 10 + (name[i] - '0');
	}
	*id = v;
	return true;
}

static int tenant_cmp(const void *a, const void *b)
{
	long long x = ((const struct tenant_policy *)a)->customer_id;
	long long y = ((const struct tenant_policy *)b)->customer_id;
	return x < y ? -1 : x > y;
}

static void table_free(struct policy_table **tp)
{
	if (*tp == NULL)
		return;
	free((*tp)->v);
	free(*tp);
	*tp = NULL;
}

static int load_dir(struct policy_table *t, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		snprintf(err, errlen, "redact.tenant_dir: %s: cannot open the folder", dir);
		return -1;
	}
	size_t cap = 0;
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		long long id;
		if (de->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!tenant_name(de->d_name, &id)) {
			snprintf(err, errlen, "%s: tenant policies are named <customer_id>.conf",
			         path);
			rc = -1;
			break;
		}
		size_t len = 0;
		char *text = file_read(path, 1 << 16, &len, err, errlen);
		if (text == NULL) {
			rc = -1;
			break;
		}
		if (t->n == cap) {
			cap = cap ? cap * 2 : 16;
			t->v = xreallocarray(t->v, cap, sizeof(*t->v));
		}
		t->v[t->n].customer_id = id;
		rc = parse_tenant(path, text, len, t->kinds, &t->v[t->n], err, errlen);
		t->n += rc == 0;
		free(text);
	}
	closedir(d);
	if (rc == 0 && t->n > 1)
		qsort(t->v, t->n, sizeof(*t->v), tenant_cmp);
	return rc;
}

static struct policy_table *table_load(const struct redact_settings *s, char *err, size_t errlen)
{
	struct policy_table *t = xcalloc(1, sizeof(*t));
	if (parse_kinds(s->kinds ? s->kinds : "", &t->kinds, err, errlen) != 0 ||
	    (s->tenant_dir && load_dir(t, s->tenant_dir, err, errlen) != 0)) {
		table_free(&t);
		return NULL;
	}
	if (t->kinds == REDACT_DEFAULT_KINDS)
		snprintf(t->version, sizeof(t->version), REDACT_RULES_VERSION "/default-%x",
		         t->kinds);
	else
		snprintf(t->version, sizeof(t->version), REDACT_RULES_VERSION "/service-%x",
		         t->kinds);
	return t;
}

struct redact_policy *redact_policy_load(const struct redact_settings *s, char *err, size_t errlen)
{
	struct policy_table *t = table_load(s, err, errlen);
	if (t == NULL)
		return NULL;
	struct redact_policy *p = xcalloc(1, sizeof(*p));
	p->magic = POLICY_MAGIC;
	pthread_rwlock_init(&p->lock, NULL);
	p->t = t;
	return p;
}

int redact_policy_reload(struct redact_policy *p, const struct redact_settings *s, char *err,
                         size_t errlen)
{
	struct policy_table *t = table_load(s, err, errlen);
	if (t == NULL)
		return -1;
	pthread_rwlock_wrlock(&p->lock);
	struct policy_table *old = p->t;
	p->t = t;
	pthread_rwlock_unlock(&p->lock);
	table_free(&old);
	return 0;
}

void redact_policy_free(struct redact_policy **pp)
{
	struct redact_policy *p = *pp;
	if (p == NULL)
		return;
	if (p->magic != POLICY_MAGIC)
		abort();
	table_free(&p->t);
	pthread_rwlock_destroy(&p->lock);
	p->magic = 0;
	free(p);
	*pp = NULL;
}

unsigned redact_policy_kinds(struct redact_policy *p, long long customer_id,
                             char version[REDACT_VERSION_MAX])
{
	pthread_rwlock_rdlock(&p->lock);
	const struct policy_table *t = p->t;
	struct tenant_policy key = { .customer_id = customer_id };
	const struct tenant_policy *e =
	    t->n ? bsearch(&key, t->v, t->n, sizeof(*t->v), tenant_cmp) : NULL;
	unsigned kinds = e ? e->kinds : t->kinds;
	if (version)
		memcpy(version, e ? e->version : t->version, REDACT_VERSION_MAX);
	pthread_rwlock_unlock(&p->lock);
	return kinds;
}

size_t redact_policy_tenants(struct redact_policy *p)
{
	pthread_rwlock_rdlock(&p->lock);
	size_t n = p->t->n;
	pthread_rwlock_unlock(&p->lock);
	return n;
}
