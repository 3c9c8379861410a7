/*
 * auth_cache: accepted tokens by their exact bytes (see auth_cache.h).
 */
#include "auth_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "xalloc.h"

struct auth_slot {
	pthread_mutex_t mu;
	size_t len; /* 0: empty */
	struct auth_claims claims;
	long long nbf;
	char token[AUTH_CACHE_TOKEN_MAX];
};

struct auth_cache {
	unsigned long hits; /* atomic */
	uint64_t seed;      /* random per cache: nobody can aim tokens at one slot */
	struct auth_slot slot[AUTH_CACHE_SLOTS];
};

struct auth_cache *auth_cache_new(void)
{
	struct auth_cache *c = xcalloc(1, sizeof(*c));
	if (getrandom(&c->seed, sizeof(c->seed), 0) != (ssize_t)sizeof(c->seed))
		c->seed = (uint64_t)(uintptr_t)c ^ (uint64_t)time(NULL);
	for (size_t i = 0; i < AUTH_CACHE_SLOTS; i++)
		pthread_mutex_init(&c->slot[i].mu, NULL);
	return c;
}

void auth_cache_free(struct auth_cache **cp)
{
	struct auth_cache *c = *cp;
	if (c == NULL)
		return;
	for (size_t i = 0; i < AUTH_CACHE_SLOTS; i++)
		pthread_mutex_destroy(&c->slot[i].mu);
	explicit_bzero(c, sizeof(*c));
	free(c);
	*cp = NULL;
}

/* FNV-1a over the last 16 bytes (a signature's: as good as random), the length and the
 * cache's seed. */
static struct auth_slot *auth_cache_slot(struct auth_cache *c, const char *token, size_t len)
{
	uint64_t h = (0xcbf29ce484222325u ^ c->seed) ^ len;
	for (size_t i = len > 16 ? len - 16 : 0; i < len; i++)
		h = (h ^ (unsigned char)token[i]) * 0x100000001b3u;
	return &c->slot[(h ^ h >> 29) & (AUTH_CACHE_SLOTS - 1)];
}

/* Compares in a time that depends on len only: a stored token is another client's secret. */
static bool auth_cache_same(const char *a, const char *b, size_t len)
{
	unsigned char d = 0;
	for (size_t i = 0; i < len; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

bool auth_cache_get(struct auth_cache *c, const char *token, size_t len, struct auth_claims *claims,
                    long long *nbf)
{
	if (len == 0 || len > AUTH_CACHE_TOKEN_MAX)
		return false;
	struct auth_slot *s = auth_cache_slot(c, token, len);
	pthread_mutex_lock(&s->mu);
	bool hit = s->len == len && auth_cache_same(s->token, token, len);
	if (hit) {
		*claims = s->claims;
		*nbf = s->nbf;
	}
	pthread_mutex_unlock(&s->mu);
	if (hit)
		__atomic_add_fetch(&c->hits, 1, __ATOMIC_RELAXED);
	return hit;
}

void auth_cache_put(struct auth_cache *c, const char *token, size_t len,
                    const struct auth_claims *claims, long long nbf)
{
	if (len == 0 || len > AUTH_CACHE_TOKEN_MAX)
		return;
	struct auth_slot *s = auth_cache_slot(c, token, len);
	pthread_mutex_lock(&s->mu);
	memcpy(s->token, token, len);
	s->len = len;
	s->claims = *claims;
	s->nbf = nbf;
	pthread_mutex_unlock(&s->mu);
}

unsigned long auth_cache_hits(struct auth_cache *c)
{
	return __atomic_load_n(&c->hits, __ATOMIC_RELAXED);
}
