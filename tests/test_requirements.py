"""Declared ranges (setup.py) and the tested pins (CI) agree."""
from packaging.requirements import Requirement

from mmfreq.testing.tools import ROOT


def requirements(name: str) -> dict:
    lines = (line.split('#')[0].strip() for line in (ROOT / 'requirements' / name).open())
    return {(r := Requirement(line)).name: r for line in lines if line}


def test_declared_openmmlab_versions_are_ranges_that_admit_the_tested_pins():
    declared, tested = requirements('mminstall.txt'), requirements('tested.txt')
    assert set(declared) == set(tested)
    for name, requirement in declared.items():
        assert not any(spec.operator == '==' for spec in requirement.specifier), name
        assert any(spec.operator == '<' for spec in requirement.specifier), name
        (pin, ) = tested[name].specifier
        assert pin.operator == '==', name
        assert requirement.specifier.contains(pin.version), (name, pin.version)


def test_mmcv_range_stops_below_what_mmdet_and_mmseg_refuse():
    # mmdet 3.3 / mmseg 1.2 assert mmcv < 2.2.0 when imported
    assert not requirements('mminstall.txt')['mmcv'].specifier.contains('2.2.0')
