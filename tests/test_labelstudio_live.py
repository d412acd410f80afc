"""A real Label Studio on loopback: tasks from `annotate select --format labelstudio` go in through
its API, are annotated through its API, come out as its JSON export and go back through
`annotate import` into a sentence table that trains.

Slow, and skipped unless the `label-studio` command is installed (it is large, so it is not among
the test extras): `pip install label-studio` in any environment, and point
NEWSSTANCE_LABEL_STUDIO at its executable when it is not on PATH. Then
`pytest -m slow tests/test_labelstudio_live.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from test_annotate import ARTICLES, JSONL_ARTICLES, _annotator

from newsstance.annotation.importer import import_annotations
from newsstance.annotation.select import SelectOptions, select_tasks
from newsstance.annotation.tasks import label_config_path

httpx = pytest.importorskip("httpx")

EXECUTABLE = os.environ.get("NEWSSTANCE_LABEL_STUDIO") or shutil.which("label-studio")
START_TIMEOUT_S = 300
TOKEN = "newsstance-test-token-0123456789abcdef"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not EXECUTABLE, reason="label-studio is not installed (set NEWSSTANCE_LABEL_STUDIO)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def label_studio(tmp_path):
    """A fresh Label Studio with its own data folder, a user and a known API token."""
    port = _free_port()
    env = {**os.environ, "LABEL_STUDIO_USERNAME": "annotator@example.org", "LABEL_STUDIO_PASSWORD": "not-a-secret-42",
           "LABEL_STUDIO_USER_TOKEN": TOKEN, "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
           "LABEL_STUDIO_BASE_DATA_DIR": str(tmp_path / "ls-data"), "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true"}
    log = (tmp_path / "label-studio.log").open("w")
    proc = subprocess.Popen([EXECUTABLE, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(tmp_path / "ls-data")],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, headers={"Authorization": f"Token {TOKEN}"}, timeout=60)
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"label-studio exited with {proc.returncode}:\n{(tmp_path / 'label-studio.log').read_text()[-3000:]}")
            try:
                if client.get("/api/projects").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"label-studio was not ready after {START_TIMEOUT_S} s")
            time.sleep(1)
        yield client
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_tasks_round_trip_through_a_running_label_studio(label_studio, tiny_model, tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "wire.jsonl").write_text("".join(json.dumps(a) + "\n" for a in JSONL_ARTICLES), encoding="utf-8")
    tasks_file = tmp_path / "tasks.json"
    select_tasks(SelectOptions(paths=[folder], output=tasks_file, model=tiny_model, n=6, format="labelstudio"))
    tasks = json.loads(tasks_file.read_text(encoding="utf-8"))

    # a project with our labelling interface; the tasks with the model's guesses as predictions
    created = label_studio.post("/api/projects", json={"title": "newsstance round trip",
                                                        "label_config": label_config_path(tasks_file).read_text()})
    assert created.status_code == 201, created.text
    project = created.json()["id"]
    imported = label_studio.post(f"/api/projects/{project}/import", json=tasks)
    assert imported.status_code == 201, imported.text
    assert imported.json()["task_count"] == 6 and imported.json()["prediction_count"] == 6

    # an annotator labels each task (through the API, as the web interface would)
    listed = label_studio.get("/api/tasks", params={"project": project, "page_size": 100})
    assert listed.status_code == 200, listed.text
    served = listed.json()["tasks"] if isinstance(listed.json(), dict) else listed.json()
    assert len(served) == 6
    given = {}
    for task in served:
        label = _annotator(task["data"]["text"])
        given[task["data"]["text"]] = label
        result = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]
        answer = label_studio.post(f"/api/tasks/{task['id']}/annotations", json={"result": result})
        assert answer.status_code == 201, answer.text

    # Label Studio's own JSON export goes back through `annotate import`
    export = label_studio.get(f"/api/projects/{project}/export", params={"exportType": "JSON"})
    assert export.status_code == 200, export.text
    export_file = tmp_path / "export.json"
    export_file.write_bytes(export.content)
    result = import_annotations(export_file, tmp_path / "table.jsonl", articles=[folder])
    assert result.rows == 6 and result.checked == 6 and result.source == "labelstudio"
    rows = [json.loads(line) for line in (tmp_path / "table.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["text"]: r["label"] for r in rows} == given
    by_text = {t["data"]["text"]: t["data"] for t in tasks}
    assert all((r["start"], r["end"]) == (by_text[r["text"]]["start"], by_text[r["text"]]["end"]) for r in rows)
