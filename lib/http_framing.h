/*
 * http_framing: what lib/http accepts of a request's header block, decided on the first
 * access-handler call before anything else runs.
 *
 * libmicrohttpd 0.9.75 accepts several request-smuggling forms (DESIGN §10): it frames a
 * body by the first Content-Length when there are several, by chunked when both
 * Transfer-Encoding and Content-Length are sent, keeps whitespace in header names
 * ("Transfer-Encoding : chunked" becomes a header named "Transfer-Encoding " that it then
 * ignores), joins an obs-fold continuation line onto the header NAME, and reads a body of a
 * Transfer-Encoding other than chunked until the connection closes. A proxy in front may
 * read each of these differently, so they are refused here, as is a bare CR in a header
 * line (RFC 9112 §2.2: invalid, or replaced by SP; MHD keeps it in the value, so
 * "Host: x\rTransfer-Encoding: chunked" is one header here and two to a proxy that ends
 * lines at CR). It does not otherwise check values other than Transfer-Encoding's (MHD
 * itself answers a non-numeric Content-Length with 400).
 *
 * Two Authorization headers are refused too: MHD hands the first to a handler, a proxy or
 * a log may take the last or join them, and a token naming one tenant must never ride
 * beside another (ChatStack sends one; anything else is a client or proxy bug).
 */
#ifndef AIMEM_HTTP_FRAMING_H
#define AIMEM_HTTP_FRAMING_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct http_framing {
	int n_cl, n_te;        /* Content-Length / Transfer-Encoding headers seen */
	int n_auth;            /* Authorization headers seen */
	bool bad_name;         /* a name that is not an HTTP token (whitespace, ':', ...) */
	bool folded;           /* a header MHD built from an obs-fold line */
	bool te_other;         /* a Transfer-Encoding other than "chunked" */
	bool bad_value;        /* a value holding a CR or NUL: MHD 0.9.75 keeps a bare CR inside
	                          the value, where a proxy may have ended the line */
	bool cl_valid;         /* the (first) Content-Length is a plain number */
	unsigned long long cl; /* its value when cl_valid */
};

/*
 * Reads conn's request headers (on the MHD thread, during the access handler): appends
 * each to headers as "name\0value\0", adds their number to *nheaders, and fills f.
 */
void http_framing_read(struct MHD_Connection *conn, struct buf *headers, size_t *nheaders,
                       struct http_framing *f);
/* Why the framing is refused (a short text for the 400), or NULL when it is unambiguous. */
const char *http_framing_verdict(const struct http_framing *f);
/* Whether s[0, len) is an HTTP token (RFC 9110 tchar+). */
bool http_framing_is_token(const char *s, size_t len);

#endif
