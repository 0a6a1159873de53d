"""Scale peer: NJOBS jobs at once, the service's example code (Python requests) run in one
thread per job: submit, poll the status until completed, download the audio into OUT_DIR
(removed once there).
usage: python3 scale_requests.py API_URL NJOBS PARAMS_JSON OUT_DIR
"""
import json
import os
import sys
import threading
import time

import requests

api, njobs, params_path, out_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(params_path, "rb") as f:
    params = json.load(f)
headers = {"Authorization": "Bearer test-key", "Content-Type": "application/json"}
ok = 0
failed = 0
lock = threading.Lock()


def job(i):
    global ok, failed
    try:
        s = requests.Session()
        r = s.post(api + "/v2/generate/audio", json=params, headers=headers, timeout=60)
        gid = r.json()["id"]
        while True:
            st = s.get(api + "/v2/generate/audio", params={"generation_id": gid}, headers=headers, timeout=60).json()
            if st["status"] not in ("queued", "generating"):
                break
            time.sleep(0.5)
        path = os.path.join(out_dir, "%d.py.mp3" % i)
        with s.get(st["audio_file"]["url"], stream=True, timeout=60) as d, open(path, "wb") as out:
            for chunk in d.iter_content(65536):
                out.write(chunk)
        os.remove(path)
        with lock:
            ok += 1
    except Exception as e:  # noqa: BLE001 -- counted and reported
        with lock:
            failed += 1
        sys.stderr.write("job %d: %s\n" % (i, e))


threads = [threading.Thread(target=job, args=(i,)) for i in range(njobs)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("jobs %d ok %d failed %d" % (njobs, ok, failed))
sys.exit(1 if failed else 0)
