"""Per-request cost, Python requests, written as in the service's own examples
(module-level requests.post / requests.get, json=, params=, .json()).

usage: /usr/bin/python3 cycle_requests.py BASE_URL N PARAMS_JSON
"""
import json
import sys

import requests

base, n, params_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(params_path, "rb") as f:
    payload = json.load(f)
aimlapi_key = "0f3c9a7e52b14d8c9e6a1b2c3d4e5f60"  # the length of a real key: the module searches every answer for it


def generate_audio():
    url = base + "/v2/generate/audio"
    headers = {"Authorization": f"Bearer {aimlapi_key}", "Content-Type": "application/json"}
    response = requests.post(url, json=payload, headers=headers)
    if response.status_code >= 400:
        raise SystemExit(f"Error: {response.status_code} - {response.text}")
    return response.json()


def retrieve_audio(gen_id):
    url = base + "/v2/generate/audio"
    params = {"generation_id": gen_id}
    headers = {"Authorization": f"Bearer {aimlapi_key}", "Content-Type": "application/json"}
    response = requests.get(url, params=params, headers=headers)
    return response.json()


for _ in range(n):
    job = generate_audio()
    st = retrieve_audio(job["id"])
    assert st["status"] == "completed" and st["audio_file"]["url"], "unexpected status answer"
print(f"cycles {n}")
