/* SPDX-License-Identifier: MIT */
/*
 * dmap_xen.i - the Xen backend (dmap/xen.h) and the simulated PV guest of the
 * hosted environment (dmap/hosted_xen.h), included by dmap_native.i when the
 * library is built with them.
 */

%constant int XEN_FRAME_MISSING = DMAP_XEN_FRAME_MISSING;
%constant int XEN_FRAME_VALID = DMAP_XEN_FRAME_VALID;
%constant int XEN_FRAME_IDENTITY = DMAP_XEN_FRAME_IDENTITY;
%constant int XEN_FRAME_FOREIGN = DMAP_XEN_FRAME_FOREIGN;
%constant uint64_t XEN_INVALID_FRAME = DMAP_XEN_INVALID_FRAME;
%constant uint64_t XEN_FOREIGN_FRAME_BIT = DMAP_XEN_FOREIGN_FRAME_BIT;
%constant uint64_t XEN_IDENTITY_FRAME_BIT = DMAP_XEN_IDENTITY_FRAME_BIT;
%constant uint64_t XEN_PAGE_SIZE = DMAP_XEN_PAGE_SIZE;
%constant uint64_t HOSTED_XEN_HIGH_MFN = DMAP_HOSTED_XEN_HIGH_MFN;

DMAPY_OUTPTR(struct dmap_xen_p2m)
DMAPY_OUTPTR(struct dmap_hosted_xen)

%inline %{
/* ---- P2M ---- */
int dmapy_xen_p2m_create(struct dmapy_env *e, uint64_t max_pfn, uint64_t max_mfn,
			 struct dmap_xen_p2m **OUTPTR)
{
	struct dmap_xen_p2m_config config = { 0 };

	*OUTPTR = NULL;
	if (!e)
		return -DMAP_EINVAL;
	config.max_pfn = max_pfn;
	config.max_mfn = max_mfn;
	return dmap_xen_p2m_create(dmap_hosted_env(e->hosted), &config, OUTPTR);
}

int dmapy_xen_p2m_destroy(struct dmap_xen_p2m *p2m)
{
	dmap_xen_p2m_destroy(p2m);
	return 0;
}

int dmapy_xen_p2m_set_range(struct dmap_xen_p2m *p2m, uint64_t pfn, uint64_t count, int kind,
			    uint64_t mfn)
{
	return dmap_xen_p2m_set_range(p2m, pfn, count, (enum dmap_xen_frame_kind)kind, mfn);
}

/* (rc, kind, mfn) */
PyObject *dmapy_xen_p2m_lookup(struct dmap_xen_p2m *p2m, uint64_t pfn)
{
	enum dmap_xen_frame_kind kind = DMAP_XEN_FRAME_MISSING;
	uint64_t mfn = DMAP_XEN_INVALID_FRAME;
	int rc = dmap_xen_p2m_lookup(p2m, pfn, &mfn, &kind);

	return Py_BuildValue("(iiK)", rc, (int)kind, (unsigned long long)mfn);
}

PyObject *dmapy_xen_p2m_stats(struct dmap_xen_p2m *p2m)
{
	struct dmap_xen_p2m_stats s;
	PyObject *d;
	int rc;

	memset(&s, 0, sizeof(s));
	rc = dmap_xen_p2m_get_stats(p2m, &s);
	if (rc)
		return Py_BuildValue("(iO)", rc, Py_None);
	d = PyDict_New();
	if (!d)
		return NULL;
	DMAPY_PUT(d, s, leaf_pages);
	DMAPY_PUT(d, s, mid_pages);
	DMAPY_PUT(d, s, bytes);
	DMAPY_PUT(d, s, updates);
	DMAPY_PUT(d, s, frames_written);
	DMAPY_PUT(d, s, generation);
	DMAPY_PUT(d, s, max_pfn);
	DMAPY_PUT(d, s, max_mfn);
	return Py_BuildValue("(iN)", 0, d);
fail:
	Py_DECREF(d);
	return NULL;
}

/* ---- the simulated guest ---- */

/* @ranges: packed little-endian (pfn, count, kind) uint64 triples. */
int dmapy_hosted_xen_create(struct dmapy_env *e, uint64_t guest_frames,
			    uint64_t low_machine_frames, uint64_t high_machine_frames,
			    unsigned int seed, bool in_order, bool plain, const void *RBUF,
			    size_t RLEN, struct dmap_hosted_xen **OUTPTR)
{
	struct dmap_hosted_xen_config config = { 0 };
	struct dmap_hosted_xen_range *ranges = NULL;
	size_t nr = RLEN / 24, i;
	int rc;

	*OUTPTR = NULL;
	if (!e || RLEN % 24)
		return -DMAP_EINVAL;
	if (nr) {
		ranges = calloc(nr, sizeof(*ranges));
		if (!ranges)
			return -DMAP_ENOMEM;
		for (i = 0; i < nr; i++) {
			uint64_t kind;

			memcpy(&ranges[i].pfn, (const char *)RBUF + 24 * i, 8);
			memcpy(&ranges[i].count, (const char *)RBUF + 24 * i + 8, 8);
			memcpy(&kind, (const char *)RBUF + 24 * i + 16, 8);
			ranges[i].kind = (enum dmap_xen_frame_kind)kind;
		}
	}
	config.guest_frames = guest_frames;
	config.low_machine_frames = low_machine_frames;
	config.high_machine_frames = high_machine_frames;
	config.seed = seed;
	config.in_order = in_order;
	config.plain = plain;
	config.ranges = ranges;
	config.nr_ranges = nr;
	rc = dmap_hosted_xen_create(e->hosted, &config, OUTPTR);
	free(ranges);
	return rc;
}

int dmapy_hosted_xen_destroy(struct dmap_hosted_xen *guest)
{
	dmap_hosted_xen_destroy(guest);
	return 0;
}

int dmapy_hosted_xen_machine_read(struct dmap_hosted_xen *guest, uint64_t maddr, void *WBUF,
				  size_t WLEN)
{
	if (!guest)
		return -DMAP_EINVAL;
	if (!WLEN)
		return 0;
	return dmap_hosted_xen_machine_read(guest, maddr, WBUF, WLEN);
}

int dmapy_hosted_xen_machine_write(struct dmap_hosted_xen *guest, uint64_t maddr,
				   const void *RBUF, size_t RLEN)
{
	if (!guest)
		return -DMAP_EINVAL;
	if (!RLEN)
		return 0;
	return dmap_hosted_xen_machine_write(guest, maddr, RBUF, RLEN);
}

PyObject *dmapy_hosted_xen_counters(struct dmap_hosted_xen *guest)
{
	struct dmap_hosted_xen_counters c;
	PyObject *d;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = dmap_hosted_xen_get_counters(guest, &c);
	if (rc)
		return Py_BuildValue("(iO)", rc, Py_None);
	d = PyDict_New();
	if (!d)
		return NULL;
	DMAPY_PUT(d, c, exchanges);
	DMAPY_PUT(d, c, exchange_failures);
	DMAPY_PUT(d, c, releases);
	DMAPY_PUT(d, c, free_frames);
	return Py_BuildValue("(iN)", 0, d);
fail:
	Py_DECREF(d);
	return NULL;
}

/* ---- the Xen domain ---- */

int dmapy_xen_domain_create(struct dmap_ctx *ctx, const char *name, struct dmap_xen_p2m *p2m,
			    struct dmap_hosted_xen *guest, unsigned int guest_page_shift,
			    uint64_t pool_size, uint64_t segment_size,
			    unsigned int pool_address_bits, bool allow_foreign, bool iova_is_pfn,
			    struct dmap_domain *iommu, struct dmap_domain **OUTPTR)
{
	struct dmap_xen_config config = { 0 };

	*OUTPTR = NULL;
	if (pool_size > SIZE_MAX || segment_size > SIZE_MAX)
		return -DMAP_EINVAL;
	config.name = name;
	config.p2m = p2m;
	config.guest_page_shift = guest_page_shift;
	if (guest) {
		config.exchange = dmap_hosted_xen_exchange_ops();
		config.exchange_cookie = guest;
	}
	config.pool_size = (size_t)pool_size;
	config.segment_size = (size_t)segment_size;
	config.pool_address_bits = pool_address_bits;
	config.allow_foreign = allow_foreign;
	config.iova_is_pfn = iova_is_pfn;
	config.iommu = iommu;
	return dmap_xen_domain_create(ctx, &config, OUTPTR);
}

PyObject *dmapy_xen_stats(struct dmap_domain *domain)
{
	struct dmap_xen_stats s;
	PyObject *d;
	int rc;

	memset(&s, 0, sizeof(s));
	rc = dmap_xen_get_stats(domain, &s);
	if (rc)
		return Py_BuildValue("(iO)", rc, Py_None);
	d = PyDict_New();
	if (!d)
		return NULL;
	DMAPY_PUT(d, s, direct_maps);
	DMAPY_PUT(d, s, bounced_maps);
	DMAPY_PUT(d, s, straddles);
	DMAPY_PUT(d, s, mask_bounces);
	DMAPY_PUT(d, s, exchanges);
	DMAPY_PUT(d, s, exchange_failures);
	DMAPY_PUT(d, s, missing_frames);
	DMAPY_PUT(d, s, foreign_refused);
	DMAPY_PUT(d, s, pool_exhausted);
	DMAPY_PUT(d, s, pfn_maps);
	DMAPY_PUT(d, s, pool_bytes);
	DMAPY_PUT(d, s, pool_used);
	DMAPY_PUT(d, s, pool_high_water);
	return Py_BuildValue("(iN)", 0, d);
fail:
	Py_DECREF(d);
	return NULL;
}

bool dmapy_xen_domain_uses(struct dmap_domain *domain, struct dmap_xen_p2m *p2m)
{
	return domain && dmap_xen_domain_p2m(domain) == p2m;
}
%}

int dmap_xen_p2m_set(struct dmap_xen_p2m *p2m, uint64_t pfn, int kind, uint64_t mfn);
uint64_t dmap_xen_p2m_get_raw(const struct dmap_xen_p2m *p2m, uint64_t pfn);
uint64_t dmap_xen_pfn_to_mfn(const struct dmap_xen_p2m *p2m, uint64_t pfn);
uint64_t dmap_xen_mfn_to_pfn(const struct dmap_xen_p2m *p2m, uint64_t mfn);
uint64_t dmap_xen_foreign_mfn_to_pfn(const struct dmap_xen_p2m *p2m, uint64_t mfn);
uint64_t dmap_xen_m2p_get(const struct dmap_xen_p2m *p2m, uint64_t mfn);
int dmap_xen_m2p_set(struct dmap_xen_p2m *p2m, uint64_t mfn, uint64_t pfn);
struct dmap_xen_p2m *dmap_hosted_xen_p2m(struct dmap_hosted_xen *guest);
void dmap_hosted_xen_fail_exchanges(struct dmap_hosted_xen *guest, unsigned int count);
int dmap_hosted_xen_remap(struct dmap_hosted_xen *guest, uint64_t pfn, uint64_t count,
			  uint64_t mfn);
uint64_t dmap_hosted_xen_find_free(struct dmap_hosted_xen *guest, uint64_t count,
				   uint64_t min_mfn, uint64_t limit_mfn);
