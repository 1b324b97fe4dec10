"""Exit 0 when every requirement in the given files is installed at a version
that fits it; else print the ones that are not and exit 1.

    python scripts/requirements_met.py requirements/runtime.txt [more.txt ...]

``scripts/install_deps.sh`` runs it to skip pip, and with pip every request
to a package index, on a machine that has everything. It reads only what is
installed (``importlib.metadata``); the dependencies of each requirement are
taken as installed with it. ``-r other.txt`` lines are followed; requirements
whose environment marker does not apply here are skipped.
"""
import os.path as osp
import sys
from importlib import metadata
from typing import Iterator, Sequence


def requirement_lines(path: str) -> Iterator[str]:
    """The requirement lines of a pip requirements file, following ``-r``."""
    with open(path) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line.startswith(('-r ', '--requirement ')):
                yield from requirement_lines(osp.join(osp.dirname(path), line.split()[1]))
            elif line and not line.startswith('-'):
                yield line


def unmet(lines: Sequence[str]) -> Iterator[str]:
    """Each requirement line not satisfied by what is installed, with the reason."""
    from packaging.requirements import Requirement

    for line in lines:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            yield f'{line} (not installed)'
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            yield f'{line} (installed: {version})'


def main(argv: Sequence[str]) -> int:
    try:
        missing = list(unmet([line for path in argv for line in requirement_lines(path)]))
    except ImportError:  # no packaging yet: a fresh machine, install everything
        print('requirements not checked: the packaging module is not installed')
        return 1
    for line in missing:
        print(f'unmet: {line}')
    return 1 if missing else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
