"""scripts/install_deps.sh skips what is installed: scripts/requirements_met.py,
and a second run that never calls pip."""
import sys
from importlib import metadata

import pytest

from mmfreq.testing.tools import load_script, run_tool


def load_checker():
    return load_script('scripts/requirements_met.py')


def test_installed_versions_are_checked_against_specifiers():
    checker = load_checker()
    numpy = metadata.version('numpy')
    major = int(numpy.split('.')[0])
    met = ['numpy', f'numpy=={numpy}', f'NumPy>={major}', f'numpy<{major + 1}',
           'surely-absent-package; python_version < "3"']  # marker does not apply: skipped
    assert list(checker.unmet(met)) == []
    unmet = [f'numpy<{major}', 'surely-absent-package==1.0']
    assert list(checker.unmet(unmet)) == [f'numpy<{major} (installed: {numpy})',
                                          'surely-absent-package==1.0 (not installed)']


def test_requirement_files_are_read_with_comments_and_includes(tmp_path):
    checker = load_checker()
    (tmp_path / 'base.txt').write_text('numpy  # arrays\n\n# a comment\n')
    (tmp_path / 'all.txt').write_text('-r base.txt\n--no-deps\nsurely-absent-package\n')
    assert list(checker.requirement_lines(str(tmp_path / 'all.txt'))) == [
        'numpy', 'surely-absent-package']
    result = run_tool(['scripts/requirements_met.py', tmp_path / 'all.txt'])
    assert result.returncode == 1
    assert 'unmet: surely-absent-package (not installed)' in result.stdout


def test_this_machine_has_every_requirement_of_the_test_command():
    """What makes install_deps.sh skip pip on a second run here."""
    result = run_tool(['scripts/requirements_met.py', *(
        f'requirements/{name}.txt' for name in ('build', 'tested', 'runtime', 'tests',
                                                'deploy', 'mim'))])
    assert result.returncode == 0, result.stdout


def test_openmim_is_installed_without_openxlab_pins():
    """openmim's opendatalab -> openxlab dependency would pin setuptools 60.2 and requests 2.28."""
    assert metadata.version('openmim') == '0.3.9'
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.version('openxlab')
    assert int(metadata.version('requests').split('.')[1]) > 28


@pytest.mark.slow
def test_a_second_install_run_never_calls_pip(tmp_path):
    wrapper = tmp_path / 'python'
    wrapper.write_text('#!/usr/bin/env bash\n'
                       'if [ "${1:-}" = "-m" ] && [ "${2:-}" = "pip" ]; then\n'
                       '    echo "pip called: $*" >&2; exit 3\n'
                       'fi\n'
                       f'exec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    result = run_tool(['scripts/install_deps.sh', '--with-tests'],
                      env={'PYTHON': str(wrapper)})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert 'pip called' not in output
    assert '[install_deps] the OpenMMLab stack is present' in output
    assert '[install_deps] mmfreq is installed from this checkout' in output
