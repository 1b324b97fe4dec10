"""The package's shape: what a maintainer relies on when finding their way in it."""
import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import mmfreq

PACKAGE = Path(mmfreq.__file__).parent
MODULES = sorted(PACKAGE.rglob('*.py'))


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _imported_modules(path: Path):
    """The absolute names of the mmfreq modules ``path`` imports."""
    package = _name(path) if path.name == '__init__.py' else _name(path).rpartition('.')[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split('.')
            if node.level:
                base = base[:len(base) - node.level + 1]
                name = '.'.join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            yield name
            yield from (f'{name}.{alias.name}' for alias in node.names)


def _docstring_lines(path: Path) -> int:
    lines = 0
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                lines += first.end_lineno - first.lineno + 1
    return lines


@pytest.mark.parametrize('path', MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_docstrings_are_at_most_30_percent_of_a_module(path):
    total = len(path.read_text().splitlines())
    docs = _docstring_lines(path)
    if total <= 30:  # a package's __init__ or a one-idea module: its docstring is the point
        assert docs <= 12, f'{path}: {docs} docstring lines in a {total}-line module'
    else:
        assert docs <= 0.3 * total, f'{path}: docstrings are {docs}/{total} lines'


def test_no_backbone_module_imports_another():
    folder = PACKAGE / 'models' / 'backbones'
    backbones = {_name(p) for p in folder.glob('*.py') if p.name != '__init__.py'}
    for path in folder.glob('*.py'):
        if path.name == '__init__.py':
            continue
        siblings = {m for m in _imported_modules(path) if m in backbones} - {_name(path)}
        assert not siblings, f'{path.name} imports {sorted(siblings)}'


@pytest.mark.parametrize('lower', ['utils', 'models', 'engine', 'datasets', 'analysis',
                                   'deployment', 'apis'])
def test_library_layers_import_nothing_from_the_command_line_layer(lower):
    for path in (PACKAGE / lower).rglob('*.py'):
        upward = [m for m in _imported_modules(path)
                  if m == 'mmfreq.cli' or m.startswith(('mmfreq.cli.', 'tools'))]
        assert not upward, f'{path} imports {upward}'


def test_every_public_error_derives_from_the_one_root():
    from mmfreq.errors import UserError
    for info in pkgutil.walk_packages(mmfreq.__path__, 'mmfreq.'):
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (cls.__module__ == module.__name__ and not name.startswith('_')
                    and issubclass(cls, Exception) and name.endswith('Error')):
                assert issubclass(cls, UserError), f'{module.__name__}.{name}'


def test_modules_import_one_another_without_a_circle():
    """No module reaches itself through its imports of other mmfreq modules (a
    package's ``__init__`` gathering its own submodules is not counted)."""
    modules = {_name(p): p for p in MODULES}
    edges = {}
    for name, path in modules.items():
        targets = {m for m in _imported_modules(path) if m in modules and m != name}
        if path.name == '__init__.py':
            targets = {m for m in targets if not m.startswith(name + '.')}
        edges[name] = targets

    def reaches(start: str, goal: str, seen: set) -> bool:
        for nxt in edges[start]:
            if nxt == goal or (nxt not in seen and not seen.add(nxt) and reaches(nxt, goal, seen)):
                return True
        return False

    circles = sorted(f'{a} -> {b}' for a in edges for b in edges[a] if reaches(b, a, set()))
    assert not circles, circles


def test_readme_is_a_short_guide():
    readme = PACKAGE.parent / 'README.md'
    assert len(readme.read_text().splitlines()) <= 300
