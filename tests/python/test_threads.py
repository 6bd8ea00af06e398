"""test_threads.py — forwards release the GIL (ctypes drops it for every call into
libxfwd): two Models in two threads compute at the same time, each getting its own
right answer, and the main thread keeps running meanwhile."""
import os
import threading
import time

import numpy as np

import xfwd
from conftest import GOLDEN, assert_close, golden, sequences

TINY = os.path.join(GOLDEN, "qwen3-tiny")


def test_two_models_two_threads():
    g = golden(TINY)
    seqs = sequences(g) * 16            # ~1,400 tokens: a forward of the plain-loop reference takes a while
    want = np.concatenate([g["hidden"]] * 16)
    models = [xfwd.Model(TINY, backend="cpu_ref") for _ in range(2)]
    start = threading.Barrier(3)
    spans, results, errors = {}, {}, []

    def work(i):
        try:
            start.wait()
            t0 = time.perf_counter()
            out = models[i].hidden(seqs)
            spans[i] = (t0, time.perf_counter())
            results[i] = out
        except Exception as e:  # reported below, not lost in the thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    start.wait()
    ticks = []                           # the main thread's Python work meanwhile
    while any(t.is_alive() for t in threads):
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    for m in models:
        m.close()
    assert not errors, errors
    for i in range(2):
        assert_close(np.concatenate(results[i]), want, what=f"thread {i}")
    (a0, a1), (b0, b1) = spans[0], spans[1]
    print(f"forwards: {a1 - a0:.3f} s and {b1 - b0:.3f} s, overlapping {min(a1, b1) - max(a0, b0):.3f} s")
    # with the GIL held through a call, the second thread could not even start its
    # call before the first returned
    assert max(a0, b0) < min(a1, b1), "the two forwards ran one after the other"
    inside = [t for t in ticks if min(a0, b0) < t < max(a1, b1)]
    assert inside, "the main thread did not run while the forwards were in the library"
