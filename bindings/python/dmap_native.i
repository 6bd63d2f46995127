/* SPDX-License-Identifier: MIT */
/*
 * dmap_native.i - the SWIG layer under the `dmap` Python package.
 *
 * Why it is shaped like this: SWIG wraps the C API almost one to one, and the
 * hand-written package dmap/ on top turns error codes into exceptions, owns
 * object lifetimes and gives the calls Python names. Keeping this layer thin
 * means every C function keeps its exact contract (the tests of the package
 * are tests of the library), and everything that needs judgement lives in
 * Python where it is easy to read.
 *
 * What SWIG cannot express on its own is written here as small C helpers:
 *  - out-pointers (`struct dmap_ctx **out`) come back as an extra return
 *    value ([rc, pointer]) through the OUTPTR typemaps;
 *  - device reads and writes take any Python buffer (bytes, bytearray,
 *    memoryview) and hold it for the whole call, never longer;
 *  - structures come back as tuples or dicts built here, so no SWIG proxy of
 *    a C structure (and its dangling-pointer pitfalls) reaches Python;
 *  - the environment's log goes into a bounded ring owned by C, so dmap never
 *    calls back into the interpreter (it may log from any thread, holding
 *    locks, inside RCU read sections).
 *
 * Nothing here frees an object on its own initiative: the package decides the
 * order (mappings, then attachments, then devices and domains, then the
 * context, then the environment), which is what makes releasing Python objects
 * in any order safe.
 */
%module(package="dmap", docstring="Raw SWIG wrappers of the dmap C API; use the dmap package.") dmap_native

/* Signatures with C types in every wrapper's docstring (help(dmap.dmap_native)). */
%feature("autodoc", "2");

%{
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dmap/dmap.h>
#include <dmap/ops.h>
#include <dmap/debug.h>
#include <dmap/identity.h>
#include <dmap/hosted.h>
#ifdef DMAP_PY_HAVE_BOUNCE
#include <dmap/bounce.h>
#endif
#ifdef DMAP_PY_HAVE_IOMMU
#include <dmap/iommu.h>
#include <dmap/iommu_hw.h>
#endif
#ifdef DMAP_PY_HAVE_XEN
#include <dmap/xen.h>
#include <dmap/hosted_xen.h>
#endif
%}

%include <stdint.i>

typedef uint64_t dmap_addr_t;
typedef uint64_t dmap_phys_t;

/* ---- typemaps ------------------------------------------------------------ */

/* `T **OUTPTR`: an extra return value, None when the call failed. */
%define DMAPY_OUTPTR(TYPE)
%typemap(in, numinputs=0) TYPE **OUTPTR (TYPE *tmp = NULL) { $1 = &tmp; }
%typemap(argout) TYPE **OUTPTR {
	$result = SWIG_Python_AppendOutput($result,
		SWIG_NewPointerObj(SWIG_as_voidptr(*$1), $*1_descriptor, 0));
}
%enddef
DMAPY_OUTPTR(struct dmap_ctx)
DMAPY_OUTPTR(struct dmap_dev)
DMAPY_OUTPTR(struct dmap_domain)
DMAPY_OUTPTR(struct dmapy_env)

/* A writable, contiguous Python buffer, held for the duration of the call. */
%typemap(in) (void *WBUF, size_t WLEN) (Py_buffer view, int got = 0) {
	if (PyObject_GetBuffer($input, &view, PyBUF_CONTIG) < 0)
		SWIG_fail;
	got = 1;
	$1 = view.buf;
	$2 = (size_t)view.len;
}
%typemap(freearg) (void *WBUF, size_t WLEN) {
	if (got$argnum)
		PyBuffer_Release(&view$argnum);
}
/* A read-only, contiguous Python buffer (bytes, bytearray, memoryview). */
%typemap(in) (const void *RBUF, size_t RLEN) (Py_buffer view, int got = 0) {
	if (PyObject_GetBuffer($input, &view, PyBUF_CONTIG_RO) < 0)
		SWIG_fail;
	got = 1;
	$1 = view.buf;
	$2 = (size_t)view.len;
}
%typemap(freearg) (const void *RBUF, size_t RLEN) {
	if (got$argnum)
		PyBuffer_Release(&view$argnum);
}

/* bool comes back as a Python bool. */
%typemap(out) bool { $result = PyBool_FromLong($1); }

/* ---- constants ----------------------------------------------------------- */

%constant uint64_t MAPPING_ERROR = DMAP_MAPPING_ERROR;
%constant int EPERM_ = DMAP_EPERM;
%constant int ENOENT_ = DMAP_ENOENT;
%constant int EIO_ = DMAP_EIO;
%constant int E2BIG_ = DMAP_E2BIG;
%constant int ENOMEM_ = DMAP_ENOMEM;
%constant int EFAULT_ = DMAP_EFAULT;
%constant int EBUSY_ = DMAP_EBUSY;
%constant int EEXIST_ = DMAP_EEXIST;
%constant int ENODEV_ = DMAP_ENODEV;
%constant int EINVAL_ = DMAP_EINVAL;
%constant int ENOSPC_ = DMAP_ENOSPC;
%constant int ERANGE_ = DMAP_ERANGE;
%constant int EOPNOTSUPP_ = DMAP_EOPNOTSUPP;

%constant int DIR_BIDIRECTIONAL = DMAP_BIDIRECTIONAL;
%constant int DIR_TO_DEVICE = DMAP_TO_DEVICE;
%constant int DIR_FROM_DEVICE = DMAP_FROM_DEVICE;
%constant int DIR_NONE = DMAP_NONE;

%constant unsigned long ATTR_WEAK_ORDERING = DMAP_ATTR_WEAK_ORDERING;
%constant unsigned long ATTR_WRITE_COMBINE = DMAP_ATTR_WRITE_COMBINE;
%constant unsigned long ATTR_NO_KERNEL_MAPPING = DMAP_ATTR_NO_KERNEL_MAPPING;
%constant unsigned long ATTR_SKIP_CPU_SYNC = DMAP_ATTR_SKIP_CPU_SYNC;
%constant unsigned long ATTR_FORCE_CONTIGUOUS = DMAP_ATTR_FORCE_CONTIGUOUS;
%constant unsigned long ATTR_ALLOC_SINGLE_PAGES = DMAP_ATTR_ALLOC_SINGLE_PAGES;
%constant unsigned long ATTR_NO_WARN = DMAP_ATTR_NO_WARN;
%constant unsigned long ATTR_PRIVILEGED = DMAP_ATTR_PRIVILEGED;
%constant unsigned long ATTR_MMIO = DMAP_ATTR_MMIO;

%constant unsigned int DEV_COHERENT = DMAP_DEV_COHERENT;
%constant unsigned int DEV_UNTRUSTED = DMAP_DEV_UNTRUSTED;
%constant int NAME_MAX = DMAP_NAME_MAX;

%constant unsigned int ACCESS_READ = DMAP_ACCESS_READ;
%constant unsigned int ACCESS_WRITE = DMAP_ACCESS_WRITE;
%constant unsigned int ACCESS_PRIV = DMAP_ACCESS_PRIV;
%constant unsigned int ACCESS_EXEC = DMAP_ACCESS_EXEC;

%constant int FAULT_TRANSLATION = DMAP_FAULT_TRANSLATION;
%constant int FAULT_ADDR_SIZE = DMAP_FAULT_ADDR_SIZE;
%constant int FAULT_ACCESS_FLAG = DMAP_FAULT_ACCESS_FLAG;
%constant int FAULT_PERMISSION = DMAP_FAULT_PERMISSION;
%constant int FAULT_BAD_CONFIG = DMAP_FAULT_BAD_CONFIG;
%constant int FAULT_NO_MEMORY = DMAP_FAULT_NO_MEMORY;
%constant int FAULT_NOT_ATTACHED = DMAP_FAULT_NOT_ATTACHED;
%constant int FAULT_RAW_NONE = DMAP_FAULT_RAW_NONE;
%constant int FAULT_RAW_SMMUV3_EVENT = DMAP_FAULT_RAW_SMMUV3_EVENT;
%constant int FAULT_RAW_VTD_FAULT = DMAP_FAULT_RAW_VTD_FAULT;

%constant int DEBUG_REPORT_COUNT = DMAP_DEBUG_REPORT_COUNT;

%constant int LOG_ERR = DMAP_LOG_ERR;
%constant int LOG_WARN = DMAP_LOG_WARN;
%constant int LOG_INFO = DMAP_LOG_INFO;
%constant int LOG_DEBUG = DMAP_LOG_DEBUG;

%constant unsigned int HOSTED_MEM_POOL = DMAP_HOSTED_MEM_POOL;

/* ---- the environment wrapper (log capture) -------------------------------- */

%{
#define DMAPY_LOG_RING 1024
#define DMAPY_MSG_LEN 320

/*
 * A hosted environment plus the ring its log goes to. dmap may log from any
 * thread and under its own locks, so the callback only copies under a mutex;
 * Python drains the ring when it wants to.
 */
struct dmapy_env {
	struct dmap_hosted *hosted;
	pthread_mutex_t lock;
	int echo_level; /* messages at or below this level also go to stderr; 0: none */
	unsigned int head; /* oldest message */
	unsigned int count;
	unsigned long long total;
	unsigned long long dropped;
	struct {
		int level;
		char text[DMAPY_MSG_LEN];
	} ring[DMAPY_LOG_RING];
};

/* Put an unsigned counter into a dict; 0 or -1 with a Python error set. */
static int dmapy_put(PyObject *dict, const char *key, unsigned long long value)
{
	PyObject *o = PyLong_FromUnsignedLongLong(value);
	int rc = o ? PyDict_SetItemString(dict, key, o) : -1;

	Py_XDECREF(o);
	return rc;
}
#define DMAPY_PUT(dict, s, field)                                                   \
	do {                                                                        \
		if (dmapy_put(dict, #field, (unsigned long long)(s).field) < 0) \
			goto fail;                                                  \
	} while (0)

/* The last warning seen on this thread, in case the environment's own record is empty. */
static __thread char dmapy_last_warning[DMAPY_MSG_LEN];

static void dmapy_log_cb(void *arg, enum dmap_log_level level, const char *message)
{
	struct dmapy_env *e = arg;
	unsigned int slot;

	if (level <= DMAP_LOG_WARN)
		snprintf(dmapy_last_warning, sizeof(dmapy_last_warning), "%s", message);
	pthread_mutex_lock(&e->lock);
	if (e->count == DMAPY_LOG_RING) {
		e->head = (e->head + 1) % DMAPY_LOG_RING;
		e->count--;
		e->dropped++;
	}
	slot = (e->head + e->count) % DMAPY_LOG_RING;
	e->ring[slot].level = (int)level;
	snprintf(e->ring[slot].text, DMAPY_MSG_LEN, "%s", message);
	e->count++;
	e->total++;
	if (e->echo_level > 0 && (int)level <= e->echo_level)
		fprintf(stderr, "%s\n", message);
	pthread_mutex_unlock(&e->lock);
}
%}

%inline %{
/* Create a hosted environment whose log is captured. Returns [rc, env]. */
int dmapy_env_create(int echo_level, bool non_coherent, struct dmapy_env **OUTPTR)
{
	struct dmap_hosted_config config = { 0 };
	struct dmapy_env *e;
	int rc;

	*OUTPTR = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -DMAP_ENOMEM;
	pthread_mutex_init(&e->lock, NULL);
	e->echo_level = echo_level;
	config.log = dmapy_log_cb;
	config.log_arg = e;
	config.stderr_level = DMAP_LOG_ERR;
	config.non_coherent = non_coherent;
	rc = dmap_hosted_create(&config, &e->hosted);
	if (rc) {
		pthread_mutex_destroy(&e->lock);
		free(e);
		return rc;
	}
	*OUTPTR = e;
	return 0;
}

/* Destroy the environment; every dmap object using it must be gone. */
void dmapy_env_destroy(struct dmapy_env *e)
{
	if (!e)
		return;
	dmap_hosted_destroy(e->hosted);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

void dmapy_env_set_echo(struct dmapy_env *e, int echo_level)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->echo_level = echo_level;
	pthread_mutex_unlock(&e->lock);
}

/* The captured messages as [(level, text), ...]; @clear empties the ring. */
PyObject *dmapy_env_log(struct dmapy_env *e, bool clear)
{
	PyObject *list;
	unsigned int i;

	if (!e) {
		PyErr_SetString(PyExc_ValueError, "NULL environment");
		return NULL;
	}
	list = PyList_New(0);
	if (!list)
		return NULL;
	pthread_mutex_lock(&e->lock);
	for (i = 0; i < e->count; i++) {
		unsigned int slot = (e->head + i) % DMAPY_LOG_RING;
		PyObject *item = Py_BuildValue("(is)", e->ring[slot].level, e->ring[slot].text);

		if (!item || PyList_Append(list, item) < 0) {
			Py_XDECREF(item);
			Py_DECREF(list);
			pthread_mutex_unlock(&e->lock);
			return NULL;
		}
		Py_DECREF(item);
	}
	if (clear) {
		e->head = 0;
		e->count = 0;
	}
	pthread_mutex_unlock(&e->lock);
	return list;
}

/* (messages ever logged, messages dropped from the ring). */
PyObject *dmapy_env_log_totals(struct dmapy_env *e)
{
	unsigned long long total, dropped;

	if (!e) {
		PyErr_SetString(PyExc_ValueError, "NULL environment");
		return NULL;
	}
	pthread_mutex_lock(&e->lock);
	total = e->total;
	dropped = e->dropped;
	pthread_mutex_unlock(&e->lock);
	return Py_BuildValue("(KK)", total, dropped);
}

/* The message to attach to an error: the environment's, else our own copy. */
const char *dmapy_last_message(void)
{
	const char *m = dmap_hosted_last_message();

	if (m && m[0])
		return m;
	return dmapy_last_warning;
}

void dmapy_clear_last_message(void)
{
	dmap_hosted_clear_last_message();
	dmapy_last_warning[0] = '\0';
}

const struct dmap_env *dmapy_env_env(struct dmapy_env *e)
{
	return e ? dmap_hosted_env(e->hosted) : NULL;
}

int dmapy_mem_add(struct dmapy_env *e, uint64_t base, uint64_t size, unsigned int flags)
{
	if (!e)
		return -DMAP_EINVAL;
	if (size > SIZE_MAX)
		return -DMAP_EINVAL;
	return dmap_hosted_mem_add(e->hosted, base, (size_t)size, flags, NULL);
}

int dmapy_mem_remove(struct dmapy_env *e, uint64_t base)
{
	if (!e)
		return -DMAP_EINVAL;
	return dmap_hosted_mem_remove(e->hosted, base);
}

/* CPU-side access to simulated physical memory (may span regions). */
int dmapy_phys_read(struct dmapy_env *e, uint64_t phys, void *WBUF, size_t WLEN)
{
	if (!e)
		return -DMAP_EINVAL;
	if (!WLEN)
		return 0;
	return dmap_phys_read(dmap_hosted_env(e->hosted), phys, WBUF, WLEN);
}

int dmapy_phys_write(struct dmapy_env *e, uint64_t phys, const void *RBUF, size_t RLEN)
{
	if (!e)
		return -DMAP_EINVAL;
	if (!RLEN)
		return 0;
	return dmap_phys_write(dmap_hosted_env(e->hosted), phys, RBUF, RLEN);
}

int dmapy_phys_fill(struct dmapy_env *e, uint64_t phys, int byte, uint64_t len)
{
	if (!e || len > SIZE_MAX)
		return -DMAP_EINVAL;
	if (!len)
		return 0;
	return dmap_phys_fill(dmap_hosted_env(e->hosted), phys, byte, (size_t)len);
}

/* Is [phys, phys+len) inside one registered region? */
bool dmapy_phys_present(struct dmapy_env *e, uint64_t phys, uint64_t len)
{
	if (!e || !len || len > SIZE_MAX)
		return false;
	return dmap_hosted_phys_ptr(e->hosted, phys, (size_t)len) != NULL;
}

PyObject *dmapy_env_counters(struct dmapy_env *e)
{
	struct dmap_hosted_counters c;
	int rc;

	if (!e) {
		PyErr_SetString(PyExc_ValueError, "NULL environment");
		return NULL;
	}
	memset(&c, 0, sizeof(c));
	rc = dmap_hosted_get_counters(e->hosted, &c);
	if (rc)
		return Py_BuildValue("(iO)", rc, Py_None);
	return Py_BuildValue("(i{s:(KKKKKKKK),s:K,s:K,s:K})", 0, "messages",
			     (unsigned long long)c.messages[0], (unsigned long long)c.messages[1],
			     (unsigned long long)c.messages[2], (unsigned long long)c.messages[3],
			     (unsigned long long)c.messages[4], (unsigned long long)c.messages[5],
			     (unsigned long long)c.messages[6], (unsigned long long)c.messages[7],
			     "cache_cleans", (unsigned long long)c.cache_cleans,
			     "cache_invalidates", (unsigned long long)c.cache_invalidates,
			     "pool_bytes_in_use", (unsigned long long)c.pool_bytes_in_use);
}
%}

/* ---- context ------------------------------------------------------------- */

%inline %{
int dmapy_ctx_create(struct dmapy_env *e, struct dmap_ctx **OUTPTR)
{
	*OUTPTR = NULL;
	if (!e)
		return -DMAP_EINVAL;
	return dmap_ctx_create(dmap_hosted_env(e->hosted), OUTPTR);
}
%}
int dmap_ctx_destroy(struct dmap_ctx *ctx);

/* ---- devices ------------------------------------------------------------- */

%inline %{
int dmapy_dev_create(struct dmap_ctx *ctx, const char *name, uint32_t stream_id,
		     uint64_t dma_mask, uint64_t coherent_dma_mask, uint64_t bus_dma_limit,
		     uint64_t max_seg_size, uint64_t seg_boundary_mask, uint64_t min_align_mask,
		     uint32_t flags, struct dmap_dev **OUTPTR)
{
	struct dmap_dev_info info = { 0 };

	*OUTPTR = NULL;
	if (max_seg_size > SIZE_MAX)
		return -DMAP_EINVAL;
	info.name = name;
	info.stream_id = stream_id;
	info.dma_mask = dma_mask;
	info.coherent_dma_mask = coherent_dma_mask;
	info.bus_dma_limit = bus_dma_limit;
	info.max_seg_size = (size_t)max_seg_size;
	info.seg_boundary_mask = seg_boundary_mask;
	info.min_align_mask = min_align_mask;
	info.flags = flags;
	return dmap_dev_create(ctx, &info, OUTPTR);
}

/* (rc, {field: value}) with defaults resolved. */
PyObject *dmapy_dev_info(struct dmap_dev *dev)
{
	struct dmap_dev_info info;
	int rc;

	memset(&info, 0, sizeof(info));
	rc = dmap_dev_get_info(dev, &info);
	if (rc)
		return Py_BuildValue("(iO)", rc, Py_None);
	return Py_BuildValue("(i{s:s,s:I,s:K,s:K,s:K,s:K,s:K,s:K,s:I})", 0,
			     "name", info.name ? info.name : "",
			     "stream_id", (unsigned int)info.stream_id,
			     "dma_mask", (unsigned long long)info.dma_mask,
			     "coherent_dma_mask", (unsigned long long)info.coherent_dma_mask,
			     "bus_dma_limit", (unsigned long long)info.bus_dma_limit,
			     "max_seg_size", (unsigned long long)info.max_seg_size,
			     "seg_boundary_mask", (unsigned long long)info.seg_boundary_mask,
			     "min_align_mask", (unsigned long long)info.min_align_mask,
			     "flags", (unsigned int)info.flags);
}

/* Is @dev attached to exactly @domain? (pointer identity without exposing pointers) */
bool dmapy_dev_attached_to(struct dmap_dev *dev, struct dmap_domain *domain)
{
	return dev && dmap_dev_domain(dev) == domain;
}

int dmapy_set_max_seg_size(struct dmap_dev *dev, uint64_t size)
{
	if (size > SIZE_MAX)
		return -DMAP_EINVAL;
	return dmap_set_max_seg_size(dev, (size_t)size);
}
%}

int dmap_dev_destroy(struct dmap_dev *dev);
int dmap_dev_attach(struct dmap_dev *dev, struct dmap_domain *domain);
int dmap_dev_detach(struct dmap_dev *dev);
int dmap_set_mask(struct dmap_dev *dev, uint64_t mask);
int dmap_set_coherent_mask(struct dmap_dev *dev, uint64_t mask);
int dmap_set_mask_and_coherent(struct dmap_dev *dev, uint64_t mask);
int dmap_set_seg_boundary(struct dmap_dev *dev, uint64_t mask);
int dmap_set_min_align_mask(struct dmap_dev *dev, uint64_t mask);
const char *dmap_dev_name(const struct dmap_dev *dev);

/* ---- domains ------------------------------------------------------------- */

%inline %{
int dmapy_identity_domain_create(struct dmap_ctx *ctx, const char *name, uint64_t bus_offset,
				 struct dmap_domain *fallback, bool force_fallback,
				 struct dmap_domain **OUTPTR)
{
	struct dmap_identity_config config = { 0 };

	*OUTPTR = NULL;
	config.name = name;
	config.bus_offset = bus_offset;
	config.fallback = fallback;
	config.force_fallback = force_fallback;
	return dmap_identity_domain_create(ctx, &config, OUTPTR);
}

PyObject *dmapy_domain_stats(struct dmap_domain *domain)
{
	struct dmap_domain_stats s;
	int rc;

	memset(&s, 0, sizeof(s));
	rc = dmap_domain_get_stats(domain, &s);
	if (rc)
		return Py_BuildValue("(iO)", rc, Py_None);
	return Py_BuildValue("(i{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K})", 0,
			     "maps", (unsigned long long)s.maps,
			     "unmaps", (unsigned long long)s.unmaps,
			     "sg_maps", (unsigned long long)s.sg_maps,
			     "sg_segments_merged", (unsigned long long)s.sg_segments_merged,
			     "bytes_mapped", (unsigned long long)s.bytes_mapped,
			     "syncs", (unsigned long long)s.syncs,
			     "coherent_allocs", (unsigned long long)s.coherent_allocs,
			     "map_errors", (unsigned long long)s.map_errors,
			     "invalid_args", (unsigned long long)s.invalid_args,
			     "fallback_maps", (unsigned long long)s.fallback_maps,
			     "faults", (unsigned long long)s.faults);
}

/* (rc, [count per report kind], live_mappings) */
PyObject *dmapy_debug_counts(struct dmap_domain *domain)
{
	struct dmap_debug_counts c;
	PyObject *reports;
	int rc, i;

	memset(&c, 0, sizeof(c));
	rc = dmap_debug_get_counts(domain, &c);
	if (rc)
		return Py_BuildValue("(iOO)", rc, Py_None, Py_None);
	reports = PyList_New(DMAP_DEBUG_REPORT_COUNT);
	if (!reports)
		return NULL;
	for (i = 0; i < DMAP_DEBUG_REPORT_COUNT; i++) {
		PyObject *n = PyLong_FromUnsignedLongLong(c.reports[i]);

		if (!n) {
			Py_DECREF(reports);
			return NULL;
		}
		PyList_SET_ITEM(reports, i, n);
	}
	return Py_BuildValue("(iNK)", 0, reports, (unsigned long long)c.live_mappings);
}

/*
 * The oldest fault, or None:
 * (sequence, device, stream_id, addr, access, reason, raw_format, raw bytes).
 * A negative int on error.
 */
PyObject *dmapy_fault_pop(struct dmap_domain *domain)
{
	struct dmap_fault f;
	uint32_t raw_len;
	int rc;

	memset(&f, 0, sizeof(f));
	rc = dmap_fault_pop(domain, &f);
	if (rc < 0)
		return PyLong_FromLong(rc);
	if (rc == 0)
		Py_RETURN_NONE;
	f.device[sizeof(f.device) - 1] = '\0';
	raw_len = f.raw_len <= DMAP_FAULT_RAW_MAX ? f.raw_len : DMAP_FAULT_RAW_MAX;
	return Py_BuildValue("(KsIKIiiy#)", (unsigned long long)f.sequence, f.device,
			     (unsigned int)f.stream_id, (unsigned long long)f.addr,
			     (unsigned int)f.access, (int)f.reason, (int)f.raw_format,
			     (const char *)f.raw, (Py_ssize_t)raw_len);
}

/* (rc, recorded, dropped) */
PyObject *dmapy_fault_counts(struct dmap_domain *domain)
{
	uint64_t recorded = 0, dropped = 0;
	int rc = dmap_fault_counts(domain, &recorded, &dropped);

	return Py_BuildValue("(iKK)", rc, (unsigned long long)recorded,
			     (unsigned long long)dropped);
}
%}

int dmap_domain_destroy(struct dmap_domain *domain);
const char *dmap_domain_name(const struct dmap_domain *domain);
const char *dmap_domain_backend(const struct dmap_domain *domain);
int dmap_domain_set_debug(struct dmap_domain *domain, bool enable);
int dmap_domain_set_counting(struct dmap_domain *domain, bool enable);
const char *dmap_fault_reason_name(int reason);
const char *dmap_debug_report_name(int report);

/* ---- driver side --------------------------------------------------------- */

%inline %{
/* dmap_map_single() on the CPU pointer of simulated RAM at @phys. */
uint64_t dmapy_map_single(struct dmapy_env *e, struct dmap_dev *dev, uint64_t phys,
			  uint64_t size, int dir, unsigned long attrs)
{
	void *va;

	if (!e || !size || size > SIZE_MAX)
		return DMAP_MAPPING_ERROR;
	va = dmap_hosted_phys_ptr(e->hosted, phys, 1);
	if (!va) {
		snprintf(dmapy_last_warning, sizeof(dmapy_last_warning),
			 "map_single: physical address 0x%llx is not simulated RAM",
			 (unsigned long long)phys);
		return DMAP_MAPPING_ERROR;
	}
	return dmap_map_single(dev, va, (size_t)size, (enum dmap_dir)dir, attrs);
}

uint64_t dmapy_map_phys(struct dmap_dev *dev, uint64_t phys, uint64_t size, int dir,
			unsigned long attrs)
{
	if (size > SIZE_MAX)
		return DMAP_MAPPING_ERROR;
	return dmap_map_phys(dev, phys, (size_t)size, (enum dmap_dir)dir, attrs);
}

int dmapy_unmap_phys(struct dmap_dev *dev, uint64_t addr, uint64_t size, int dir,
		     unsigned long attrs)
{
	if (size > SIZE_MAX)
		return -DMAP_EINVAL;
	return dmap_unmap_phys(dev, addr, (size_t)size, (enum dmap_dir)dir, attrs);
}

int dmapy_unmap_single(struct dmap_dev *dev, uint64_t addr, uint64_t size, int dir,
		       unsigned long attrs)
{
	if (size > SIZE_MAX)
		return -DMAP_EINVAL;
	return dmap_unmap_single(dev, addr, (size_t)size, (enum dmap_dir)dir, attrs);
}

int dmapy_sync(struct dmap_dev *dev, uint64_t addr, uint64_t size, int dir, bool for_cpu)
{
	if (size > SIZE_MAX)
		return -DMAP_EINVAL;
	if (for_cpu)
		return dmap_sync_single_for_cpu(dev, addr, (size_t)size, (enum dmap_dir)dir);
	return dmap_sync_single_for_device(dev, addr, (size_t)size, (enum dmap_dir)dir);
}

/* A scatter-gather list owned by Python (freed with dmapy_sg_free()). */
struct dmapy_sglist {
	int nents;
	struct dmap_sg *sg;
};

struct dmapy_sglist *dmapy_sg_new(int nents)
{
	struct dmapy_sglist *l;

	if (nents <= 0 || nents > (1 << 24))
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->sg = calloc((size_t)nents, sizeof(*l->sg));
	if (!l->sg) {
		free(l);
		return NULL;
	}
	l->nents = nents;
	return l;
}

void dmapy_sg_free(struct dmapy_sglist *l)
{
	if (!l)
		return;
	free(l->sg);
	free(l);
}

int dmapy_sg_set(struct dmapy_sglist *l, int i, uint64_t phys, uint64_t len)
{
	if (!l || i < 0 || i >= l->nents || len > SIZE_MAX)
		return -DMAP_EINVAL;
	l->sg[i].phys = phys;
	l->sg[i].len = (size_t)len;
	return 0;
}

/* [(phys, len, dma_addr, dma_len), ...] */
PyObject *dmapy_sg_get(struct dmapy_sglist *l)
{
	PyObject *list;
	int i;

	if (!l) {
		PyErr_SetString(PyExc_ValueError, "NULL sg list");
		return NULL;
	}
	list = PyList_New(l->nents);
	if (!list)
		return NULL;
	for (i = 0; i < l->nents; i++) {
		PyObject *t = Py_BuildValue("(KKKK)", (unsigned long long)l->sg[i].phys,
					    (unsigned long long)l->sg[i].len,
					    (unsigned long long)l->sg[i].dma_addr,
					    (unsigned long long)l->sg[i].dma_len);
		if (!t) {
			Py_DECREF(list);
			return NULL;
		}
		PyList_SET_ITEM(list, i, t);
	}
	return list;
}

int dmapy_map_sg(struct dmap_dev *dev, struct dmapy_sglist *l, int dir, unsigned long attrs)
{
	if (!l)
		return -DMAP_EINVAL;
	return dmap_map_sg(dev, l->sg, l->nents, (enum dmap_dir)dir, attrs);
}

int dmapy_unmap_sg(struct dmap_dev *dev, struct dmapy_sglist *l, int nents, int dir,
		   unsigned long attrs)
{
	if (!l || nents > l->nents)
		return -DMAP_EINVAL;
	return dmap_unmap_sg(dev, l->sg, nents, (enum dmap_dir)dir, attrs);
}

int dmapy_sync_sg(struct dmap_dev *dev, struct dmapy_sglist *l, int nents, int dir, bool for_cpu)
{
	if (!l || nents > l->nents)
		return -DMAP_EINVAL;
	if (for_cpu)
		return dmap_sync_sg_for_cpu(dev, l->sg, nents, (enum dmap_dir)dir);
	return dmap_sync_sg_for_device(dev, l->sg, nents, (enum dmap_dir)dir);
}

/* (cpu pointer as an int or 0, bus address) */
PyObject *dmapy_alloc_coherent(struct dmap_dev *dev, uint64_t size, unsigned long attrs)
{
	dmap_addr_t handle = DMAP_MAPPING_ERROR;
	void *cpu = NULL;

	if (size <= SIZE_MAX)
		cpu = dmap_alloc_coherent(dev, (size_t)size, &handle, attrs);
	return Py_BuildValue("(KK)", (unsigned long long)(uintptr_t)cpu,
			     (unsigned long long)handle);
}

int dmapy_free_coherent(struct dmap_dev *dev, uint64_t size, uint64_t cpu, uint64_t handle,
			unsigned long attrs)
{
	if (size > SIZE_MAX)
		return -DMAP_EINVAL;
	return dmap_free_coherent(dev, (size_t)size, (void *)(uintptr_t)cpu, handle, attrs);
}

/*
 * CPU access to a coherent buffer. The package only calls these with a live
 * allocation and an offset/length it has checked against the allocation.
 */
int dmapy_cpu_read(uint64_t cpu, uint64_t offset, void *WBUF, size_t WLEN)
{
	if (!cpu)
		return -DMAP_EINVAL;
	memcpy(WBUF, (const char *)(uintptr_t)cpu + offset, WLEN);
	return 0;
}

int dmapy_cpu_write(uint64_t cpu, uint64_t offset, const void *RBUF, size_t RLEN)
{
	if (!cpu)
		return -DMAP_EINVAL;
	memcpy((char *)(uintptr_t)cpu + offset, RBUF, RLEN);
	return 0;
}

/* (rc, physical address) of a CPU pointer, through the environment's virt_to_phys. */
PyObject *dmapy_virt_to_phys(struct dmapy_env *e, uint64_t cpu)
{
	const struct dmap_env *env;
	dmap_phys_t phys = 0;
	size_t contig = 0;
	int rc;

	if (!e)
		return Py_BuildValue("(iK)", -DMAP_EINVAL, 0ULL);
	env = dmap_hosted_env(e->hosted);
	rc = env->ops->virt_to_phys(env->cookie, (const void *)(uintptr_t)cpu, &phys, &contig);
	return Py_BuildValue("(iK)", rc, (unsigned long long)phys);
}

uint64_t dmapy_max_mapping_size(struct dmap_dev *dev)
{
	return (uint64_t)dmap_max_mapping_size(dev);
}

uint64_t dmapy_size_max(void)
{
	return (uint64_t)SIZE_MAX;
}

/* ---- device side ---------------------------------------------------------- */

/* (rc, phys, len, perm) */
PyObject *dmapy_translate(struct dmap_dev *dev, uint64_t addr, unsigned int access)
{
	struct dmap_translation t;
	int rc;

	memset(&t, 0, sizeof(t));
	rc = dmap_translate(dev, addr, access, &t);
	return Py_BuildValue("(iKKI)", rc, (unsigned long long)t.phys, (unsigned long long)t.len,
			     t.perm);
}
%}

bool dmap_addressing_limited(struct dmap_dev *dev);
int dmap_mapping_error(struct dmap_dev *dev, dmap_addr_t addr);
int dmap_dev_read(struct dmap_dev *dev, dmap_addr_t addr, void *WBUF, size_t WLEN);
int dmap_dev_write(struct dmap_dev *dev, dmap_addr_t addr, const void *RBUF, size_t RLEN);

/* ---- optional backends ---------------------------------------------------- */

#ifdef DMAP_PY_HAVE_BOUNCE
%include "dmap_bounce.i"
#endif
#ifdef DMAP_PY_HAVE_IOMMU
%include "dmap_iommu.i"
#endif
#ifdef DMAP_PY_HAVE_XEN
%include "dmap_xen.i"
#endif
