/* SPDX-License-Identifier: MIT */
/*
 * dmap_iommu.i - the iommu backend (dmap/iommu.h, dmap/iommu_hw.h), included
 * by dmap_native.i when the library is built with it.
 */

%constant int PGTABLE_ARM_LPAE_S1 = DMAP_PGTABLE_ARM_LPAE_S1;
%constant int PGTABLE_VTD_SL = DMAP_PGTABLE_VTD_SL;
%constant unsigned int PROT_READ = DMAP_PROT_READ;
%constant unsigned int PROT_WRITE = DMAP_PROT_WRITE;
%constant unsigned int PROT_CACHE = DMAP_PROT_CACHE;
%constant unsigned int PROT_NOEXEC = DMAP_PROT_NOEXEC;
%constant unsigned int PROT_PRIV = DMAP_PROT_PRIV;
%constant unsigned int PROT_MMIO = DMAP_PROT_MMIO;
%constant int IOMMU_MAX_RESERVED = DMAP_IOMMU_MAX_RESERVED;

%inline %{
/*
 * @reserved: packed little-endian (first, last) uint64 pairs, as
 * struct.pack("<2Q" * n) builds them.
 */
int dmapy_iommu_domain_create(struct dmap_ctx *ctx, const char *name, int format,
			      uint64_t granule, unsigned int ias, unsigned int oas,
			      unsigned int levels, bool deferred, unsigned int fq_size,
			      uint64_t fq_timeout_ns, uint64_t aperture_first,
			      uint64_t aperture_last, const void *RBUF, size_t RLEN,
			      struct dmap_domain *bounce, uint64_t inval_latency_ns,
			      unsigned int iotlb_entries, bool no_iotlb, bool no_iova_cache,
			      bool non_coherent_walk, struct dmap_domain **OUTPTR)
{
	struct dmap_iommu_range reserved[DMAP_IOMMU_MAX_RESERVED + 1];
	struct dmap_iommu_config config = { 0 };
	size_t nr = RLEN / (2 * sizeof(uint64_t)), i;

	*OUTPTR = NULL;
	if (granule > SIZE_MAX || RLEN % (2 * sizeof(uint64_t)))
		return -DMAP_EINVAL;
	/* One more than the library takes, so it can say "too many" itself. */
	if (nr > DMAP_IOMMU_MAX_RESERVED + 1)
		nr = DMAP_IOMMU_MAX_RESERVED + 1;
	for (i = 0; i < nr; i++) {
		memcpy(&reserved[i].first, (const char *)RBUF + 16 * i, 8);
		memcpy(&reserved[i].last, (const char *)RBUF + 16 * i + 8, 8);
	}
	config.name = name;
	config.format = (enum dmap_pgtable_format)format;
	config.granule = (size_t)granule;
	config.ias = ias;
	config.oas = oas;
	config.levels = levels;
	config.deferred = deferred;
	config.fq_size = fq_size;
	config.fq_timeout_ns = fq_timeout_ns;
	config.aperture.first = aperture_first;
	config.aperture.last = aperture_last;
	config.reserved = nr ? reserved : NULL;
	config.nr_reserved = (unsigned int)nr;
	config.bounce = bounce;
	config.inval_latency_ns = inval_latency_ns;
	config.iotlb_entries = iotlb_entries;
	config.no_iotlb = no_iotlb;
	config.no_iova_cache = no_iova_cache;
	config.non_coherent_walk = non_coherent_walk;
	return dmap_iommu_domain_create(ctx, &config, OUTPTR);
}

int dmapy_iommu_map(struct dmap_domain *domain, uint64_t iova, uint64_t phys, uint64_t size,
		    unsigned int prot)
{
	if (size > SIZE_MAX)
		return -DMAP_EINVAL;
	return dmap_iommu_map(domain, iova, phys, (size_t)size, prot);
}

int dmapy_iommu_unmap(struct dmap_domain *domain, uint64_t iova, uint64_t size)
{
	if (size > SIZE_MAX)
		return -DMAP_EINVAL;
	return dmap_iommu_unmap(domain, iova, (size_t)size);
}

int dmapy_iommu_flush_range(struct dmap_domain *domain, uint64_t iova, uint64_t size)
{
	if (size > SIZE_MAX)
		return -DMAP_EINVAL;
	return dmap_iommu_flush_range(domain, iova, (size_t)size);
}

uint64_t dmapy_iommu_iova_to_phys(struct dmap_domain *domain, uint64_t iova)
{
	return dmap_iommu_iova_to_phys(domain, iova);
}

PyObject *dmapy_iommu_stats(struct dmap_domain *domain)
{
	struct dmap_iommu_stats s;
	PyObject *d;
	int rc;

	memset(&s, 0, sizeof(s));
	rc = dmap_iommu_get_stats(domain, &s);
	if (rc)
		return Py_BuildValue("(iO)", rc, Py_None);
	d = PyDict_New();
	if (!d)
		return NULL;
	DMAPY_PUT(d, s, iotlb_hits);
	DMAPY_PUT(d, s, iotlb_misses);
	DMAPY_PUT(d, s, iotlb_fills);
	DMAPY_PUT(d, s, iotlb_invalidations);
	DMAPY_PUT(d, s, iotlb_entries);
	DMAPY_PUT(d, s, walk_faults);
	DMAPY_PUT(d, s, iova_cache_hits);
	DMAPY_PUT(d, s, iova_cache_misses);
	DMAPY_PUT(d, s, iova_failures);
	DMAPY_PUT(d, s, iova_free_ranges);
	DMAPY_PUT(d, s, fq_queued);
	DMAPY_PUT(d, s, fq_flushes);
	DMAPY_PUT(d, s, fq_full_flushes);
	DMAPY_PUT(d, s, fq_timeout_flushes);
	DMAPY_PUT(d, s, bounced_maps);
	DMAPY_PUT(d, s, table_pages_freed);
	return Py_BuildValue("(iN)", 0, d);
fail:
	Py_DECREF(d);
	return NULL;
}

/*
 * (rc, {format, granule, ias, oas, root, arm_tcr, arm_mair, levels,
 *       start_level, vtd_agaw, "pages": [(level, phys, bytes), ...]})
 */
PyObject *dmapy_iommu_dump(struct dmap_domain *domain)
{
	struct dmap_iommu_dump *dump = NULL;
	PyObject *d = NULL, *pages = NULL;
	size_t i;
	int rc;

	rc = dmap_iommu_dump_tables(domain, &dump);
	if (rc)
		return Py_BuildValue("(iO)", rc, Py_None);
	d = PyDict_New();
	if (!d)
		goto fail;
	DMAPY_PUT(d, *dump, format);
	DMAPY_PUT(d, *dump, granule);
	DMAPY_PUT(d, *dump, ias);
	DMAPY_PUT(d, *dump, oas);
	DMAPY_PUT(d, *dump, root);
	DMAPY_PUT(d, *dump, arm_tcr);
	DMAPY_PUT(d, *dump, arm_mair);
	DMAPY_PUT(d, *dump, levels);
	DMAPY_PUT(d, *dump, start_level);
	DMAPY_PUT(d, *dump, vtd_agaw);
	pages = PyList_New((Py_ssize_t)dump->nr_pages);
	if (!pages)
		goto fail;
	for (i = 0; i < dump->nr_pages; i++) {
		const struct dmap_iommu_table_page *p = &dump->pages[i];
		PyObject *t = Py_BuildValue("(IKy#)", p->level, (unsigned long long)p->phys,
					    (const char *)p->bytes, (Py_ssize_t)p->size);
		if (!t)
			goto fail;
		PyList_SET_ITEM(pages, (Py_ssize_t)i, t);
	}
	if (PyDict_SetItemString(d, "pages", pages) < 0)
		goto fail;
	Py_DECREF(pages);
	dmap_iommu_dump_free(domain, dump);
	return Py_BuildValue("(iN)", 0, d);
fail:
	Py_XDECREF(pages);
	Py_XDECREF(d);
	dmap_iommu_dump_free(domain, dump);
	return NULL;
}

/* The library's own decoder for an SMMUv3 event record: a dict, or None for a short record. */
PyObject *dmapy_smmu_event_decode(const void *RBUF, size_t RLEN)
{
	uint64_t in[DMAP_SMMU_EVT_DWORDS];
	struct dmap_smmu_event ev;
	PyObject *d;

	if (RLEN < sizeof(in))
		Py_RETURN_NONE;
	memcpy(in, RBUF, sizeof(in));
	memset(&ev, 0, sizeof(ev));
	if (dmap_smmu_event_decode(in, &ev))
		Py_RETURN_NONE;
	d = PyDict_New();
	if (!d)
		return NULL;
	DMAPY_PUT(d, ev, id);
	DMAPY_PUT(d, ev, ssv);
	DMAPY_PUT(d, ev, ssid);
	DMAPY_PUT(d, ev, sid);
	DMAPY_PUT(d, ev, stag);
	DMAPY_PUT(d, ev, stall);
	DMAPY_PUT(d, ev, pnu);
	DMAPY_PUT(d, ev, ind);
	DMAPY_PUT(d, ev, rnw);
	DMAPY_PUT(d, ev, s2);
	DMAPY_PUT(d, ev, class_);
	DMAPY_PUT(d, ev, input_addr);
	DMAPY_PUT(d, ev, ipa);
	DMAPY_PUT(d, ev, fetch_addr);
	return d;
fail:
	Py_DECREF(d);
	return NULL;
}

/* The library's decoder for a VT-d fault record: a dict, or None. */
PyObject *dmapy_vtd_fault_decode(const void *RBUF, size_t RLEN)
{
	struct dmap_vtd_fault_record f;
	uint64_t in[2];
	PyObject *d;

	if (RLEN < sizeof(in))
		Py_RETURN_NONE;
	memcpy(in, RBUF, sizeof(in));
	memset(&f, 0, sizeof(f));
	if (dmap_vtd_fault_record_decode(in, &f))
		Py_RETURN_NONE;
	d = PyDict_New();
	if (!d)
		return NULL;
	DMAPY_PUT(d, f, fault_info);
	DMAPY_PUT(d, f, sid);
	DMAPY_PUT(d, f, t2);
	DMAPY_PUT(d, f, priv);
	DMAPY_PUT(d, f, exe);
	DMAPY_PUT(d, f, pasid_present);
	DMAPY_PUT(d, f, reason);
	DMAPY_PUT(d, f, pasid);
	DMAPY_PUT(d, f, at);
	DMAPY_PUT(d, f, type);
	DMAPY_PUT(d, f, fault);
	return d;
fail:
	Py_DECREF(d);
	return NULL;
}

const char *dmapy_smmu_event_name(unsigned int id)
{
	return dmap_smmu_event_name((uint8_t)id);
}

const char *dmapy_vtd_fault_reason_name(unsigned int reason)
{
	return dmap_vtd_fault_reason_name((uint8_t)reason);
}
%}

bool dmap_is_iommu_domain(const struct dmap_domain *domain);
int dmap_iommu_flush_all(struct dmap_domain *domain);
int dmap_iommu_poll(struct dmap_domain *domain);
