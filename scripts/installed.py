"""Is voice-agent installed from this checkout, with every pinned requirement satisfied?

``scripts/install`` asks this before running pip, so that a second install on an installed
machine takes seconds instead of re-resolving (and possibly rebuilding llama.cpp). Standard
library plus ``packaging`` (pip's own copy when it is not installed), so it runs before anything
of ours is installed.

Usage: ``python scripts/installed.py [--extras dev,mic,gpu] [--record]``
       ``python scripts/installed.py --no-deps-list``  (prints ``[tool.voice-agent] no-deps``)

Packages in ``[tool.voice-agent] no-deps`` are checked like the others; ``scripts/install``
installs them with ``pip install --no-deps``, since their declared requirements are not ours.

Exit status, with the reason on stdout:
    0   installed: nothing to do.
    1   a requirement is missing or at a version outside its pin: a full pip install is needed.
    2   every requirement is satisfied but voice-agent itself is not installed editable from
        this checkout, or pyproject.toml changed since it was: ``pip install --no-deps -e .``
        is enough.

``--record`` (after a successful pip install) checks the same, then stores the hash of
pyproject.toml and the interpreter in ``.cache/install.json``; a later check compares against
it, which catches changes that a version check cannot see (entry points, package data, a
tightened pin that the installed version happens to satisfy).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # a bare interpreter: pip vendors packaging
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[assignment]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
STAMP = ROOT / ".cache" / "install.json"


def unmet(requirement: Requirement, extra: str = "", seen: set[str] | None = None) -> str | None:
    """Why ``requirement`` is not satisfied in this interpreter, or None when it is.

    The extras it asks for (``llama-cpp-python[server]``) are followed into the installed
    distribution's own metadata, so their requirements are checked too.
    """
    if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
        return None
    seen = set() if seen is None else seen
    try:
        dist = metadata.distribution(requirement.name)
    except metadata.PackageNotFoundError:
        return f"{requirement.name} is not installed (wanted {requirement})"
    if not requirement.specifier.contains(dist.version, prereleases=True):
        return f"{requirement.name} {dist.version} is installed, wanted {requirement}"
    for wanted_extra in sorted(requirement.extras):
        key = f"{canonicalize_name(requirement.name)}[{wanted_extra}]"
        if key in seen:
            continue
        seen.add(key)
        for text in dist.requires or []:
            inner = Requirement(text)
            if inner.marker is None or not inner.marker.evaluate({"extra": wanted_extra}):
                continue  # a base requirement, already installed with the distribution
            reason = unmet(inner, wanted_extra, seen)
            if reason:
                return f"{reason} (for {key})"
    return None


def pyproject_stamp() -> dict[str, str]:
    return {
        "python": sys.executable,
        "pyproject_sha256": hashlib.sha256(PYPROJECT.read_bytes()).hexdigest(),
    }


def not_from_here(project: dict[str, object], *, check_stamp: bool) -> str | None:
    """Why the installed voice-agent is not this checkout's, or None when it is."""
    try:
        dist = metadata.distribution(str(project["name"]))
    except metadata.PackageNotFoundError:
        return "voice-agent is not installed"
    direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    editable = direct_url.get("dir_info", {}).get("editable", False)
    location = Path(unquote(urlparse(direct_url.get("url", "")).path))
    if not editable or location.resolve() != ROOT:
        return f"voice-agent is installed from {location or 'an index'}, not editable from {ROOT}"
    if dist.version != project["version"]:
        return f"voice-agent {dist.version} is installed, the checkout is {project['version']}"
    recorded = json.loads(STAMP.read_text()) if STAMP.is_file() else {}
    if check_stamp and recorded != pyproject_stamp():
        return "pyproject.toml (or the interpreter) changed since the last install"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="dev,mic,gpu", help="extras the install asks for")
    parser.add_argument("--record", action="store_true", help="record a finished install")
    parser.add_argument(
        "--no-deps-list", action="store_true", help="print the packages installed --no-deps"
    )
    args = parser.parse_args()
    pyproject = tomllib.loads(PYPROJECT.read_text())
    project = pyproject["project"]
    without_deps = list(pyproject.get("tool", {}).get("voice-agent", {}).get("no-deps", []))
    if args.no_deps_list:
        print(" ".join(without_deps))
        return 0
    texts = list(project["dependencies"]) + without_deps
    for extra in filter(None, args.extras.split(",")):
        texts += project["optional-dependencies"][extra]
    for text in texts:
        reason = unmet(Requirement(text))
        if reason:
            print(reason)
            return 1
    reason = not_from_here(project, check_stamp=not args.record)
    if reason:
        print(reason)
        return 2
    if args.record:
        STAMP.parent.mkdir(exist_ok=True)
        STAMP.write_text(json.dumps(pyproject_stamp(), indent=1) + "\n")
    print(f"voice-agent is installed editable from {ROOT}; all {len(texts)} requirements met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
