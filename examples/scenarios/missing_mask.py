#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""missing_mask: a driver that forgets dma_set_mask(64) pays for bouncing it never needed.

Devices start with Linux's default 32-bit mask. The same workload (a network
driver receiving 128 packets of 64 KiB into buffers above 4 GiB) runs twice
on identity + bounce fallback: once with the default mask, once after
``dev.dma_mask = dmap.bits(64)``. The bounce statistics show every byte
copied in the first run and none in the second; the scenario prints the cost
difference (bytes copied, and the wall time of the two runs on this machine).
"""

import time

from _scenario import Result, dmap, expect, kib, require, say, scenario_main, step

LOW_RAM = 0x4000_0000
HIGH_RAM = 0x1_0000_0000
PACKETS = 128
PACKET = 64 << 10


def workload(env, dev):
    """Receive PACKETS packets: map FROM_DEVICE, the device writes, unmap, the CPU checks."""
    payload = bytes(range(256)) * (PACKET // 256)
    for i in range(PACKETS):
        buf = HIGH_RAM + i * PACKET
        with dev.map(buf, PACKET, dmap.Dir.FROM_DEVICE) as m:
            dev.dma_write(m.dma_addr, payload)
        if i % 32 == 0:
            assert env.read(buf, PACKET) == payload, "packet %d corrupted" % i


def measure(ctx, mask_bits, reps=7):
    """Statistics of one run of the workload, and the least CPU time of ``reps`` runs.

    CPU time of this thread, and the minimum: on a shared machine wall time and
    medians mostly measure the neighbours."""
    pool = ctx.bounce_domain("swiotlb", pool_size=16 << 20)
    direct = ctx.identity_domain("dma-direct", fallback=pool)
    direct.counting = True
    nic = ctx.device("nic0")
    if mask_bits != 32:
        nic.dma_mask = dmap.bits(mask_bits)  # the line the buggy driver forgot
    nic.attach(direct)
    workload(ctx.env, nic)  # warm-up, and the run whose statistics we keep
    bounce, core = pool.bounce_stats(), direct.stats()
    times = []
    for _ in range(reps):
        start = time.thread_time()
        workload(ctx.env, nic)
        times.append(time.thread_time() - start)
    nic.close()
    direct.close()
    pool.close()
    return bounce, core, min(times)


def run():
    require("bounce")
    with dmap.Context() as ctx:
        ctx.add_ram(LOW_RAM, 64 << 20, pool=True)
        ctx.add_ram(HIGH_RAM, PACKETS * PACKET)
        results = {}
        for bits in (32, 64):
            step("workload with a %d-bit mask" % bits)
            bounce, core, elapsed = measure(ctx, bits)
            results[bits] = (bounce, core, elapsed)
            say("   mappings %d, sent to the bounce fallback %d" % (core.maps, core.fallback_maps))
            say("   bounce: %s copied to the device side, %s back; high water %d slots" % (
                kib(bounce.bytes_to_device), kib(bounce.bytes_from_device),
                bounce.high_water_slots))
            say("   %.1f ms CPU for %d packets (least of 7 runs)" % (elapsed * 1e3, PACKETS))

        b32, c32, t32 = results[32]
        b64, c64, t64 = results[64]
        step("what the missing mask cost")
        expect(c32.fallback_maps == PACKETS, "32-bit mask: every packet bounced")
        # FROM_DEVICE copies in on map (so a partial device write leaks nothing) and out on unmap
        expect(b32.bytes_bounced == 2 * PACKETS * PACKET,
               "32-bit mask: %s copied (twice the data)" % kib(b32.bytes_bounced))
        expect(c64.fallback_maps == 0 and b64.bytes_bounced == 0,
               "64-bit mask: nothing bounced, nothing copied")
        expect(c32.maps == c64.maps == PACKETS, "same workload both times")
        ratio = t32 / t64 if t64 > 0 else float("inf")
        say("   extra copies: %s per run; CPU time %.1f ms vs %.1f ms (%.2fx) on this machine,"
            " Python's per-packet overhead included in both"
            % (kib(b32.bytes_bounced), t32 * 1e3, t64 * 1e3, ratio))
        return Result("missing_mask", "identity + bounce", figures={
            "bounced 32-bit": kib(b32.bytes_bounced), "bounced 64-bit": "0 KiB",
            "CPU time ratio": "%.2fx" % ratio})


if __name__ == "__main__":
    scenario_main(run, "missing_mask", "bounce")
