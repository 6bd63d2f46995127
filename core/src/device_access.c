// SPDX-License-Identifier: MIT
/*
 * core/src/device_access.c - the device side: what a device (an emulated
 * one, a hypervisor's, a vhost-user backend's) reaches at a bus address.
 *
 * Design: the driver side hands out bus addresses; this side closes the
 * loop by walking them back to memory exactly as the device's translation
 * hardware would, with that hardware's permission checks, so tests and
 * emulators observe the same faults a real SMMU or VT-d unit would raise.
 *
 * A transfer is split into chunks at every translation boundary: the
 * backend's translate reports how many bytes from the address stay
 * physically contiguous with the same permissions, the chunk is copied with
 * the environment's phys_to_virt, and the walk continues. The whole chunk
 * (translate + copy) runs inside one RCU read section so neither the
 * translation (an IOTLB entry, a P2M page) nor the host memory behind the
 * physical address can be freed under the copy.
 *
 * Faults: the backend fills only what it knows (the reason and, for
 * hardware-modelling backends, the raw event record); the core completes
 * the record with the device's name, stream id, the failing address and the
 * access, pushes it into the domain's lock-free fault ring (which never
 * blocks the faulting device) and logs it, rate limited. The core's own
 * checks add two reasons: a translation whose permissions do not cover the
 * access (PERMISSION) and a physical address with no RAM behind it
 * (NO_MEMORY, a bus error). As on hardware, bytes before the failing chunk
 * have been transferred.
 */
#include "internal.h"

static struct dmap_ratelimit dmap_fault_ratelimit = DMAP_RATELIMIT_DEFAULT;

static const char *dmap_access_name(unsigned int access)
{
	if ((access & (DMAP_ACCESS_READ | DMAP_ACCESS_WRITE)) ==
	    (DMAP_ACCESS_READ | DMAP_ACCESS_WRITE))
		return "read-write";
	if (access & DMAP_ACCESS_WRITE)
		return "write";
	if (access & DMAP_ACCESS_EXEC)
		return "exec";
	return "read";
}

/*
 * dmap_fault_draft_init() - what a translate hook may fill on a fault (see
 * <dmap/ops.h>): clearing these three fields instead of the whole 100-byte
 * record keeps the translation hit path cheap; dmap_fault_record() builds the
 * complete record only when a fault really happens.
 */
static inline void dmap_fault_draft_init(struct dmap_fault *draft)
{
	draft->reason = 0;
	draft->raw_format = DMAP_FAULT_RAW_NONE;
	draft->raw_len = 0;
}

void dmap_fault_record(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
		       unsigned int access, const struct dmap_fault *draft)
{
	struct dmap_fault fault;

	dmap_memset(&fault, 0, sizeof(fault));
	fault.reason = draft->reason ? draft->reason : DMAP_FAULT_TRANSLATION;
	fault.raw_format = draft->raw_format;
	fault.raw_len = dmap_min(draft->raw_len, (uint32_t)DMAP_FAULT_RAW_MAX);
	dmap_memcpy(fault.raw, draft->raw, fault.raw_len);
	dmap_strlcpy(fault.device, dev->name, sizeof(fault.device));
	fault.stream_id = dev->stream_id;
	fault.addr = addr;
	fault.access = access;
	dmap_domain_count(dom, faults, 1);
	dmap_fault_ring_push(dom->faults, &fault);
	if (dmap_ratelimit_ok(dom->env, &dmap_fault_ratelimit))
		dmap_log(dom->env, DMAP_LOG_WARN,
			 "dmap: %s: %s fault at bus address 0x%llx (stream 0x%x, domain '%s'): %s",
			 dev->name, dmap_access_name(access), (unsigned long long)addr,
			 dev->stream_id, dom->name, dmap_fault_reason_name(fault.reason));
}

#define DMAP_ACCESS_ALL (DMAP_ACCESS_READ | DMAP_ACCESS_WRITE | DMAP_ACCESS_PRIV | DMAP_ACCESS_EXEC)

/*
 * Translate under the caller's RCU read lock and check that the permissions
 * cover the access. On a fault, @fault is filled (reason, raw) but not yet
 * recorded.
 */
static int dmap_translate_locked(struct dmap_domain *dom, struct dmap_dev *dev, dmap_addr_t addr,
				 unsigned int access, struct dmap_translation *out,
				 struct dmap_fault *fault)
{
	unsigned int needed = access & (DMAP_ACCESS_READ | DMAP_ACCESS_WRITE);
	int ret;

	ret = dom->ops->translate(dom, dev, addr, access, out, fault);
	if (ret)
		return ret;
	if ((out->perm & needed) != needed) {
		fault->reason = DMAP_FAULT_PERMISSION;
		return -DMAP_EFAULT;
	}
	if (!out->len)
		out->len = 1;
	return 0;
}

/* Common argument checks of the device-side calls; returns the domain or NULL with *@err. */
static struct dmap_domain *dmap_device_side_domain(struct dmap_dev *dev, const char *call,
						   dmap_addr_t addr, size_t len, int *err)
{
	struct dmap_domain *dom = dmap_load_acquire(&dev->domain);

	if (!len || addr + (len - 1) < addr) {
		dmap_invalid_arg(dev, dom, "%s: bus address 0x%llx length 0x%zx: %s", call,
				 (unsigned long long)addr, len,
				 !len ? "length 0" : "wraps past the end of the address space");
		*err = -DMAP_EINVAL;
		return NULL;
	}
	if (!dom) {
		dmap_log(dmap_dev_env(dev), DMAP_LOG_WARN,
			 "dmap: %s: %s: device is not attached to a domain (bus address 0x%llx)",
			 dev->name, call, (unsigned long long)addr);
		*err = -DMAP_ENODEV;
		return NULL;
	}
	return dom;
}

/**
 * dmap_translate() - see <dmap/dmap.h>. Context: any; never sleeps.
 * Errors: -EINVAL (NULL, access without READ/WRITE or with unknown bits),
 * -ENODEV, -EFAULT (recorded in the fault log), other backend errors.
 */
int dmap_translate(struct dmap_dev *dev, dmap_addr_t addr, unsigned int access,
		   struct dmap_translation *out)
{
	struct dmap_fault fault;
	struct dmap_domain *dom;
	int ret;

	if (!dev)
		return -DMAP_EINVAL;
	if (!out || !(access & (DMAP_ACCESS_READ | DMAP_ACCESS_WRITE)) ||
	    (access & ~DMAP_ACCESS_ALL)) {
		dmap_invalid_arg(dev, dmap_load_acquire(&dev->domain),
				 "translate: %s (bus address 0x%llx, access 0x%x)",
				 !out ? "NULL result" : "access must be READ and/or WRITE only",
				 (unsigned long long)addr, access);
		return -DMAP_EINVAL;
	}
	dom = dmap_device_side_domain(dev, "translate", addr, 1, &ret);
	if (!dom)
		return ret;
	dmap_fault_draft_init(&fault);
	dmap_rcu_read_lock();
	ret = dmap_translate_locked(dom, dev, addr, access, out, &fault);
	dmap_rcu_read_unlock();
	if (ret == -DMAP_EFAULT)
		dmap_fault_record(dom, dev, addr, access, &fault);
	return ret;
}

static int dmap_dev_access(struct dmap_dev *dev, dmap_addr_t addr, void *buf, size_t len,
			   bool write)
{
	const char *call = write ? "dev_write" : "dev_read";
	unsigned int access = write ? DMAP_ACCESS_WRITE : DMAP_ACCESS_READ;
	struct dmap_domain *dom;
	int ret = 0;

	if (!dev)
		return -DMAP_EINVAL;
	if (!buf) {
		dmap_invalid_arg(dev, dmap_load_acquire(&dev->domain),
				 "%s: NULL buffer (bus address 0x%llx length 0x%zx)", call,
				 (unsigned long long)addr, len);
		return -DMAP_EINVAL;
	}
	dom = dmap_device_side_domain(dev, call, addr, len, &ret);
	if (!dom)
		return ret;
	while (len) {
		struct dmap_translation t = { 0 };
		struct dmap_fault fault;
		dmap_addr_t fault_addr = addr;
		size_t n = 0, done;

		dmap_fault_draft_init(&fault);
		dmap_rcu_read_lock();
		ret = dmap_translate_locked(dom, dev, addr, access, &t, &fault);
		if (!ret) {
			n = dmap_min(len, t.len);
			done = dmap_phys_transfer(dom->env, t.phys, buf, n, write);
			if (done < n) {
				fault.reason = DMAP_FAULT_NO_MEMORY;
				fault_addr = addr + done;
				ret = -DMAP_EFAULT;
			}
		}
		dmap_rcu_read_unlock();
		if (ret) {
			if (ret == -DMAP_EFAULT)
				dmap_fault_record(dom, dev, fault_addr, access, &fault);
			return ret;
		}
		addr += n;
		buf = (char *)buf + n;
		len -= n;
	}
	return 0;
}

/**
 * dmap_dev_read() - see <dmap/dmap.h>. Context: any; never sleeps.
 */
int dmap_dev_read(struct dmap_dev *dev, dmap_addr_t addr, void *buf, size_t len)
{
	return dmap_dev_access(dev, addr, buf, len, false);
}

int dmap_dev_write(struct dmap_dev *dev, dmap_addr_t addr, const void *buf, size_t len)
{
	return dmap_dev_access(dev, addr, (void *)buf, len, true);
}

/**
 * dmap_fault_pop() - see <dmap/fault.h>. Context: any; never blocks.
 */
int dmap_fault_pop(struct dmap_domain *domain, struct dmap_fault *out)
{
	if (!domain || !out || !domain->faults)
		return -DMAP_EINVAL;
	return dmap_fault_ring_pop(domain->faults, out);
}

int dmap_fault_counts(const struct dmap_domain *domain, uint64_t *recorded, uint64_t *dropped)
{
	if (!domain || !domain->faults)
		return -DMAP_EINVAL;
	dmap_fault_ring_counts(domain->faults, recorded, dropped);
	return 0;
}
