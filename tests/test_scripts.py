"""scripts/setup.sh, as test.sh (`--test`) and demo.sh (plain) run it one after the other:
dependencies are installed once per change of pyproject.toml / constraints.txt, and the
test extras are kept. Run in a copy of the script whose `.venv/bin/python` only records
the pip calls, so the test takes a second and leaves the real .venv alone."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_switching_between_test_and_demo_setup_installs_nothing(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(REPOSITORY / "scripts" / "setup.sh", checkout / "scripts" / "setup.sh")
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(REPOSITORY / name, checkout / name)
    calls = tmp_path / "pip-calls"
    (checkout / ".venv" / "bin").mkdir(parents=True)
    _executable(checkout / ".venv" / "bin" / "python", f'#!/bin/sh\necho "$*" >> {calls}\n')
    # The system tools the script looks for are present: no apt-get.
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("chromium", "dovecot", "pdftotext"):
        _executable(tools / tool, "#!/bin/sh\n")
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"}
    env.pop("CRM_CHROMIUM_PATH", None)

    def setup(*args: str) -> list[str]:
        calls.write_text("")
        result = subprocess.run(
            [str(checkout / "scripts" / "setup.sh"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return [line for line in calls.read_text().splitlines() if " install " in f" {line} "]

    first = setup("--test")
    assert any(".[test]" in call for call in first), first
    # demo.sh after test.sh, test.sh after demo.sh, again and again: nothing to install.
    for args in ((), ("--test",), (), ("--test",)):
        assert setup(*args) == [], args
    # A changed dependency file installs again, once.
    with (checkout / "constraints.txt").open("a") as constraints:
        constraints.write("\n# changed\n")
    assert setup() != []
    assert setup() == []
    assert any(".[test]" in call for call in setup("--test"))
    assert setup() == [] and setup("--test") == []
