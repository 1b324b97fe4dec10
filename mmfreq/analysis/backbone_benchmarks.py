"""The backbone families ``tools/analysis_tools/benchmark_backbones.py`` compares.

Each family is a declarative :class:`Family` entry: one builder of its
models (mmfreq's, the reference formulation, the bound and any extra),
the models timed at inference only or also compiled, and its default rows
(mode, input size, batch). Every model of a family is built with the same
seed-0 weights, so that outputs can be compared. A row of the driver times
every model of the family on one input, interleaved round by round, and
measures each model's peak memory in a fresh process
(:func:`mmfreq.analysis.benchmarking.compare_models`). The record it writes
(:func:`row_record`) is the same for every family:

- ``family``, ``arch``, ``mode`` ('inference': no grad, eval mode;
  'training_step': forward and backward, train mode), ``shape`` (the input);
- ``reference``: what the model named ``reference`` is, and ``bound``: the
  model whose ratio to the reference bounds what any implementation of the
  attention could reach on that machine;
- ``results``: ``{model: {'latency_ms', 'peak_mb'}}``, compiled models
  named ``<model>_compiled``;
- ``max_abs_diff``: ``{model: largest |output - reference output|}`` over
  every output of every eager model but the bound and the extras that
  compute another function, on the row's input in eval mode
  (:func:`max_abs_difference`);
- the machine and run fields of :func:`mmfreq.analysis.benchmarking.start_record`.

The reference formulations are those of :mod:`mmfreq.reference`.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mmfreq.models import VAN, AAResNet, FDAMViT, FocalTransformer
from mmfreq.models.backbones import convert_van_state_dict
from mmfreq.models.layers import AAConv2d, FocalAttention, FreqScale, add_freq_scale
from mmfreq.reference import (
    ExplicitFDAMViT,
    PaperAAConv2d,
    RolledFocalAttention,
    make_attention_free,
    swap_layer_types,
)

MODES = ('inference', 'training_step')


@dataclass(frozen=True)
class Row:
    """One measurement: a mode on one input size.

    Args:
        mode: 'inference' or 'training_step'.
        size: Input height and width (for FreqScale: the grid's sides).
        batch: Images per pass.
    """

    mode: str
    size: Tuple[int, int]
    batch: int


@dataclass(frozen=True)
class Family:
    """A backbone family's entry.

    Args:
        title: Name in printed tables, e.g. 'VAN'.
        build: ``build(arch, model, size)`` -> the named model in eval mode
            with the family's seed-0 weights, for inputs of ``size`` (H, W);
            a module-level function, so that the peak-memory process can
            rebuild it.
        default_arch: Arch measured when none is given.
        reference: What the model named 'reference' is.
        models: Eager models timed in every row besides 'reference'.
        rows: Default rows.
        bound: The model whose ratio bounds the reachable one, if any.
        inference_only: Models timed at inference only.
        compiled: Models also timed under ``torch.compile`` (inductor).
        other_functions: Models that compute another function than the
            reference (no output difference is taken for them).
        input_shape: ``input_shape(arch, row)``; defaults to images
            (batch, 3, H, W).
    """

    title: str
    build: Callable[[str, str, Tuple[int, int]], nn.Module]
    default_arch: str
    reference: str
    models: Tuple[str, ...]
    rows: Tuple[Row, ...]
    bound: Optional[str] = None
    inference_only: Tuple[str, ...] = ()
    compiled: Tuple[str, ...] = ('reference', 'mmfreq')
    other_functions: Tuple[str, ...] = ()
    input_shape: Optional[Callable[[str, Row], Tuple[int, ...]]] = field(default=None)

    def shape(self, arch: str, row: Row) -> Tuple[int, ...]:
        """The input shape of ``row``."""
        if self.input_shape is not None:
            return self.input_shape(arch, row)
        return (row.batch, 3, *row.size)

    def models_of(self, row: Row) -> Tuple[str, ...]:
        """The eager models timed in ``row``, 'reference' first."""
        return ('reference', *(m for m in self.models
                               if row.mode == 'inference' or m not in self.inference_only))


# VAN: mmpretrain's implementation of the official network.
MMPRETRAIN_VAN_ARCH = {'b0': 'tiny', 'b1': 'small', 'b2': 'base', 'b3': 'large'}
VAN_DROP_PATH_RATE = 0.1  # configs/upernet_van_b.py


def build_van(arch: str, model: str, size: Tuple[int, int]) -> nn.Module:
    """'reference': mmpretrain's VAN with the official stage-norm eps 1e-6 and
    seed-0 weights; 'mmfreq', 'mmfreq_deploy' (after ``switch_to_deploy()``)
    and 'attention_free' (LKA as the identity): mmfreq's VAN with those
    weights, converted. Drop path 0.1 in all of them."""
    from mmpretrain.models.backbones import VAN as MMPretrainVAN

    torch.manual_seed(0)
    reference = MMPretrainVAN(arch=MMPRETRAIN_VAN_ARCH[arch], out_indices=(0, 1, 2, 3),
                              drop_path_rate=VAN_DROP_PATH_RATE)
    for module in reference.modules():
        if isinstance(module, nn.LayerNorm):
            module.eps = 1e-6
    if model == 'reference':
        reference.eval()  # (mmpretrain's train() returns None)
        return reference
    van = VAN(arch=arch, drop_path_rate=VAN_DROP_PATH_RATE)
    van.load_state_dict(convert_van_state_dict(reference.state_dict()))
    if model == 'mmfreq_deploy':
        van.switch_to_deploy()
    elif model == 'attention_free':
        make_attention_free(van)
    elif model != 'mmfreq':
        raise KeyError(f'VAN benchmark has no model {model!r}')
    return van.eval()


# Focal Transformer
CLASSIFICATION_EXPAND_SIZES = (3, 3, 3, 0)  # the official ImageNet models at 224
DENSE_EXPAND_SIZES = (3, 3, 3, 3)  # configs/*focal_t*.py


def build_focal(arch: str, model: str, size: Tuple[int, int]) -> nn.Module:
    """Focal Transformer with seed-0 weights; 'reference': its attention in the
    rolled formulation (:class:`~mmfreq.reference.RolledFocalAttention`),
    'attention_free': reduced to its qkv and output projections. Inputs up to
    224 get the ImageNet models' ring (none at stage 4), larger ones the
    dense configs' ring at every stage."""
    expand = CLASSIFICATION_EXPAND_SIZES if max(size) <= 224 else DENSE_EXPAND_SIZES
    torch.manual_seed(0)
    focal = FocalTransformer(arch, expand_sizes=expand, drop_path_rate=0.0)
    focal.init_weights()
    if model == 'reference':
        swap_layer_types(focal, {FocalAttention: RolledFocalAttention})
    elif model == 'attention_free':
        make_attention_free(focal)
    elif model != 'mmfreq':
        raise KeyError(f'Focal benchmark has no model {model!r}')
    return focal.eval()


# AA-ResNet
DETECTION_STAGES = (False, False, True, True)  # configs/*aa_r50* detection and segmentation
CLASSIFICATION_STAGES = (False, True, True, True)  # configs/aa_r50_in1k.py


def build_aa_resnet(arch: str, model: str, size: Tuple[int, int]) -> nn.Module:
    """AA-ResNet of depth ``arch`` with seed-0 weights; 'reference': every
    AA-Conv in the paper formulation (:class:`~mmfreq.reference.PaperAAConv2d`),
    'attention_free': each AA-Conv reduced to its convolution and 1x1
    projections. Inputs larger than 224 get the detection configs'
    augmented stages (3-4), others the ImageNet config's (2-4)."""
    stages = DETECTION_STAGES if max(size) > 224 else CLASSIFICATION_STAGES
    torch.manual_seed(0)
    aa_resnet = AAResNet(int(arch), stage_with_aa=stages)
    if model == 'reference':
        swap_layer_types(aa_resnet, {AAConv2d: PaperAAConv2d})
    elif model == 'attention_free':
        make_attention_free(aa_resnet)
    elif model != 'mmfreq':
        raise KeyError(f'AA-ResNet benchmark has no model {model!r}')
    return aa_resnet.eval()


# FDAM-ViT
FDAM_MODELS = {'vit': (False, False), 'vit+att_inv': (True, False),
               'vit+freq_scale': (False, True), 'mmfreq': (True, True)}


def build_fdam_vit(arch: str, model: str, size: Tuple[int, int]) -> nn.Module:
    """FDAM-ViT with seed-0 weights: 'mmfreq' with AttInv and FreqScale,
    'vit' with neither (the bound: what FDAM adds to), 'vit+att_inv',
    'vit+freq_scale' with one; 'reference': mmfreq's FDAM-ViT with AttInv and
    FreqScale in the FDAM code's steps
    (:class:`~mmfreq.reference.ExplicitFDAMViT`), same weights."""
    torch.manual_seed(0)
    if model == 'reference':
        fdam = FDAMViT(arch)
        reference = ExplicitFDAMViT(arch)
        reference.load_state_dict(fdam.state_dict())
        return reference.eval()
    if model not in FDAM_MODELS:
        raise KeyError(f'FDAM benchmark has no model {model!r}')
    att_inv, freq_scale = FDAM_MODELS[model]
    return FDAMViT(arch, att_inv=att_inv, freq_scale=freq_scale).eval()


# FreqScale alone, with each of its two transforms
class ResidualFreqScale(nn.Module):
    """``x + FreqScale(x)`` on (B, H, W, C) maps, always with one transform.

    Args:
        channels: C.
        transform: 'fft' (``torch.fft``) or 'dft_matrices'.
    """

    def __init__(self, channels: int, transform: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.freq_scale = FreqScale(channels)
        # 0: torch.fft at every size; 2**31: DFT matrices at every size
        self.freq_scale.matrix_dft_max_side = dict(fft=0, dft_matrices=2**31)[transform]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return add_freq_scale(x, self.freq_scale)


def build_freq_scale(arch: str, model: str, size: Tuple[int, int]) -> nn.Module:
    """One residual FreqScale of ``arch`` channels; 'reference': with
    ``torch.fft``, 'dft_matrices': with the DFT matrices (the two transforms
    ``FreqScale.matrix_dft_max_side`` chooses between by grid side)."""
    return ResidualFreqScale(int(arch), 'fft' if model == 'reference' else model).eval()


GRID_SIDES = (16, 32, 48, 64, 96, 128)


def _grid_shape(arch: str, row: Row) -> Tuple[int, ...]:
    return (row.batch, *row.size, int(arch))


def _rows(inference: Sequence[int], training: Sequence[int], batch: int) -> Tuple[Row, ...]:
    return (*(Row('inference', (s, s), 1) for s in inference),
            *(Row('training_step', (s, s), batch) for s in training))


FAMILIES: Dict[str, Family] = {
    'van': Family(
        'VAN', build_van, 'b2', "mmpretrain's VAN (the official network, stage-norm eps 1e-6)",
        ('mmfreq', 'mmfreq_deploy', 'attention_free'), _rows([512], [512, 224], 2),
        bound='attention_free', inference_only=('mmfreq_deploy',)),
    'focal': Family(
        'Focal', build_focal, 'tiny',
        'rolled formulation (RolledFocalAttention: rolled copies, materialised attention)',
        ('mmfreq', 'attention_free'), _rows([224], [224], 2), bound='attention_free'),
    'aa_resnet': Family(
        'AA-ResNet', build_aa_resnet, '50', 'paper formulation (PaperAAConv2d)',
        ('mmfreq', 'attention_free'), _rows([512], [512, 224], 2), bound='attention_free'),
    'fdam': Family(
        'FDAM-ViT', build_fdam_vit, 'base',
        "FDAM-ViT with AttInv and FreqScale in the FDAM code's steps (ExplicitFDAMViT)",
        ('mmfreq', 'vit', 'vit+att_inv', 'vit+freq_scale'), _rows([512], [512], 1), bound='vit',
        compiled=('reference', 'mmfreq', 'vit'),
        other_functions=('vit', 'vit+att_inv', 'vit+freq_scale')),
    'freq_scale': Family(
        'FreqScale', build_freq_scale, '768', 'FreqScale with torch.fft',
        ('dft_matrices',), _rows(GRID_SIDES, GRID_SIDES, 1), compiled=(),
        input_shape=_grid_shape),
}


def max_abs_difference(outputs, expected) -> float:
    """Largest ``|a - b|`` over every tensor of two outputs of the same
    structure (a tensor, or nested tuples, lists and dicts of them).

    Raises:
        ValueError: the outputs differ in structure or in a tensor's shape.
    """
    leaves, spec = torch.utils._pytree.tree_flatten(outputs)
    expected_leaves, expected_spec = torch.utils._pytree.tree_flatten(expected)
    if spec != expected_spec:
        raise ValueError(f'outputs differ in structure: {spec} vs {expected_spec}')
    largest = 0.0
    for a, b in zip(leaves, expected_leaves):
        if a.shape != b.shape:
            raise ValueError(f'outputs differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}')
        largest = max(largest, (a.float() - b.float()).abs().max().item())
    return largest


def output_differences(family: Family, arch: str, row: Row, device: str = 'cpu'
                       ) -> Dict[str, float]:
    """:func:`max_abs_difference` of each eager model against the reference on
    one input of ``row``'s shape, in eval mode without gradients; the bound
    and models of another function are left out."""
    torch.manual_seed(1)
    inputs = torch.randn(*family.shape(arch, row), device=device)
    with torch.no_grad():
        expected = family.build(arch, 'reference', row.size).to(device)(inputs)
        return {name: max_abs_difference(family.build(arch, name, row.size).to(device)(inputs),
                                         expected)
                for name in family.models_of(row)
                if name not in ('reference', family.bound, *family.other_functions)}


def row_record(family_name: str, arch: str, row: Row, results: Dict[str, Dict[str, float]],
               differences: Dict[str, float], environment: dict) -> dict:
    """The result line of one row (the format in this module's docstring)."""
    family = FAMILIES[family_name]
    return dict(family=family_name, arch=arch, mode=row.mode,
                shape=list(family.shape(arch, row)), reference=family.reference,
                bound=family.bound,
                results={name: dict(latency_ms=r['latency_ms'], peak_mb=r['peak_mb'])
                         for name, r in results.items()},
                max_abs_diff=differences, **environment)
