"""What a fresh app process loads: the statistics libraries and the PDF writer only when something uses them.

statsmodels and scipy.stats take about 90 MB of resident memory together, fpdf2 about 16 MB (``VmRSS``
of a process before and after importing them), in every worker of every app server; only the
experiment and mentions reports use the first two, so ``attribution.experiments`` and
``attribution.mentions`` import them in the functions that call them, and only print sheets use fpdf2
(``tracker.qr.service.qr_sheet_pdf``).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("statsmodels", "scipy.stats", "fpdf")

SCRIPT = """
import json, sys
heavy = json.loads(sys.argv[3])
from tracker import create_app
create_app({"database_url": sys.argv[1], "instance_path": sys.argv[2], "secret_key": "s", "ip_hash_secret": "i",
            "SPOOL_BACKGROUND": False})
loaded = [m for m in heavy if m in sys.modules]
from attribution.experiments import compare_two
from attribution.mentions import lag_correlations  # noqa: F401
compare_two((10, 100), (20, 100))
from tracker.qr.service import SheetItem, qr_sheet_pdf
qr_sheet_pdf([SheetItem(url="https://go.example.com/r/a", label="Booth", caption="go.example.com/r/a")], title="Sheet")
print(json.dumps({"after_app": loaded, "after_use": [m for m in heavy if m in sys.modules]}))
"""


def test_the_app_loads_the_statistics_libraries_and_fpdf_only_when_used(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    done = subprocess.run([sys.executable, "-c", SCRIPT, url, str(tmp_path / "instance"), json.dumps(HEAVY)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["after_app"] == []
    assert seen["after_use"] == list(HEAVY)  # the check would see them once loaded
