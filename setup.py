"""mmfreq: pip install . / pip install -e . / mim install -e ."""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))
# What `mim` looks for inside the installed package (mmfreq/.mim/...).
MIM_FILES = ('configs', 'tools', 'model-index.yml')
# The files of MIM_FILES a wheel carries; every config, including the shared
# pieces its _base_ names, must match (tests/test_mim.py checks).
PACKAGE_DATA = {'mmfreq': ['.mim/model-index.yml', '.mim/configs/*.py',
                           '.mim/configs/_base_/*.py', '.mim/tools/*', '.mim/tools/*/*']}


def read_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmfreq', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_requirements(name: str) -> list:
    with open(osp.join(HERE, 'requirements', name)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line and not line.startswith('-')]


def link_mim_files() -> None:
    """Expose configs/, tools/ and model-index.yml as mmfreq/.mim for mim.

    An in-place install (develop / editable) links them, so edits show at
    once; a wheel build copies them into the package.
    """
    in_place = any(cmd in sys.argv for cmd in ('develop', 'editable_wheel'))
    if not in_place and not any(cmd in sys.argv for cmd in ('bdist_wheel', 'install', 'sdist')):
        return
    mim_dir = osp.join(HERE, 'mmfreq', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(HERE, name), osp.join(mim_dir, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if in_place:
            os.symlink(osp.relpath(src, mim_dir), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    link_mim_files()
    setup(
        name='mmfreq',
        version=read_version(),
        description='VAN, Focal Transformer, FDAM-DeiT3 and AA-ResNet backbones for '
        'OpenMMLab detection, segmentation and classification',
        long_description=open(osp.join(HERE, 'README.md'), encoding='utf-8').read(),
        long_description_content_type='text/markdown',
        python_requires='>=3.8',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'tests.*', 'projects',
                                           'projects.*')),
        include_package_data=True,
        package_data=PACKAGE_DATA,
        install_requires=read_requirements('runtime.txt'),
        extras_require={
            'mim': read_requirements('mminstall.txt'),
            'tests': read_requirements('tests.txt'),
            'deploy': read_requirements('deploy.txt'),
            'cpu': read_requirements('torch.txt'),
        },
        license='Apache License 2.0',
        zip_safe=False,
    )
