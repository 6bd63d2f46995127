// SPDX-License-Identifier: MIT
/*
 * tests/core/test_faults.c - the device side (dmap_dev_read/write,
 * dmap_translate) through identity, the faults it records, and the fault
 * ring itself: overflow (drop newest, counted, never blocking) and
 * concurrent producers with no lost or duplicated sequence numbers.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <dmap/dmap.h>
#include <dmap/identity.h>
#include <dmap/hosted.h>

#include "internal.h"
#include "test_env.h"
#include "test_backend.h"

#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (1u << 20)

static struct dmap_test_env t;
static struct dmap_domain *id;
static struct dmap_dev *dev;

static void setup(void)
{
	dmap_test_env_init(&t, RAM_BASE, RAM_SIZE, false);
	cr_assert_eq(dmap_identity_domain_create(t.ctx, NULL, &id), 0);
	dev = dmap_test_dev(&t, "virtio-net0", 0);
	cr_assert_eq(dmap_dev_attach(dev, id), 0);
}

static void teardown(void)
{
	dmap_dev_destroy(dev);
	dmap_domain_destroy(id);
	dmap_test_env_fini(&t);
}

TestSuite(devaccess, .init = setup, .fini = teardown);

Test(devaccess, write_then_read)
{
	char in[5000], out[5000];
	dmap_addr_t a;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (char)(i * 7);
	a = dmap_map_phys(dev, RAM_BASE + 0x1234, sizeof(in), DMAP_BIDIRECTIONAL, 0);
	cr_assert_eq(dmap_dev_write(dev, a, in, sizeof(in)), 0);
	cr_assert_eq(memcmp(dmap_test_ram(&t, RAM_BASE + 0x1234), in, sizeof(in)), 0);
	cr_assert_eq(dmap_dev_read(dev, a, out, sizeof(out)), 0);
	cr_assert_eq(memcmp(in, out, sizeof(in)), 0);
	uint64_t recorded;
	dmap_fault_counts(id, &recorded, NULL);
	cr_assert_eq(recorded, 0);
}

/* A transfer spanning two adjacent RAM regions is split at the region edge. */
Test(devaccess, spans_regions)
{
	void *host2;
	char in[256], out[256];

	cr_assert_eq(dmap_hosted_mem_add(t.hosted, RAM_BASE + RAM_SIZE, 4096, 0, &host2), 0);
	memset(in, 0x5c, sizeof(in));
	cr_assert_eq(dmap_dev_write(dev, RAM_BASE + RAM_SIZE - 128, in, 256), 0);
	cr_assert_eq(((unsigned char *)host2)[127], 0x5c);
	cr_assert_eq(((unsigned char *)host2)[128], 0);
	cr_assert_eq(dmap_dev_read(dev, RAM_BASE + RAM_SIZE - 128, out, 256), 0);
	cr_assert_eq(memcmp(in, out, 256), 0);
}

Test(devaccess, argument_errors)
{
	char buf[4];
	struct dmap_translation tr;

	cr_assert_eq(dmap_dev_read(NULL, RAM_BASE, buf, 4), -DMAP_EINVAL);
	cr_assert_eq(dmap_dev_read(dev, RAM_BASE, NULL, 4), -DMAP_EINVAL);
	cr_assert_eq(dmap_dev_read(dev, RAM_BASE, buf, 0), -DMAP_EINVAL);
	cr_assert_eq(dmap_dev_write(dev, ~0ULL - 1, buf, 4), -DMAP_EINVAL);
	cr_assert_eq(dmap_dev_write(NULL, RAM_BASE, buf, 4), -DMAP_EINVAL);
	cr_assert_eq(dmap_translate(NULL, RAM_BASE, DMAP_ACCESS_READ, &tr), -DMAP_EINVAL);
	cr_assert_eq(dmap_translate(dev, RAM_BASE, DMAP_ACCESS_READ, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_translate(dev, RAM_BASE, 0, &tr), -DMAP_EINVAL);
	cr_assert_eq(dmap_translate(dev, RAM_BASE, DMAP_ACCESS_PRIV, &tr), -DMAP_EINVAL);
	cr_assert_eq(dmap_translate(dev, RAM_BASE, DMAP_ACCESS_READ | 0x100, &tr), -DMAP_EINVAL);
	cr_assert_eq(dmap_fault_pop(NULL, NULL), -DMAP_EINVAL);
	cr_assert_eq(dmap_fault_counts(NULL, NULL, NULL), -DMAP_EINVAL);
	uint64_t recorded;
	dmap_fault_counts(id, &recorded, NULL);
	cr_assert_eq(recorded, 0, "argument errors are not faults");
}

Test(devaccess, fault_above_mask_is_addr_size)
{
	char buf[16];
	struct dmap_fault f;
	struct dmap_translation tr;

	dmap_test_log_clear(&t);
	cr_assert_eq(dmap_dev_read(dev, 0x100000000ULL, buf, 16), -DMAP_EFAULT);
	cr_assert(dmap_test_log_has(&t, "virtio-net0", "0x100000000", "address-size", NULL));
	cr_assert_eq(dmap_fault_pop(id, &f), 1);
	cr_assert_eq(f.sequence, 0);
	cr_assert_str_eq(f.device, "virtio-net0");
	cr_assert_eq(f.addr, 0x100000000ULL);
	cr_assert_eq(f.access, DMAP_ACCESS_READ);
	cr_assert_eq(f.reason, DMAP_FAULT_ADDR_SIZE);
	cr_assert_eq(f.raw_format, DMAP_FAULT_RAW_NONE);
	cr_assert_eq(dmap_fault_pop(id, &f), 0);
	cr_assert_eq(dmap_translate(dev, 0x1ffffffffULL, DMAP_ACCESS_WRITE, &tr), -DMAP_EFAULT);
	cr_assert_eq(dmap_fault_pop(id, &f), 1);
	cr_assert_eq(f.sequence, 1);
	cr_assert_eq(f.access, DMAP_ACCESS_WRITE);
	struct dmap_domain_stats s;
	dmap_domain_get_stats(id, &s);
	cr_assert_eq(s.faults, 2);
}

Test(devaccess, fault_outside_ram_is_no_memory)
{
	char buf[64] = "x";
	struct dmap_fault f;

	cr_assert_eq(dmap_dev_write(dev, 0x1000, buf, 64), -DMAP_EFAULT);
	cr_assert_eq(dmap_fault_pop(id, &f), 1);
	cr_assert_eq(f.reason, DMAP_FAULT_NO_MEMORY);
	cr_assert_eq(f.addr, 0x1000);
	cr_assert_eq(f.access, DMAP_ACCESS_WRITE);
	cr_assert_str_eq(f.device, "virtio-net0");
}

/* Running off the end of RAM: bytes before the hole arrive, the fault names the hole. */
Test(devaccess, partial_transfer_faults_at_the_hole)
{
	char in[256], out[256];
	struct dmap_fault f;
	dmap_addr_t start = RAM_BASE + RAM_SIZE - 100;

	memset(in, 0x11, sizeof(in));
	cr_assert_eq(dmap_dev_write(dev, start, in, 256), -DMAP_EFAULT);
	cr_assert_eq(((unsigned char *)dmap_test_ram(&t, RAM_BASE + RAM_SIZE - 1))[0], 0x11);
	cr_assert_eq(dmap_fault_pop(id, &f), 1);
	cr_assert_eq(f.reason, DMAP_FAULT_NO_MEMORY);
	cr_assert_eq(f.addr, RAM_BASE + RAM_SIZE);
	memset(out, 0, sizeof(out));
	cr_assert_eq(dmap_dev_read(dev, start, out, 256), -DMAP_EFAULT);
	cr_assert_eq(out[99], 0x11);
	cr_assert_eq(out[100], 0);
}

/* Permissions are enforced by the core too: a read-only translation refuses a write. */
Test(devaccess, permission_fault)
{
	struct tb *ro = tb_create(t.ctx, "ro", false);
	struct dmap_dev *d = dmap_test_dev(&t, "ro0", 0);
	struct dmap_fault f;
	char buf[8] = "data";
	dmap_addr_t a;

	ro->perm = DMAP_ACCESS_READ;
	ro->offset = 0x1000000000ULL;
	dmap_dev_attach(d, &ro->dom);
	a = dmap_map_phys(d, RAM_BASE, 4096, DMAP_TO_DEVICE, 0);
	cr_assert_eq(dmap_dev_read(d, a, buf, 8), 0);
	cr_assert_eq(dmap_dev_write(d, a + 8, buf, 8), -DMAP_EFAULT);
	cr_assert_eq(dmap_fault_pop(&ro->dom, &f), 1);
	cr_assert_eq(f.reason, DMAP_FAULT_PERMISSION);
	cr_assert_eq(f.addr, a + 8);
	/* translation faults from the backend carry its reason */
	cr_assert_eq(dmap_dev_read(d, a + 8192, buf, 8), -DMAP_EFAULT);
	cr_assert_eq(dmap_fault_pop(&ro->dom, &f), 1);
	cr_assert_eq(f.reason, DMAP_FAULT_TRANSLATION);
	cr_assert_eq(f.stream_id, 0);
	dmap_dev_destroy(d);
	dmap_domain_destroy(&ro->dom);
}

Test(devaccess, ring_overflow_drops_newest)
{
	struct dmap_fault f;
	uint64_t recorded, dropped;
	int popped = 0;
	char buf[1];

	for (int i = 0; i < DMAP_FAULT_RING_DEFAULT_CAPACITY + 100; i++)
		cr_assert_eq(dmap_dev_read(dev, 0x100000000ULL + i, buf, 1), -DMAP_EFAULT);
	cr_assert_eq(dmap_fault_counts(id, &recorded, &dropped), 0);
	cr_assert_eq(recorded, DMAP_FAULT_RING_DEFAULT_CAPACITY + 100);
	cr_assert_eq(dropped, 100);
	while (dmap_fault_pop(id, &f) == 1) {
		cr_assert_eq(f.sequence, (uint64_t)popped, "oldest kept, newest dropped");
		cr_assert_eq(f.addr, 0x100000000ULL + popped);
		popped++;
	}
	cr_assert_eq(popped, DMAP_FAULT_RING_DEFAULT_CAPACITY);
	/* after draining there is room again; the gap in sequence numbers shows the drops */
	cr_assert_eq(dmap_dev_read(dev, 0x200000000ULL, buf, 1), -DMAP_EFAULT);
	cr_assert_eq(dmap_fault_pop(id, &f), 1);
	cr_assert_eq(f.sequence, DMAP_FAULT_RING_DEFAULT_CAPACITY + 100);
	/* the log line is rate limited, not one per fault */
	cr_assert_lt(dmap_test_log_count(&t, "address-size"), 20);
}

TestSuite(ring);

struct producer_arg {
	struct dmap_fault_ring *ring;
	int id;
	int count;
};

static void *producer(void *p)
{
	struct producer_arg *a = p;

	for (int i = 0; i < a->count; i++) {
		struct dmap_fault f = { .addr = ((uint64_t)a->id << 32) | (uint64_t)i,
					.reason = DMAP_FAULT_TRANSLATION };

		dmap_fault_ring_push(a->ring, &f);
	}
	return NULL;
}

struct consumer_arg {
	struct dmap_fault_ring *ring;
	volatile int *stop;
	uint8_t *seen_seq;
	uint64_t total;
	int *last_index; /* per producer: the last i seen, for order within a producer */
	long popped;
	bool order_ok;
};

static void *consumer(void *p)
{
	struct consumer_arg *c = p;
	struct dmap_fault f;

	for (;;) {
		int stop = __atomic_load_n(c->stop, __ATOMIC_ACQUIRE);
		int got = dmap_fault_ring_pop(c->ring, &f);

		if (got == 1) {
			int prod = (int)(f.addr >> 32), idx = (int)(uint32_t)f.addr;

			if (f.sequence >= c->total || c->seen_seq[f.sequence]++)
				c->order_ok = false; /* out of range or duplicated */
			if (idx <= c->last_index[prod])
				c->order_ok = false; /* a producer's own faults stay in order */
			c->last_index[prod] = idx;
			c->popped++;
		} else if (stop) {
			break;
		}
	}
	return NULL;
}

static void run_concurrent(int producers, int per_producer, unsigned int capacity)
{
	struct dmap_test_env e;
	struct dmap_fault_ring *ring;
	pthread_t threads[8], cthread;
	struct producer_arg pa[8];
	int last_index[8];
	volatile int stop = 0;
	uint64_t total = (uint64_t)producers * per_producer, recorded, dropped;

	dmap_test_env_init(&e, 0, 0, false);
	ring = dmap_fault_ring_create(e.env, capacity);
	cr_assert_not_null(ring);
	for (int i = 0; i < 8; i++)
		last_index[i] = -1;
	struct consumer_arg ca = { .ring = ring,
				   .stop = &stop,
				   .seen_seq = calloc(total, 1),
				   .total = total,
				   .last_index = last_index,
				   .order_ok = true };
	pthread_create(&cthread, NULL, consumer, &ca);
	for (int i = 0; i < producers; i++) {
		pa[i] = (struct producer_arg){ ring, i, per_producer };
		pthread_create(&threads[i], NULL, producer, &pa[i]);
	}
	for (int i = 0; i < producers; i++)
		pthread_join(threads[i], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(cthread, NULL);
	dmap_fault_ring_counts(ring, &recorded, &dropped);
	cr_assert_eq(recorded, total);
	cr_assert(ca.order_ok, "no duplicated or out-of-range sequence, per-producer order kept");
	cr_assert_eq((uint64_t)ca.popped + dropped, total,
		     "popped %ld + dropped %llu != %llu: lost records", ca.popped,
		     (unsigned long long)dropped, (unsigned long long)total);
	long seen = 0;
	for (uint64_t s = 0; s < total; s++)
		seen += ca.seen_seq[s];
	cr_assert_eq(seen, ca.popped);
	free(ca.seen_seq);
	dmap_fault_ring_destroy(e.env, ring);
	dmap_test_env_fini(&e);
}

Test(ring, concurrent_producers_no_loss_no_duplicates)
{
	run_concurrent(2, 20000, 256);
	run_concurrent(4, 10000, 64);
}

/* A tiny ring under 4 producers drops plenty; every drop is accounted for. */
Test(ring, concurrent_overflow_accounted)
{
	run_concurrent(4, 5000, 4);
}

Test(ring, capacity_rounding_and_limits)
{
	struct dmap_test_env e;
	struct dmap_fault_ring *ring;
	struct dmap_fault f = { 0 };

	dmap_test_env_init(&e, 0, 0, false);
	cr_assert_null(dmap_fault_ring_create(e.env, 0));
	ring = dmap_fault_ring_create(e.env, 5);
	cr_assert_eq(dmap_fault_ring_capacity(ring), 8);
	for (int i = 0; i < 20; i++)
		dmap_fault_ring_push(ring, &f);
	uint64_t recorded, dropped;
	dmap_fault_ring_counts(ring, &recorded, &dropped);
	cr_assert_eq(recorded, 20);
	cr_assert_eq(dropped, 12);
	/* interleaved push/pop wraps around many laps */
	while (dmap_fault_ring_pop(ring, &f) == 1)
		;
	for (int i = 0; i < 1000; i++) {
		dmap_fault_ring_push(ring, &f);
		cr_assert_eq(dmap_fault_ring_pop(ring, &f), 1);
		cr_assert_eq(f.sequence, 20 + (uint64_t)i);
	}
	cr_assert_eq(dmap_fault_ring_pop(ring, &f), 0);
	dmap_fault_ring_destroy(e.env, ring);
	dmap_test_env_fini(&e);
}

/* Device-side faults from several threads at once through the public API. */
struct reader_arg {
	struct dmap_dev *dev;
	int count;
};

static void *faulting_reader(void *p)
{
	struct reader_arg *a = p;
	char b;

	for (int i = 0; i < a->count; i++)
		dmap_dev_read(a->dev, 0x300000000ULL + (uint64_t)i, &b, 1);
	return NULL;
}

Test(devaccess, concurrent_faults_counted)
{
	pthread_t th[3];
	struct reader_arg ra = { dev, 2000 };
	uint64_t recorded, dropped;
	struct dmap_fault f;
	long popped = 0;

	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, faulting_reader, &ra);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	dmap_fault_counts(id, &recorded, &dropped);
	cr_assert_eq(recorded, 6000);
	while (dmap_fault_pop(id, &f) == 1)
		popped++;
	cr_assert_eq((uint64_t)popped + dropped, 6000);
	struct dmap_domain_stats s;
	dmap_domain_get_stats(id, &s);
	cr_assert_eq(s.faults, 6000);
}
