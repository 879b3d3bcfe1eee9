"""scripts/install_system_packages.sh never stops the set-up: stale package lists are
refreshed after a failed install, and a package that still cannot be installed is a
warning naming what it serves. apt-get, dpkg-query and id are fakes on PATH that keep the
installed packages in a file, so the tests touch nothing of this machine."""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "install_system_packages.sh"

# The fake apt-get records each subcommand; `update` marks the lists fresh; `install` fails
# while they are stale (STALE=1) or for a package listed in BROKEN, else records the packages.
FAKE_APT_GET = r"""#!/usr/bin/env bash
args=()
for a in "$@"; do [[ $a == -o || $a == DPkg::* || $a == -y ]] || args+=("$a"); done
echo "${args[0]}" >> "$FAKE/calls"
case "${args[0]}" in
    update) touch "$FAKE/fresh"; exit 0 ;;
    install)
        [[ $STALE == 1 && ! -e $FAKE/fresh ]] && { echo "E: unmet dependencies" >&2; exit 100; }
        for p in "${args[@]:1}"; do
            [[ " $BROKEN " == *" $p "* ]] && { echo "E: $p is broken" >&2; exit 100; }
        done
        printf '%s\n' "${args[@]:1}" >> "$FAKE/installed" ;;
esac
"""
FAKE_DPKG_QUERY = r"""#!/usr/bin/env bash
grep -qx "${@: -1}" "$FAKE/installed" 2>/dev/null && echo -n "install ok installed"
"""


@pytest.fixture
def fake(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in {"apt-get": FAKE_APT_GET, "dpkg-query": FAKE_DPKG_QUERY,
                       "id": '#!/bin/sh\necho "$FAKE_UID"\n'}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "installed").touch()
    return tmp_path


def run(fake: Path, *packages: str, stale="0", broken="", uid="0"):
    env = dict(os.environ, PATH=f"{fake / 'bin'}:{os.environ['PATH']}", FAKE=str(fake),
               STALE=stale, BROKEN=broken, FAKE_UID=uid)
    done = subprocess.run(["bash", str(SCRIPT), *packages], env=env, capture_output=True,
                          text=True, timeout=60)
    installed = (fake / "installed").read_text().split()
    calls = (fake / "calls").read_text().splitlines() if (fake / "calls").exists() else []
    return done, installed, calls


def test_stale_lists_are_refreshed_and_the_install_tried_again(fake):
    done, installed, calls = run(fake, stale="1")
    assert done.returncode == 0, done.stderr
    assert sorted(installed) == ["libarchive-tools", "unar"]  # the default: RAR extractors
    assert calls == ["install", "update", "install"]
    assert "is not installed" not in done.stderr


def test_a_package_that_cannot_be_installed_is_a_warning_and_the_others_still_install(fake):
    done, installed, _ = run(fake, "slurm-wlm", "munge", broken="munge")
    assert done.returncode == 0
    assert installed == ["slurm-wlm"]
    assert "warning: munge is not installed: it serves the one-node SLURM" in done.stderr
    assert "slurm-wlm is not installed" not in done.stderr


def test_without_root_it_only_names_what_is_missing(fake):
    done, installed, calls = run(fake, uid="1000")
    assert done.returncode == 0
    assert (installed, calls) == ([], [])
    assert "unar is not installed: it serves extracting UCF101's RAR archive" in done.stderr


def test_nothing_is_asked_of_apt_when_everything_is_installed(fake):
    (fake / "installed").write_text("unar\nlibarchive-tools\n")
    done, _, calls = run(fake)
    assert (done.returncode, calls, done.stderr) == (0, [], "")
