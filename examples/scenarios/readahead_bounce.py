#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""readahead_bounce: a 480 KiB read-ahead meets a bounce pool with Linux's limits.

A virtio-blk style device has no IOMMU and a 32-bit DMA mask; the page cache
lives above 4 GiB, so every buffer is bounced through a 64 MiB pool below
4 GiB (swiotlb behind dma-direct: an identity domain falling back to a bounce
domain). Read-ahead issues one 480 KiB request.

 1. With Linux-like limits (one mapping at most 256 KiB: 128 slots of 2 KiB)
    the request fails cleanly: a MappingError naming the pool and its usage,
    no abort, and nothing else disturbed (an in-flight request completes, the
    pool is exactly as full as before).
 2. A consumer that asks dmap_max_mapping_size() first and caps its segments
    (what virtio_max_dma_size() taught the block layer) succeeds.
 3. With dmap's defaults (1 MiB max mapping) the request succeeds outright.
"""

from _scenario import (Result, dmap, expect, expect_raises, kib, require, say, scenario_main,
                       step)

LOW_RAM = 0x4000_0000      # below 4 GiB: where the bounce pool is carved from
PAGE_CACHE = 0x1_0000_0000  # above 4 GiB: the read-ahead buffer
READ_AHEAD = 480 << 10
POOL = 64 << 20


def disk_data(offset, length):
    """What the disk returns for [offset, offset+length): a recognisable pattern."""
    pattern = bytes((i * 7 + 3) & 0xFF for i in range(4096))
    start = offset % 4096
    reps = (start + length) // 4096 + 1
    return (pattern * reps)[start:start + length]


def setup(ctx, **bounce_settings):
    pool = ctx.bounce_domain("swiotlb", pool_size=POOL, **bounce_settings)
    direct = ctx.identity_domain("dma-direct", fallback=pool)
    vda = ctx.device("virtio-blk0")  # default 32-bit mask, no IOMMU
    vda.attach(direct)
    return pool, direct, vda


def device_reads_disk(dev, segments, disk_offset=0):
    """The device DMA-writes disk data into the bus segments it was given."""
    for addr, length in segments:
        dev.dma_write(addr, disk_data(disk_offset, length))
        disk_offset += length


def run():
    require("bounce")
    figures = {}
    with dmap.Context() as ctx:
        ctx.add_ram(LOW_RAM, 128 << 20, pool=True)
        ctx.add_ram(PAGE_CACHE, 16 << 20)

        step("1. Linux-like limits: 64 MiB pool, 256 KiB per mapping")
        pool, direct, vda = setup(ctx, max_mapping_size=256 << 10)
        cap = vda.max_mapping_size
        say("   max_mapping_size(%s) = %s" % (vda.name, kib(cap)))
        expect(cap == 256 << 10, "the cap is queryable before mapping")
        expect(vda.addressing_limited, "the 32-bit device cannot reach the page cache")

        # an unrelated request already in flight
        inflight = vda.map(PAGE_CACHE + (8 << 20), 64 << 10, dmap.Dir.FROM_DEVICE)
        before = pool.bounce_stats()
        err = expect_raises(dmap.MappingError,
                            lambda: vda.map(PAGE_CACHE, READ_AHEAD, dmap.Dir.FROM_DEVICE),
                            "map a %s read-ahead buffer" % kib(READ_AHEAD))
        expect("swiotlb" in err.message, "the message names the pool")
        expect(err.errno == -12, "errno is -ENOMEM, as dma_mapping_error() says")
        after = pool.bounce_stats()
        expect(after.slots_in_use == before.slots_in_use, "pool occupancy unchanged (%d slots)"
               % after.slots_in_use)
        expect((after - before).failed_too_big == 1, "counted as failed_too_big")
        device_reads_disk(vda, [(inflight.dma_addr, inflight.size)], 1 << 20)
        inflight.unmap()
        expect(ctx.env.read(PAGE_CACHE + (8 << 20), 64 << 10) == disk_data(1 << 20, 64 << 10),
               "the in-flight request completed intact")
        figures["linux-like"] = "480 KiB refused"

        step("2. the block layer caps its segments at max_mapping_size")
        segments = []
        offset = 0
        while offset < READ_AHEAD:
            n = min(cap, READ_AHEAD - offset)
            segments.append((PAGE_CACHE + offset, n))
            offset += n
        say("   %s split into %s" % (kib(READ_AHEAD), ", ".join(kib(n) for _, n in segments)))
        with vda.map_sg(segments, dmap.Dir.FROM_DEVICE) as sg:
            say("   bus segments: %s" % ", ".join("%#x+%s" % (a, kib(n)) for a, n in sg.segments))
            expect(all(a + n - 1 <= dmap.bits(32) for a, n in sg.segments),
                   "every segment is below 4 GiB (bounced)")
            device_reads_disk(vda, sg.segments)
        expect(ctx.env.read(PAGE_CACHE, READ_AHEAD) == disk_data(0, READ_AHEAD),
               "the %s arrived in the page cache" % kib(READ_AHEAD))
        figures["capped"] = "%d segments ok" % len(segments)
        stats = pool.bounce_stats()
        expect(stats.slots_in_use == 0 and stats.live_mappings == 0, "the pool is empty again")
        direct.close()
        pool.close()

        step("3. dmap's defaults: the pool takes the request as it is")
        ctx.env.fill(PAGE_CACHE, 0, READ_AHEAD)
        pool, direct, vda = setup(ctx)
        say("   max_mapping_size(%s) = %s" % (vda.name, kib(vda.max_mapping_size)))
        expect(vda.max_mapping_size >= READ_AHEAD, "the default cap is above 480 KiB")
        with vda.map(PAGE_CACHE, READ_AHEAD, dmap.Dir.FROM_DEVICE) as m:
            say("   one mapping: bus %#x, %s" % (m.dma_addr, kib(m.size)))
            device_reads_disk(vda, [(m.dma_addr, m.size)])
        expect(ctx.env.read(PAGE_CACHE, READ_AHEAD) == disk_data(0, READ_AHEAD),
               "the read-ahead arrived in one mapping")
        s = pool.bounce_stats()
        say("   pool: %d of %d slots used at the peak, %s bounced" % (
            s.high_water_slots, s.slots_total, kib(s.bytes_bounced)))
        figures["defaults"] = "480 KiB ok (cap %s)" % kib(vda.max_mapping_size)
        return Result("readahead_bounce", "identity + bounce", figures=figures)


if __name__ == "__main__":
    scenario_main(run, "readahead_bounce", "bounce")
