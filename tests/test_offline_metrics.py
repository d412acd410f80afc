"""Metrics must load and compute with no network at all (the hub's scripts are unreachable)."""

import subprocess
import sys

from newsstance.evaluation.metrics import SCRIPTS


def test_metrics_work_with_the_network_cut_off(tmp_path):
    # a fresh interpreter, a fresh evaluate cache and every socket connection refused
    code = """
import socket
def refuse(*a, **k):
    raise OSError("network disabled in this test")
socket.socket.connect = refuse
socket.create_connection = refuse
from newsstance.evaluation.metrics import classification_metrics
m = classification_metrics([0, 1, 2, 2, 1, 0], [0, 1, 1, 2, 2, 0])
print(round(m["accuracy"], 4), round(m["macro_f1"], 4), m["confusion_matrix"])
"""
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0.6667 0.6667 [[2, 0, 0], [0, 1, 1], [0, 1, 1]]"


def test_per_class_values_match_scikit_learn():
    from sklearn.metrics import f1_score, precision_score

    from newsstance.evaluation.metrics import classification_metrics

    refs, preds = [0, 0, 1, 1, 2, 2, 2, 1], [0, 1, 1, 1, 2, 0, 2, 2]
    m = classification_metrics(refs, preds)
    assert m["macro_f1"] == f1_score(refs, preds, average="macro")
    assert m["per_class"]["third_party_skepticism"]["precision"] == precision_score(refs, preds, average=None)[1]
    assert m["per_class"]["neutral_reporting"]["support"] == 3


def test_metric_scripts_ship_inside_the_package():
    assert (SCRIPTS / "accuracy" / "accuracy.py").is_file()
    assert (SCRIPTS / "precision_recall_f1" / "precision_recall_f1.py").is_file()
