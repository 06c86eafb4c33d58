/*
 * What the status server lets through, as pure functions over a request's
 * facts, so that each rule can be tested without a socket:
 *
 *   Host     one of the listen addresses, the address the connection came
 *            in on, or "localhost", each with the port it came in on
 *            (DNS rebinding: a hostile name resolving to us is refused)
 *   site     Sec-Fetch-Site "cross-site" or "same-site" is refused, and so
 *            is an Origin that is not http://<an allowed Host>
 *   method   GET and HEAD only
 */
#ifndef MESHGATE_WEBUI_POLICY_H
#define MESHGATE_WEBUI_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "netaddr.h"

enum {
	WEB_OK = 200,
	WEB_FORBIDDEN = 403,
	WEB_METHOD_NOT_ALLOWED = 405,
	WEB_MISDIRECTED = 421,
};

struct web_request {
	const char *method;
	const char *host;                  /* Host header; NULL when absent */
	const char *origin;                /* Origin header; NULL when absent */
	const char *sec_fetch_site;        /* Sec-Fetch-Site header; NULL when absent */
	union sockaddr_inet local;         /* where the connection arrived */
	const union sockaddr_inet *listen; /* the configured listen addresses */
	size_t n_listen;
};

/* True if host ("name", "name:port", "[v6]:port") names us on port. */
bool web_host_allowed(const char *host, const union sockaddr_inet *local,
		      const union sockaddr_inet *listen, size_t n_listen);

/* WEB_OK, or the status to refuse the request with (checked in the order
 * Host, site, method). */
int web_request_check(const struct web_request *req);

#endif
