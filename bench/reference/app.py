"""The original design of jobctl's log endpoint, kept as a yardstick.

Every request reads the whole log file through ``collections.deque(f,
maxlen=N)``: cost grows with the file's size, and a newline-free file is one
line that is read, decoded and returned whole. Served by uvicorn:

    LOGS_DIR=/path/to/logs uvicorn app:app --app-dir bench/reference --port 8000

Only what the benchmark needs: ``GET /jobs/{id}/logs?tail=N``, no auth.
"""

import os
from collections import deque

from fastapi import FastAPI, HTTPException

LOGS_DIR = os.environ.get("LOGS_DIR", "logs")

app = FastAPI()


@app.get("/healthz")
def healthz():
    return "ok"


@app.get("/jobs/{job_id}/logs")
def job_logs(job_id: str, tail: int = 1000):
    # A plain `def`: FastAPI runs it in its thread pool, as the original did.
    if not job_id.replace("-", "").isalnum():
        raise HTTPException(status_code=400, detail="bad job id")
    path = os.path.join(LOGS_DIR, f"{job_id}.log")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = deque(f, maxlen=tail)
    except FileNotFoundError:
        lines = deque()
    return {"job_id": job_id, "logs": "".join(lines)}
