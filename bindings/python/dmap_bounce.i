/* SPDX-License-Identifier: MIT */
/*
 * dmap_bounce.i - the bounce backend (dmap/bounce.h), included by
 * dmap_native.i when the library is built with it.
 */

%constant uint64_t BOUNCE_DEFAULT_POOL_SIZE = DMAP_BOUNCE_DEFAULT_POOL_SIZE;
%constant uint64_t BOUNCE_DEFAULT_PHYS_LIMIT = DMAP_BOUNCE_DEFAULT_PHYS_LIMIT;
%constant uint64_t BOUNCE_DEFAULT_MAX_MAPPING = DMAP_BOUNCE_DEFAULT_MAX_MAPPING;
%constant unsigned int BOUNCE_DEFAULT_SLOT_SIZE = DMAP_BOUNCE_DEFAULT_SLOT_SIZE;
%constant unsigned int BOUNCE_DEFAULT_CACHES = DMAP_BOUNCE_DEFAULT_CACHES;

%inline %{
int dmapy_bounce_domain_create(struct dmap_ctx *ctx, const char *name, uint64_t pool_size,
			       uint64_t phys_limit, uint64_t max_mapping_size, uint64_t slot_size,
			       unsigned int nr_caches, bool no_caches, bool allow_growth,
			       uint64_t growth_cap, uint64_t bus_offset,
			       struct dmap_domain **OUTPTR)
{
	struct dmap_bounce_config config = { 0 };

	*OUTPTR = NULL;
	if (pool_size > SIZE_MAX || max_mapping_size > SIZE_MAX || slot_size > SIZE_MAX ||
	    growth_cap > SIZE_MAX)
		return -DMAP_EINVAL;
	config.name = name;
	config.pool_size = (size_t)pool_size;
	config.phys_limit = phys_limit;
	config.max_mapping_size = (size_t)max_mapping_size;
	config.slot_size = (size_t)slot_size;
	config.nr_caches = nr_caches;
	config.no_caches = no_caches;
	config.allow_growth = allow_growth;
	config.growth_cap = (size_t)growth_cap;
	config.bus_offset = bus_offset;
	return dmap_bounce_domain_create(ctx, &config, OUTPTR);
}

/* (rc, {counter: value, ..., "classes": [(block_size, live_mappings, free_blocks), ...]}) */
PyObject *dmapy_bounce_stats(struct dmap_domain *domain)
{
	struct dmap_bounce_stats s;
	PyObject *d = NULL, *classes = NULL;
	unsigned int i, n;
	int rc;

	memset(&s, 0, sizeof(s));
	rc = dmap_bounce_get_stats(domain, &s);
	if (rc)
		return Py_BuildValue("(iO)", rc, Py_None);
	d = PyDict_New();
	if (!d)
		return NULL;
	DMAPY_PUT(d, s, pools);
	DMAPY_PUT(d, s, pool_bytes);
	DMAPY_PUT(d, s, slot_size);
	DMAPY_PUT(d, s, slots_total);
	DMAPY_PUT(d, s, slots_in_use);
	DMAPY_PUT(d, s, bytes_in_use);
	DMAPY_PUT(d, s, high_water_slots);
	DMAPY_PUT(d, s, high_water_bytes);
	DMAPY_PUT(d, s, live_mappings);
	DMAPY_PUT(d, s, failed_too_big);
	DMAPY_PUT(d, s, failed_full);
	DMAPY_PUT(d, s, failed_unreachable);
	DMAPY_PUT(d, s, failed_constraint);
	DMAPY_PUT(d, s, bytes_to_device);
	DMAPY_PUT(d, s, bytes_from_device);
	DMAPY_PUT(d, s, pools_added);
	DMAPY_PUT(d, s, pools_released);
	DMAPY_PUT(d, s, coalesce_passes);
	n = s.nr_classes <= DMAP_BOUNCE_MAX_CLASSES ? s.nr_classes : DMAP_BOUNCE_MAX_CLASSES;
	classes = PyList_New(n);
	if (!classes)
		goto fail;
	for (i = 0; i < n; i++) {
		PyObject *t = Py_BuildValue("(KKK)", (unsigned long long)s.classes[i].block_size,
					    (unsigned long long)s.classes[i].live_mappings,
					    (unsigned long long)s.classes[i].free_blocks);
		if (!t)
			goto fail;
		PyList_SET_ITEM(classes, i, t);
	}
	if (PyDict_SetItemString(d, "classes", classes) < 0)
		goto fail;
	Py_DECREF(classes);
	return Py_BuildValue("(iN)", 0, d);
fail:
	Py_XDECREF(classes);
	Py_XDECREF(d);
	return NULL;
}

int dmapy_bounce_grow(struct dmap_domain *domain, uint64_t size)
{
	if (size > SIZE_MAX)
		return -DMAP_EINVAL;
	return dmap_bounce_grow(domain, (size_t)size);
}
%}

bool dmap_bounce_is_bounce(const struct dmap_domain *domain);
int dmap_bounce_reset_high_water(struct dmap_domain *domain);
