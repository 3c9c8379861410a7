/*
 * redact_policy: which kinds the redactor replaces for each tenant, and the version recorded
 * on each event (docs/redaction.md).
 *
 * Every tenant gets redact.kinds (by default card, cvv, expiry, ssn, bank_account, routing,
 * iban). redact.tenant_dir may hold "<customer_id>.conf" files whose lines are
 * "<kind> on|off" ('#' comments): "email on" adds an opt-in kind for that tenant, "iban off"
 * turns a kind off for it, explicitly. The version says which rules and which policy
 * produced an event's text: "<rules>/<source>-<kinds>", the source "default" or
 * "t" + a hash of the tenant's file, the kinds as a hexadecimal mask of enum redact_kind
 * ("1/default-7f").
 *
 * Read at start and again on SIGHUP (redact_policy_reload): the new folder is loaded whole
 * and swapped in under a lock, or nothing changes. Lookups from any thread. Not here: the
 * redacting itself (redact.h), events (redact_event.h).
 */
#ifndef AIMEM_REDACT_POLICY_H
#define AIMEM_REDACT_POLICY_H

#include <stddef.h>

#include "redact.h"

#define REDACT_VERSION_MAX 48

struct redact_policy;

/* Loads s (borrowed for the call). NULL with "file:line: reason" in err on a bad kind name, a
 * malformed line or file name, or an unreadable folder. Owned by the caller. */
struct redact_policy *redact_policy_load(const struct redact_settings *s, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Loads fresh settings and swaps them in; on failure returns -1 with err and keeps the policy
 * in use. Main thread (SIGHUP), while other threads look up. */
int redact_policy_reload(struct redact_policy *p, const struct redact_settings *s, char *err,
                         size_t errlen) __attribute__((warn_unused_result));
void redact_policy_free(struct redact_policy **p);

/* The kinds (a mask of 1 << enum redact_kind) for customer_id; version (may be NULL) receives
 * the policy version. Any thread. */
unsigned redact_policy_kinds(struct redact_policy *p, long long customer_id,
                             char version[REDACT_VERSION_MAX]);
/* How many tenants have a file of their own. */
size_t redact_policy_tenants(struct redact_policy *p);

#endif
