#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fragmentation: an asymmetric request trace against the bounce pool.

Bounce pools fragment when request sizes are asymmetric: small long-lived
buffers pin pieces of the pool and large requests find no room although the
pool is far from full (Linux's swiotlb can fail a 256 KiB request with most
of its slots free). This replays the trace bench/bounce uses ("asymmetric":
sizes log-uniform from 512 B to 256 KiB, each request living a random number
of later requests, about 1.3 pools' worth of demand on average) against an
8 MiB dmap bounce pool, and prints how full the pool was when it first had
to refuse a request, and its peak.

Every refusal must be a clean MappingError, and the pool must be empty
again when the trace has drained; the scenario then prints how many maximal
(256 KiB) mappings the empty pool can still hold.
"""

import math
import random

from _scenario import Result, dmap, expect, kib, require, say, scenario_main, step

RAM = 0x4000_0000
POOL = 8 << 20
REQUESTS = 4000
SEED = 0x5EED0002


def asymmetric_trace(requests, mean_life, seed):
    """[(id, size)] events: size > 0 maps request id, size 0 unmaps it (as bench_bounce.c)."""
    rng = random.Random(seed)
    deaths = {}
    events = []
    for rid in range(requests):
        for dead in deaths.pop(rid, []):
            events.append((dead, 0))
        size = min(int(2 ** (9.0 + rng.random() * 9.0)), 256 << 10)
        life = 1 + rng.randrange(2 * mean_life)
        deaths.setdefault(min(rid + life, requests), []).append(rid)
        events.append((rid, size))
    for dead in deaths.pop(requests, []):
        events.append((dead, 0))
    for step_ids in deaths.values():
        events.extend((d, 0) for d in step_ids)
    return events


def run():
    require("bounce")
    with dmap.Context() as ctx:
        ctx.add_ram(RAM, 32 << 20, pool=True)
        pool = ctx.bounce_domain("swiotlb", pool_size=POOL, max_mapping_size=256 << 10)
        dev = ctx.device("blk0")
        dev.attach(pool)
        s0 = pool.bounce_stats()
        say("pool %s in %d slots of %s, size classes %s .. %s" % (
            kib(s0.pool_bytes), s0.slots_total, kib(s0.slot_size),
            kib(s0.classes[0].block_size), kib(s0.classes[-1].block_size)))

        mean_life = int(POOL * 1.3 / 46000)
        events = asymmetric_trace(REQUESTS, mean_life, SEED)
        step("replaying %d requests (mean life %d requests)" % (REQUESTS, mean_life))
        live = {}  # id -> (bus address, size)
        live_bytes = served = failed = 0
        peak_util = peak_slot_util = 0.0
        first_failure = None
        for rid, size in events:
            if size == 0:
                if rid in live:
                    addr, n = live.pop(rid)
                    dev.unmap_phys(addr, n, dmap.Dir.TO_DEVICE)
                    live_bytes -= n
                continue
            try:
                addr = dev.map_phys(RAM + (rid % 64) * 4096, size, dmap.Dir.TO_DEVICE,
                                    dmap.Attr.NO_WARN)
            except dmap.MappingError:
                failed += 1
                if first_failure is None:
                    st = pool.bounce_stats()
                    first_failure = (live_bytes / POOL, st.utilisation, size)
                continue
            served += 1
            live[rid] = (addr, size)
            live_bytes += size
            if served % 50 == 0:
                peak_slot_util = max(peak_slot_util, pool.bounce_stats().utilisation)
            peak_util = max(peak_util, live_bytes / POOL)
        end = pool.bounce_stats()

        step("utilisation")
        say("   served %d, refused %d (%.2f%% served)" % (served, failed,
                                                         100.0 * served / REQUESTS))
        if first_failure:
            say("   first refusal: a %s request with %.1f%% of the pool requested "
                "(%.1f%% of slots in use)" % (kib(first_failure[2]), 100 * first_failure[0],
                                               100 * first_failure[1]))
        else:
            say("   no request was refused")
        say("   peak: %.1f%% of the pool requested; high water %d of %d slots (%.1f%%)" % (
            100 * peak_util, end.high_water_slots, end.slots_total,
            100.0 * end.high_water_slots / end.slots_total))
        say("   failures by cause: full %d, too big %d, constraint %d; coalesce passes %d" % (
            end.failed_full, end.failed_too_big, end.failed_constraint, end.coalesce_passes))
        expect(served + failed == REQUESTS, "every request was served or cleanly refused")
        expect(end.failed_too_big == 0 and end.failed_unreachable == 0,
               "refusals are only for lack of room")
        expect(end.slots_in_use == 0 and end.live_mappings == 0, "the pool drained completely")
        # How much of the empty pool can a maximal request still get? Runs the
        # class caches keep are recycled in place at their natural (size-aligned)
        # offsets and the rest is drained when a request runs short, so the
        # trace must leave no lasting fragmentation behind: all of it.
        largest = s0.classes[-1].block_size
        big = []
        for _ in range(POOL // largest):
            try:
                big.append(dev.map_phys(RAM, largest, dmap.Dir.TO_DEVICE, dmap.Attr.NO_WARN))
            except dmap.MappingError:
                break
        say("   after the drain, %d of %d maximal %s mappings fit in the empty pool" % (
            len(big), POOL // largest, kib(largest)))
        expect(len(big) == POOL // largest,
               "the drained pool serves its full capacity of maximal mappings")
        for addr in big:
            dev.unmap_phys(addr, largest, dmap.Dir.TO_DEVICE)
        if first_failure:
            expect(first_failure[0] >= 0.5,
                   "it refused nothing before more than half the pool was requested")
        util = "%.0f%%" % (100 * first_failure[0]) if first_failure else "none"
        return Result("fragmentation", "bounce", figures={
            "served": "%.1f%%" % (100.0 * served / REQUESTS),
            "util@1st refusal": util, "peak": "%.0f%%" % (100 * peak_util),
            "256K after drain": "%d/%d" % (len(big), POOL // largest)})


if __name__ == "__main__":
    scenario_main(run, "fragmentation", "bounce")
