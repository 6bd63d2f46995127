# SPDX-License-Identifier: MIT
"""Release order for C objects, whatever order Python drops its objects in.

Every C object the package creates (environment, context, device, domain,
memory region, mapping, coherent buffer) and every relationship that must be
undone before something can be freed (a device attached to a domain, a domain
stacked on a fallback) is a Node. A node lists the nodes it depends on
(``parents``); releasing a node first releases everything that depends on it,
newest first, then calls its own C destructor. So:

 - ``env.close()`` with devices and mappings alive unmaps, detaches, destroys
   devices and domains, the context, and only then the environment;
 - a domain closed while devices are attached detaches them first;
 - a fallback domain closed while an identity domain uses it closes that
   identity domain first.

Python wrappers hold strong references to the wrappers they depend on (a
device keeps its context and environment alive, a mapping its device, a
domain its fallback), so garbage collection alone frees children before
parents; the graph makes explicit ``close()`` calls, reference cycles and
interpreter exit (weakref.finalize runs leftovers newest first) equally safe.

A C destructor that fails (it should not) leaves its node "leaked": the
parent then keeps its own C object too when the failure could leave it in use
(``blocks_parent``), trading a leak for never freeing memory something still
points to.
"""

import threading

_lock = threading.RLock()


class Node:
    """One releasable C resource or relationship."""

    __slots__ = ("label", "_destroy", "children", "parents", "state", "error",
                 "blocks_parent", "__weakref__")

    def __init__(self, label, destroy, parents=(), blocks_parent=True):
        """``destroy()`` frees the C side and returns 0 or a negative errno."""
        self.label = label
        self._destroy = destroy
        self.children = []
        self.parents = []
        self.state = "live"
        self.error = 0
        self.blocks_parent = blocks_parent
        with _lock:
            for p in parents:
                if p.state != "live":
                    raise RuntimeError("parent %s is %s" % (p.label, p.state))
            for p in parents:
                p.children.append(self)
                self.parents.append(p)

    @property
    def live(self):
        return self.state == "live"

    def release(self):
        """Release dependents then this node. Returns 0 or the negative errno of
        the first failure (this node's own, or a blocking child's)."""
        with _lock:
            if self.state != "live":
                return self.error
            self.state = "closing"
            blocked = 0
            for child in reversed(list(self.children)):
                rc = child.release()
                if rc and child.blocks_parent and not blocked:
                    blocked = rc
            rc = 0
            if blocked:
                rc = blocked  # keep our C object: something may still use it
            else:
                try:
                    rc = self._destroy() or 0
                except Exception:  # never let a finalizer raise
                    rc = -5
            self._destroy = None
            self.error = rc
            self.state = "leaked" if rc else "released"
            for p in self.parents:
                try:
                    p.children.remove(self)
                except ValueError:
                    pass
            self.parents = []
            return rc

    def release_quietly(self):
        """For finalizers: release and ignore the outcome."""
        try:
            self.release()
        except Exception:
            pass


def serialized(cls):
    """Class decorator: every method and property of ``cls`` runs under the
    lifetime lock.

    A wrapper checks that its C object is live and then calls the library;
    without the lock, another thread could close (and free) the object between
    the check and the call. The GIL already serialises the library calls (they
    never release it), so the lock costs an uncontended acquire per call.
    """
    import functools

    def wrap(fn):
        @functools.wraps(fn)
        def locked(*args, **kwargs):
            with _lock:
                return fn(*args, **kwargs)
        return locked

    for name, value in list(vars(cls).items()):
        if name.startswith("__") and name not in ("__init__", "__enter__", "__exit__",
                                                  "__repr__"):
            continue
        if isinstance(value, property):
            setattr(cls, name, property(wrap(value.fget) if value.fget else None,
                                        wrap(value.fset) if value.fset else None,
                                        value.fdel, value.__doc__))
        elif isinstance(value, classmethod):
            setattr(cls, name, classmethod(wrap(value.__func__)))
        elif isinstance(value, staticmethod):
            continue
        elif callable(value):
            setattr(cls, name, wrap(value))
    return cls


@serialized
class Closable:
    """What every object owning a native resource (``self._node``) and a
    ``close()`` shares: the ``closed`` property and use as a context manager
    (leaving the ``with`` block closes it)."""

    @property
    def closed(self):
        return not self._node.live

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
