/*
 * proc_tenant: each tenant's own topics, loaded once at start-up from a folder of
 * "<customer_id>.txt" files in topics.txt's format (docs/processors.md, "A tenant's own
 * topics"). A [section] naming a built-in topic adds the tenant's cue words to it; a new
 * name adds a topic for that tenant alone. proc_run_tenant() applies a tenant's file to that
 * tenant's calls only.
 *
 * Immutable after loading, shared by threads. Not here: reloading while running (restart
 * the worker), per-tenant guards against built-in cues (a tenant's cues add, never remove).
 */
#ifndef AIMEM_PROC_TENANT_H
#define AIMEM_PROC_TENANT_H

#include <stddef.h>

struct proc_lexicons;
struct proc_tenants;

/*
 * Loads every "<customer_id>.txt" of dir (customer_id: a positive decimal without leading
 * zeros) on top of lx's topics (borrowed; must outlive the result). Refuses any other file
 * name (dot files aside), a malformed file, and more than PROC_TOPIC_MAX topics, with
 * "dir/file:line: reason" in err, and returns NULL. An empty folder is fine. The result is
 * owned by the caller (proc_tenants_free).
 */
struct proc_tenants *proc_tenants_load(const struct proc_lexicons *lx, const char *dir, char *err,
                                       size_t errlen) __attribute__((warn_unused_result));
/* Frees *tn (NULL is fine) and clears the pointer. */
void proc_tenants_free(struct proc_tenants **tn);
/* How many tenants have a file. */
size_t proc_tenants_count(const struct proc_tenants *tn);
/* The tenant's own topic lexicon, or NULL (tn NULL, or no file for customer_id). */
const struct proc_lexicons *proc_tenants_find(const struct proc_tenants *tn, long long customer_id);

#endif
