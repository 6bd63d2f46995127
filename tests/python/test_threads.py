# SPDX-License-Identifier: MIT
"""Python threads using and releasing the same objects: errors, never crashes."""

import gc
import threading

import dmap
from conftest import RAM_LOW


def test_close_while_other_threads_map():
    for round_ in range(5):
        ctx = dmap.Context()
        ctx.add_ram(RAM_LOW, 4 << 20, pool=True)
        dom = ctx.identity_domain()
        devs = [ctx.device("d%d" % i, dma_mask=dmap.bits(64)) for i in range(3)]
        for d in devs:
            d.attach(dom)
        stop = threading.Event()
        unexpected = []

        def worker(dev):
            while not stop.is_set():
                try:
                    with dev.map(RAM_LOW, 4096, dmap.Dir.FROM_DEVICE) as m:
                        dev.dma_write(m.dma_addr, b"x" * 64)
                        m.sync_for_cpu()
                    dev.map_sg([(RAM_LOW, 4096), (RAM_LOW + 8192, 512)])  # dropped: GC unmaps
                    with dev.alloc_coherent(4096) as c:
                        c.write(0, b"y")
                    dom.stats()
                    gc.collect(0)
                except dmap.DmapError:
                    pass  # closed underneath us, detached...: an error, not a crash
                except Exception as e:  # anything else is a bug
                    unexpected.append(repr(e))
                    return

        threads = [threading.Thread(target=worker, args=(d,)) for d in devs]
        for t in threads:
            t.start()
        # release things in a different order each round while the workers run
        victims = [devs[1], dom, devs[0], ctx][round_ % 4:] + [ctx]
        for v in victims:
            threading.Event().wait(0.02)
            v.close()
        stop.set()
        for t in threads:
            t.join(30)
            assert not t.is_alive()
        assert unexpected == []
        assert ctx.closed and ctx.env.closed


def test_finalizers_from_other_threads():
    ctx = dmap.Context()
    ctx.add_ram(RAM_LOW, 1 << 20)
    dom = ctx.identity_domain()
    dev = ctx.device("d", dma_mask=dmap.bits(64))
    dev.attach(dom)
    maps = [dev.map(RAM_LOW + i * 64, 64) for i in range(200)]
    box = [maps]
    del maps

    def drop():
        box.clear()  # the last reference goes away in this thread
        gc.collect()

    t = threading.Thread(target=drop)
    t.start()
    t.join()
    assert dom.stats().map_errors == 0
    ctx.close()
