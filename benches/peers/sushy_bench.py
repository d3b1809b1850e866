"""The Python sushy client on the same Redfish services, for scripts/bench.sh.

  sushy_bench.py get URL SYSTEM_PATH N     N refreshes of one ComputerSystem (basic auth)
  sushy_bench.py fleet BASE_PORT COUNT T   power state of COUNT services, T threads
"""
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import sushy
from sushy import auth


def client(url):
    return sushy.Sushy(url, auth=auth.BasicAuth(username="admin", password="password"))


mode = sys.argv[1]
if mode == "get":
    url, path, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    root = client(url)
    system = root.get_system(path)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        system.refresh(force=True)
        assert system.power_state is not None
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"sushy: {n} GETs in {wall:.3f} s: {n / wall:.0f} req/s, {n / max(cpu, 0.01):.0f} req per CPU-second")
elif mode == "fleet":
    base, count, threads = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

    def one(i):
        root = client(f"http://127.0.0.1:{base + i}")
        return root.get_system("/redfish/v1/Systems/1").power_state is not None

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        ok = sum(pool.map(one, range(count)))
    wall = time.perf_counter() - t0
    print(f"sushy fleet ({threads} threads): {ok}/{count} power states in {wall:.3f} s: {ok / wall:.0f} BMCs/s")
