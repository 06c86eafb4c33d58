/*
 * The planner_* helpers (planner.h): growing arrays, prefix lists, errors
 * and warnings, routes, on one computation's struct planner. Pure; they
 * call nothing of the planning unit above them (plan.c, exitnode/).
 */
#include "planner.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *planner_append(void *vp, size_t *n, size_t size)
{
	void **v = vp;
	char *grown = realloc(*v, (*n + 1) * size);

	if (!grown)
		return NULL;
	*v = grown;
	memset(grown + *n * size, 0, size);
	return grown + (*n)++ * size;
}

int planner_prefixes_add(struct plan_prefixes *list, const struct prefix *p)
{
	struct prefix *slot = planner_append(&list->v, &list->n, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	*slot = *p;
	return 0;
}

void planner_prefixes_canonicalize(struct plan_prefixes *list)
{
	size_t kept = 0;

	if (list->n == 0)
		return;
	qsort(list->v, list->n, sizeof(*list->v), prefix_cmp);
	/* After sorting, an entry inside another follows it (or an entry
	 * inside that one) directly. */
	for (size_t i = 0; i < list->n; i++) {
		if (kept && prefix_contains(&list->v[kept - 1], &list->v[i]))
			continue;
		list->v[kept++] = list->v[i];
	}
	list->n = kept;
}

int planner_fail(struct planner *pl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pl->errbuf, pl->errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int planner_warn(struct planner *pl, const char *fmt, ...)
{
	char **slot = planner_append(&pl->p.warnings, &pl->p.n_warnings, sizeof(*slot));
	va_list ap;
	int ret;

	if (!slot)
		return -ENOMEM;
	va_start(ap, fmt);
	ret = vasprintf(slot, fmt, ap);
	va_end(ap);
	if (ret < 0) {
		*slot = NULL;
		return -ENOMEM;
	}
	return 0;
}

bool planner_is_mesh_address(const struct planner *pl, const struct prefix *p)
{
	for (size_t i = 0; i < pl->mesh.n; i++)
		if (prefix_contains(&pl->mesh.v[i], p))
			return true;
	return false;
}

int planner_route_add(struct planner *pl, const struct prefix *dst, enum plan_route_type type,
		      uint32_t metric)
{
	struct plan_route *r = planner_append(&pl->p.routes, &pl->p.n_routes, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->dst = *dst;
	r->type = type;
	r->metric = metric;
	return 0;
}

int planner_prefixes_copy(struct plan_prefixes *dst, const struct plan_prefixes *src)
{
	*dst = (struct plan_prefixes){ 0 };
	if (!src->n)
		return 0;
	dst->v = malloc(src->n * sizeof(*src->v));
	if (!dst->v)
		return -ENOMEM;
	memcpy(dst->v, src->v, src->n * sizeof(*src->v));
	dst->n = src->n;
	return 0;
}

bool planner_prefixes_equal(const struct plan_prefixes *a, const struct plan_prefixes *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!prefix_equal(&a->v[i], &b->v[i]))
			return false;
	return true;
}
