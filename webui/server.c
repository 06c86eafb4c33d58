/* The status server; see server.h. */
#include "server.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "assets.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "policy.h"
#include "timeutil.h"

struct web_listener {
	struct web_server *srv;
	union sockaddr_inet addr;
	struct MHD_Daemon *mhd;
	struct loop_source *src; /* the MHD daemon's epoll fd */
};

struct web_server {
	struct loop *loop;
	const struct web_ops *ops;
	void *ctx;
	struct web_listener **listeners;
	size_t n_listeners;
	union sockaddr_inet *listen; /* what the Host check accepts */
	size_t n_listen;
	struct loop_timer *timer; /* MHD's next timeout across all listeners */
};

/* Sent with every response, refusals included. */
static const struct {
	const char *name, *value;
} security_headers[] = {
	{ "Content-Security-Policy",
	  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
	  "img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'" },
	{ "X-Frame-Options", "DENY" },
	{ "X-Content-Type-Options", "nosniff" },
	{ "Cache-Control", "no-store" },
	{ "Referrer-Policy", "no-referrer" },
	{ "Cross-Origin-Resource-Policy", "same-origin" },
};

/* A response body: static (an asset) or malloc'd (freed by MHD). */
struct reply {
	unsigned status;
	const char *type;
	void *body;
	size_t len;
	bool owned;
};

static enum MHD_Result send_reply(struct MHD_Connection *c, const struct reply *r)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    r->len, r->body, r->owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!resp) {
		if (r->owned)
			free(r->body);
		return MHD_NO;
	}
	for (size_t i = 0; i < sizeof(security_headers) / sizeof(security_headers[0]); i++)
		MHD_add_response_header(resp, security_headers[i].name, security_headers[i].value);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
	if (r->status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static struct reply text_reply(unsigned status, const char *text)
{
	return (struct reply){ status, "text/plain; charset=utf-8", (void *)text, strlen(text),
			       false };
}

/* ---- routes ---- */

typedef struct reply (*route_fn)(struct web_server *srv);

static struct reply get_status(struct web_server *srv)
{
	json_t *doc = srv->ops->status(srv->ctx);
	char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;

	json_decref(doc);
	if (!text)
		return text_reply(MHD_HTTP_INTERNAL_SERVER_ERROR, "status unavailable\n");
	return (struct reply){ MHD_HTTP_OK, "application/json", text, strlen(text), true };
}

static struct reply get_metrics(struct web_server *srv)
{
	json_t *doc = srv->ops->status(srv->ctx);
	char *text = doc ? metrics_render(doc, time(NULL)) : NULL;

	json_decref(doc);
	if (!text)
		return text_reply(MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics unavailable\n");
	return (struct reply){ MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text,
			       strlen(text), true };
}

static struct reply get_healthz(struct web_server *srv)
{
	return text_reply(MHD_HTTP_OK, "ok\n");
}

static const struct {
	const char *path;
	route_fn fn;
} routes[] = {
	{ "/api/status", get_status },
	{ "/metrics", get_metrics },
	{ "/healthz", get_healthz },
};

static struct reply route(struct web_server *srv, const char *url)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (!strcmp(url, routes[i].path))
			return routes[i].fn(srv);
	for (size_t i = 0; i < web_n_assets; i++)
		if (!strcmp(url, web_assets[i].path))
			return (struct reply){ MHD_HTTP_OK, web_assets[i].type,
					       (void *)web_assets[i].data, web_assets[i].len,
					       false };
	return text_reply(MHD_HTTP_NOT_FOUND, "not found\n");
}

/* ---- requests ---- */

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static int local_address(struct MHD_Connection *c, union sockaddr_inet *out)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	socklen_t len = sizeof(*out);

	memset(out, 0, sizeof(*out));
	if (!info || getsockname(info->connect_fd, &out->sa, &len) < 0)
		return -errno;
	return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **req_ctx)
{
	struct web_listener *l = cls;
	struct web_request req = {
		.method = method,
		.host = header(c, MHD_HTTP_HEADER_HOST),
		.origin = header(c, "Origin"),
		.sec_fetch_site = header(c, "Sec-Fetch-Site"),
		.listen = l->srv->listen,
		.n_listen = l->srv->n_listen,
	};
	struct reply r;
	int verdict;

	if (local_address(c, &req.local) < 0)
		req.local = l->addr;
	verdict = web_request_check(&req);
	if (verdict == WEB_MISDIRECTED)
		r = text_reply(MHD_HTTP_MISDIRECTED_REQUEST, "misdirected request: unknown Host\n");
	else if (verdict == WEB_FORBIDDEN)
		r = text_reply(MHD_HTTP_FORBIDDEN, "forbidden: cross-site request\n");
	else if (verdict == WEB_METHOD_NOT_ALLOWED)
		r = text_reply(MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	else
		r = route(l->srv, url);
	/* A request body, if any, is never read: the reply goes out at once. */
	return send_reply(c, &r);
}

/* ---- the loop ---- */

static void arm_timer(struct web_server *srv)
{
	uint64_t best = UINT64_MAX;

	for (size_t i = 0; i < srv->n_listeners; i++) {
		MHD_UNSIGNED_LONG_LONG ms;
		if (MHD_get_timeout(srv->listeners[i]->mhd, &ms) == MHD_YES && ms < best)
			best = ms;
	}
	if (best != UINT64_MAX)
		best = loop_now() + best * NSEC_PER_MSEC;
	loop_timer_set(srv->loop, srv->timer, best);
}

static void on_mhd(void *ctx, uint32_t events)
{
	struct web_listener *l = ctx;

	MHD_run(l->mhd);
	arm_timer(l->srv);
}

static void on_timer(void *ctx)
{
	struct web_server *srv = ctx;

	for (size_t i = 0; i < srv->n_listeners; i++)
		MHD_run(srv->listeners[i]->mhd);
	arm_timer(srv);
}

static void mhd_log(void *ctx, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("web: %s", msg);
}

static void listener_free(struct web_listener *l)
{
	if (!l)
		return;
	if (l->src)
		loop_del_fd(l->srv->loop, l->src);
	if (l->mhd)
		MHD_stop_daemon(l->mhd);
	free(l);
}

static int listener_start(struct web_server *srv, const union sockaddr_inet *addr,
			  struct web_listener **out)
{
	struct web_listener *l = calloc(1, sizeof(*l));
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;

	if (!l)
		return -ENOMEM;
	l->srv = srv;
	l->addr = *addr;
	if (addr->sa.sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	l->mhd =
	    MHD_start_daemon(flags, 0, NULL, NULL, handle, l, MHD_OPTION_SOCK_ADDR, &l->addr.sa,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_CONNECTION_LIMIT,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT,
			     (unsigned)WEB_PER_IP_CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
			     (unsigned)WEB_CONNECTION_TIMEOUT, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
			     (size_t)WEB_CONNECTION_MEMORY, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	info = l->mhd ? MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (info)
		l->src = loop_add_fd(srv->loop, info->epoll_fd, EPOLLIN, on_mhd, l);
	if (!l->src) {
		int err = errno ? -errno : -EADDRNOTAVAIL;
		listener_free(l);
		return err;
	}
	*out = l;
	return 0;
}

struct web_server *web_server_new(struct loop *loop, const struct web_ops *ops, void *ctx)
{
	struct web_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return NULL;
	*srv = (struct web_server){ .loop = loop, .ops = ops, .ctx = ctx };
	srv->timer = loop_timer_add(loop, UINT64_MAX, on_timer, srv);
	if (!srv->timer) {
		web_server_stop(srv);
		return NULL;
	}
	return srv;
}

static bool same_addr(const union sockaddr_inet *a, const union sockaddr_inet *b)
{
	return a->sa.sa_family == b->sa.sa_family && !memcmp(a, b, sockaddr_len(a));
}

static bool addr_in(const union sockaddr_inet *a, const union sockaddr_inet *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (same_addr(a, &v[i]))
			return true;
	return false;
}

int web_server_set_listen(struct web_server *srv, const union sockaddr_inet *addrs, size_t n,
			  char *errbuf, size_t errlen)
{
	struct web_listener **keep = calloc(n + 1, sizeof(*keep));
	union sockaddr_inet *copy = calloc(n + 1, sizeof(*copy));
	size_t kept = 0;
	int first = 0;

	if (!keep || !copy) {
		free(keep);
		free(copy);
		snprintf(errbuf, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < srv->n_listeners; i++) {
		struct web_listener *l = srv->listeners[i];
		if (addr_in(&l->addr, addrs, n) && !addr_in(&l->addr, copy, kept))
			copy[kept] = l->addr, keep[kept++] = l;
		else
			listener_free(l);
	}
	for (size_t i = 0; i < n; i++) {
		char text[SOCKADDR_STR_LEN];
		int ret;
		if (addr_in(&addrs[i], copy, kept))
			continue;
		ret = listener_start(srv, &addrs[i], &keep[kept]);
		sockaddr_format(&addrs[i], text, sizeof(text));
		if (ret == 0) {
			copy[kept++] = addrs[i];
			log_info("status page on http://%s/", text);
		} else if (first == 0) {
			first = ret;
			snprintf(errbuf, errlen, "web: cannot listen on %s: %s", text,
				 strerror(-ret));
		}
	}
	free(srv->listeners);
	free(srv->listen);
	srv->listeners = keep;
	srv->n_listeners = kept;
	srv->listen = copy;
	srv->n_listen = kept;
	arm_timer(srv);
	return first;
}

void web_server_stop(struct web_server *srv)
{
	if (!srv)
		return;
	for (size_t i = 0; i < srv->n_listeners; i++)
		listener_free(srv->listeners[i]);
	free(srv->listeners);
	free(srv->listen);
	loop_timer_del(srv->loop, srv->timer);
	free(srv);
}
