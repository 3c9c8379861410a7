/*
 * auth_int: what lib/auth's files share and nothing else sees (auth.c, auth_claims.c,
 * auth_pem.c): the error helper.
 */
#ifndef AIMEM_AUTH_INT_H
#define AIMEM_AUTH_INT_H

#include <stddef.h>

/* Formats err (when errlen > 0) and returns status: `return auth_fail(err, errlen, ...)`. */
int auth_fail(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
