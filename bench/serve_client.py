#!/usr/bin/env python3
"""serve_client.py PORT CLIENTS SECONDS SEQ VOCAB — the load generator of
bench/serve-load.sh where wrk is missing (standard library only): CLIENTS threads,
each on one keep-alive connection, POST /embed with one sequence of SEQ random
token ids, back to back for SECONDS. Prints the line wrk's script prints:
RESULT requests N errors E seconds S p50_ms X p99_ms Y (requests finished in time)."""
import http.client, json, random, sys, threading, time

port, clients, seconds, seq, vocab = (int(x) for x in sys.argv[1:6])
rng = random.Random(7)
bodies = [json.dumps({"inputs": [[rng.randrange(1, vocab) for _ in range(seq)]]}).encode() for _ in range(64)]
lat, errors, lock = [], [0], threading.Lock()
start = threading.Barrier(clients + 1)
stop_at = [0.0]


def client(i):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    mine, k = [], i
    start.wait()
    while True:
        t0 = time.perf_counter()
        if t0 >= stop_at[0]:
            break
        try:
            c.request("POST", "/embed", body=bodies[k % 64], headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            ok = r.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        t1 = time.perf_counter()
        if t1 <= stop_at[0]:
            if ok:
                mine.append(t1 - t0)
            else:
                with lock:
                    errors[0] += 1
        k += 1
    with lock:
        lat.extend(mine)


threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for t in threads:
    t.start()
t_begin = time.perf_counter()
stop_at[0] = t_begin + seconds
start.wait()
for t in threads:
    t.join()
lat.sort()
pct = lambda p: 1e3 * lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else 0.0
print(f"RESULT requests {len(lat)} errors {errors[0]} seconds {seconds:.3f} p50_ms {pct(50):.2f} p99_ms {pct(99):.2f}")
