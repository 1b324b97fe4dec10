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
- ``params``: ``{model: parameter count}`` of every eager model
  (:func:`parameter_counts`; older lines have none);
- the machine and run fields of :func:`mmfreq.analysis.benchmarking.start_record`.

The reference formulations are those of :mod:`mmfreq.reference`. The FDAM
host families (``fdam_mit``, ``fdam_deit_s``, ``fdam_mit_ablation``) have
no reference formulation: their reference is the host without FDAM, and
the FDAM models compute another function, so their ratio to the reference
is FDAM's cost over the host; the installed mmseg module of the host on the
same weights is the one parity check in them.
"""
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mmfreq.models import VAN, AAResNet, FDAMDeiT3, FDAMMiT, FDAMVisionTransformer, FocalTransformer
from mmfreq.models.backbones import convert_van_state_dict, convert_vit_state_dict
from mmfreq.models.layers import AAConv2d, AttInv, FocalAttention, FreqScale, add_freq_scale
from mmfreq.reference import (
    ExplicitFDAMDeiT3,
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
        extra_fields: ``extra_fields(arch, row)``: more fields of its lines.
        arch_rows: ``arch_rows(arch)``: default rows of an arch, where they
            differ by arch (then ``rows`` are the default arch's).
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
    extra_fields: Optional[Callable[[str, Row], dict]] = field(default=None)
    arch_rows: Optional[Callable[[str], Tuple[Row, ...]]] = field(default=None)

    def shape(self, arch: str, row: Row) -> Tuple[int, ...]:
        """The input shape of ``row``."""
        if self.input_shape is not None:
            return self.input_shape(arch, row)
        return (row.batch, 3, *row.size)

    def rows_for(self, arch: str) -> Tuple[Row, ...]:
        """The default rows of ``arch``."""
        return self.rows if self.arch_rows is None else self.arch_rows(arch)

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


def _as_model(network: nn.Module, model: str, reference_layers: Dict[type, type]) -> nn.Module:
    """mmfreq's ``network`` as the benchmark's ``model`` (in eval mode): 'mmfreq'
    as it is, 'reference' with its attention layers swapped for their reference
    formulation (``reference_layers``, on the same weights), 'attention_free'
    with its attention at no cost."""
    if model == 'reference':
        swap_layer_types(network, reference_layers)
    elif model == 'attention_free':
        make_attention_free(network)
    elif model != 'mmfreq':
        raise KeyError(f'{type(network).__name__} benchmark has no model {model!r}')
    return network.eval()


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
    return _as_model(focal, model, {FocalAttention: RolledFocalAttention})


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
    return _as_model(aa_resnet, model, {AAConv2d: PaperAAConv2d})


# FDAM-DeiT3
FDAM_MODELS = {'vit': (False, False), 'vit+att_inv': (True, False),
               'vit+freq_scale': (False, True), 'mmfreq': (True, True)}


def build_fdam_vit(arch: str, model: str, size: Tuple[int, int]) -> nn.Module:
    """FDAM-DeiT3 with seed-0 weights: 'mmfreq' with AttInv and FreqScale,
    'vit' with neither (the bound: what FDAM adds to), 'vit+att_inv',
    'vit+freq_scale' with one; 'reference': mmfreq's FDAM-DeiT3 with AttInv and
    FreqScale in the FDAM code's steps
    (:class:`~mmfreq.reference.ExplicitFDAMDeiT3`), same weights."""
    torch.manual_seed(0)
    if model == 'reference':
        fdam = FDAMDeiT3(arch)
        reference = ExplicitFDAMDeiT3(arch)
        reference.load_state_dict(fdam.state_dict())
        return reference.eval()
    if model not in FDAM_MODELS:
        raise KeyError(f'FDAM benchmark has no model {model!r}')
    att_inv, freq_scale = FDAM_MODELS[model]
    return FDAMDeiT3(arch, att_inv=att_inv, freq_scale=freq_scale).eval()


# FDAM on mmseg's hosts: SegFormer's Mix Transformer and mmseg's DeiT-S ViT.
# The host is built by the installed mmseg with seed-0 weights (mmseg's
# initialisation); every mmfreq model takes the host's weights, and the FDAM
# parameters their own seed-0 initialisation.
FDAM_HOST_MODELS = {'reference': (False, False), 'mmfreq': (True, True),
                    'host+att_inv': (True, False), 'host+freq_scale': (False, True)}
FDAM_HOST_OTHER_FUNCTIONS = ('mmfreq', 'host+att_inv', 'host+freq_scale')


def _with_host_weights(model: nn.Module, host: nn.Module, convert=None) -> nn.Module:
    """``model`` (seed-0 FDAM parameters) with every weight of mmseg's ``host``.

    Raises:
        KeyError: a host weight has no place in ``model``, or a parameter
            of ``model`` that is no FDAM parameter got no host weight.
    """
    state = host.state_dict() if convert is None else convert(host.state_dict())
    missing, unexpected = model.load_state_dict(state, strict=False)
    not_fdam = [k for k in missing if '.att_inv.' not in k and 'freq_scale.' not in k]
    if unexpected or not_fdam:
        raise KeyError(f'host weights do not fit {type(model).__name__}: unexpected '
                       f'{unexpected[:3]}, missing {not_fdam[:3]}')
    return model


def _mmseg_mit(arch: str) -> nn.Module:
    from mmseg.models.backbones import MixVisionTransformer

    torch.manual_seed(0)
    host = MixVisionTransformer(**FDAMMiT.arch_zoo[arch])
    host.init_weights()
    host.eval()  # (mmseg's train() returns None)
    return host


def build_fdam_mit(arch: str, model: str, size: Tuple[int, int],
                   freq_scale_cfg: Optional[dict] = None) -> nn.Module:
    """SegFormer's encoder MiT-``arch``: 'mmseg', mmseg's
    ``MixVisionTransformer`` with seed-0 weights; 'reference', mmfreq's
    FDAMMiT with FDAM off (the plain host) on those weights; 'mmfreq' with
    AttInv and FreqScale, 'host+att_inv' and 'host+freq_scale' with one
    (FreqScale with ``freq_scale_cfg``, default FDAM's trained one)."""
    host = _mmseg_mit(arch)
    if model == 'mmseg':
        return host
    if model not in FDAM_HOST_MODELS:
        raise KeyError(f'FDAM-MiT benchmark has no model {model!r}')
    att_inv, freq_scale = FDAM_HOST_MODELS[model]
    torch.manual_seed(0)
    mit = FDAMMiT(arch, att_inv=att_inv, freq_scale=freq_scale,
                  freq_scale_cfg=freq_scale_cfg or {})
    return _with_host_weights(mit, host).eval()


# mmseg's DeiT UperNet backbones (vit/vit_deit-s16_upernet_8xb2-160k_ade20k-512x512.py
# on _base_/models/upernet_vit-b16_ln_mln.py), with the patch bias of
# configs/upernet_deit_s.py; 'tiny' is DeiT-Ti's width (for quick checks)
DEIT_ARCHS = {'small': dict(embed_dims=384, num_heads=6), 'tiny': dict(embed_dims=192, num_heads=3)}
DEIT_ARGS = dict(img_size=(512, 512), patch_size=16, num_layers=12, mlp_ratio=4,
                 out_indices=(2, 5, 8, 11), qkv_bias=True, drop_path_rate=0.1,
                 with_cls_token=True, norm_cfg=dict(type='LN', eps=1e-6),
                 act_cfg=dict(type='GELU'), interpolate_mode='bicubic', patch_bias=True)


def build_fdam_deit(arch: str, model: str, size: Tuple[int, int]) -> nn.Module:
    """mmseg's DeiT-``arch`` UperNet backbone: 'mmseg', mmseg's
    ``VisionTransformer`` with seed-0 weights; 'reference',
    FDAMVisionTransformer with FDAM off (the plain host) on those weights;
    'mmfreq' with AttInv and FreqScale, 'host+att_inv' and 'host+freq_scale'
    with one. The position embedding is learned at 512x512 (the config's)."""
    from mmseg.models.backbones import VisionTransformer

    args = {**DEIT_ARGS, **DEIT_ARCHS[arch]}
    torch.manual_seed(0)
    host = VisionTransformer(**args)
    host.init_weights()
    host.eval()  # (mmseg's train() returns None)
    if model == 'mmseg':
        return host
    if model not in FDAM_HOST_MODELS:
        raise KeyError(f'FDAM-DeiT benchmark has no model {model!r}')
    att_inv, freq_scale = FDAM_HOST_MODELS[model]
    torch.manual_seed(0)
    vit = FDAMVisionTransformer(**args, att_inv=att_inv, freq_scale=freq_scale)
    grid = vit.pretrain_grid
    return _with_host_weights(vit, host, lambda s: convert_vit_state_dict(s, grid)).eval()


# FreqScale's number of basis filters and groups in FDAM-MiT
ABLATION_FILTERS = (2, 4, 8)
ABLATION_GROUPS = (8, 16, 32)
ABLATION_SETTINGS = {f'filters{n}_groups{g}': dict(num_filters=n, groups=g)
                     for n in ABLATION_FILTERS for g in ABLATION_GROUPS}


def build_fdam_mit_ablation(arch: str, model: str, size: Tuple[int, int]) -> nn.Module:
    """'reference': the plain MiT-``arch`` (FDAMMiT with FDAM off, mmseg's
    seed-0 weights); 'filters{n}_groups{g}': FDAM-MiT whose FreqScales have
    n basis filters and g groups (FDAM's trained basis size and router
    otherwise) on those weights."""
    if model == 'reference':
        return build_fdam_mit(arch, model, size)
    if model not in ABLATION_SETTINGS:
        raise KeyError(f'FDAM-MiT ablation has no model {model!r}')
    return build_fdam_mit(arch, 'mmfreq', size, ABLATION_SETTINGS[model])


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


# FDAM's layers alone on the grids of its hosts at 512x512 input: per grid side,
# (channels, heads, FreqScale uses, AttInv uses) of one forward of the host
FDAM_HOST_GRIDS = {
    'mit_b0': {128: (32, 1, 4, 2), 64: (64, 2, 4, 2), 32: (160, 5, 4, 2), 16: (256, 8, 4, 2)},
    'deit_s': {32: (384, 6, 24, 12)},
    'deit3_b': {32: (768, 12, 24, 12)},
}
# uses timed per pass: the driver's times are in 0.1 ms
LAYER_USES_PER_PASS = 10


class LayerUses(nn.Module):
    """:data:`LAYER_USES_PER_PASS` independent uses of one of FDAM's layers, or
    of the bare ``rfft2`` + ``irfft2`` pair, on one (B, C, H, W) input.

    The input is read in the layout each takes, without a copy: channels-first
    for the pair, the same memory as a channels-last (B, H, W, C) map for
    FreqScale, as (B, H*W, C) tokens and (B, heads, H*W, C / heads) attention
    output and values for AttInv. In training mode the input gets a gradient,
    as in the middle of a network.

    Args:
        layer: 'transform_pair', 'freq_scale' or 'att_inv'.
        channels: C.
        heads: AttInv's heads.
    """

    def __init__(self, layer: str, channels: int, heads: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layer = layer
        self.freq_scale = FreqScale(channels) if layer == 'freq_scale' else None
        self.att_inv = AttInv(channels, heads) if layer == 'att_inv' else None

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        if self.training:
            x = x.detach().requires_grad_()
        b, c, h, w = x.shape
        return [self._use(x, b, c, h, w) for _ in range(LAYER_USES_PER_PASS)]

    def _use(self, x: torch.Tensor, b: int, c: int, h: int, w: int) -> torch.Tensor:
        if self.freq_scale is not None:
            return self.freq_scale(x.view(b, h, w, c))
        if self.att_inv is not None:
            heads = self.att_inv.num_heads
            per_head = x.view(b, heads, h * w, c // heads)
            return self.att_inv(x.view(b, h * w, c), per_head, per_head)
        return torch.fft.irfft2(torch.fft.rfft2(x, norm='forward'), s=(h, w), norm='forward')


FDAM_LAYERS = {'reference': 'transform_pair', 'freq_scale': 'freq_scale', 'att_inv': 'att_inv'}


def build_fdam_layers(arch: str, model: str, size: Tuple[int, int]) -> nn.Module:
    """'reference': the bare transform pair; 'freq_scale', 'att_inv': FDAM's
    trained FreqScale and AttInv, each :data:`LAYER_USES_PER_PASS` times on a
    map of host ``arch``'s grid of side ``size[0]``."""
    if model not in FDAM_LAYERS:
        raise KeyError(f'FDAM layer benchmark has no model {model!r}')
    channels, heads = FDAM_HOST_GRIDS[arch][size[0]][:2]
    return LayerUses(FDAM_LAYERS[model], channels, heads).eval()


def fdam_layer_flops(channels: int, heads: int, h: int, w: int, groups: int = 16,
                     num_filters: int = 4, basis_size: int = 14,
                     router_ratio: float = 0.0625) -> Dict[str, int]:
    """Floating-point operations (a multiply-add is two) of one use on a
    (C, H, W) map: 'reference', the transform pair (2.5 C HW log2 HW each
    way); 'freq_scale', the pair and what FreqScale adds (router, basis
    resize, per-image mix, filter product); 'att_inv', AttInv's gates and
    its combination of the attention output and values."""
    n, half, basis_half = h * w, w // 2 + 1, basis_size // 2 + 1
    pair = 5 * channels * n * math.log2(max(n, 2))
    hidden = max(1, int(channels * router_ratio))
    router = 2 * (channels * hidden + hidden * groups * num_filters) + channels
    resize = 2 * num_filters * channels // groups * h * basis_half * (basis_size + half)
    mix_and_product = 2 * num_filters * channels * h * half + 2 * channels * h * half
    gates = 2 * n * channels * (1 + 2 * heads) + 20 * n * heads
    return {'reference': round(pair), 'freq_scale': round(pair + router + resize + mix_and_product),
            'att_inv': gates + 7 * n * channels}


def _fdam_layer_fields(arch: str, row: Row) -> dict:
    channels, heads, freq_scales, att_invs = FDAM_HOST_GRIDS[arch][row.size[0]]
    return dict(uses_per_pass=LAYER_USES_PER_PASS,
                host_uses={'freq_scale': freq_scales, 'att_inv': att_invs},
                flops=fdam_layer_flops(channels, heads, *row.size))


def _fdam_layer_rows(arch: str) -> Tuple[Row, ...]:
    if arch not in FDAM_HOST_GRIDS:
        raise KeyError(f'FDAM layer benchmark has no host {arch!r}: one of '
                       f'{", ".join(FDAM_HOST_GRIDS)}')
    sides = list(FDAM_HOST_GRIDS[arch])
    return _rows(sides, sides, 2)


def _fdam_layer_shape(arch: str, row: Row) -> Tuple[int, ...]:
    return (row.batch, FDAM_HOST_GRIDS[arch][row.size[0]][0], *row.size)


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
        'FDAM-DeiT3', build_fdam_vit, 'base',
        "FDAM-DeiT3 with AttInv and FreqScale in the FDAM code's steps (ExplicitFDAMDeiT3)",
        ('mmfreq', 'vit', 'vit+att_inv', 'vit+freq_scale'), _rows([512], [512], 1), bound='vit',
        compiled=('reference', 'mmfreq', 'vit'),
        other_functions=('vit', 'vit+att_inv', 'vit+freq_scale')),
    'fdam_mit': Family(
        'FDAM-MiT', build_fdam_mit, 'b0',
        "the host without FDAM: FDAMMiT with FDAM off, on mmseg's seed-0 MiT weights",
        ('mmfreq', 'mmseg', 'host+att_inv', 'host+freq_scale'), _rows([512], [512], 2),
        other_functions=FDAM_HOST_OTHER_FUNCTIONS),
    'fdam_deit_s': Family(
        'FDAM-DeiT', build_fdam_deit, 'small',
        "the host without FDAM: FDAMVisionTransformer with FDAM off, on mmseg's seed-0 "
        'DeiT-S ViT weights',
        ('mmfreq', 'mmseg', 'host+att_inv', 'host+freq_scale'), _rows([512], [512], 2),
        other_functions=FDAM_HOST_OTHER_FUNCTIONS),
    'fdam_mit_ablation': Family(
        'FDAM-MiT ablation', build_fdam_mit_ablation, 'b0',
        "the host without FDAM: FDAMMiT with FDAM off, on mmseg's seed-0 MiT weights",
        tuple(ABLATION_SETTINGS), _rows([512], [512], 2), compiled=(),
        other_functions=tuple(ABLATION_SETTINGS)),
    'freq_scale': Family(
        'FreqScale', build_freq_scale, '768', 'FreqScale with torch.fft',
        ('dft_matrices',), _rows(GRID_SIDES, GRID_SIDES, 1), compiled=(),
        input_shape=_grid_shape),
    'fdam_layers': Family(
        'FDAM layers', build_fdam_layers, 'mit_b0',
        'the bare rfft2 + irfft2 pair on the same channels-first map',
        ('freq_scale', 'att_inv'), _fdam_layer_rows('mit_b0'), compiled=(),
        other_functions=('freq_scale', 'att_inv'), input_shape=_fdam_layer_shape,
        extra_fields=_fdam_layer_fields, arch_rows=_fdam_layer_rows),
}


def _lists_as_tuples(outputs):
    if isinstance(outputs, (list, tuple)):
        return tuple(_lists_as_tuples(x) for x in outputs)
    if isinstance(outputs, dict):
        return {k: _lists_as_tuples(v) for k, v in outputs.items()}
    return outputs


def max_abs_difference(outputs, expected) -> float:
    """Largest ``|a - b|`` over every tensor of two outputs of the same
    structure (a tensor, or nested tuples, lists and dicts of them; a list
    and a tuple of the same items are the same structure: mmseg's backbones
    return lists where mmfreq's return tuples).

    Raises:
        ValueError: the outputs differ in structure or in a tensor's shape.
    """
    leaves, spec = torch.utils._pytree.tree_flatten(_lists_as_tuples(outputs))
    expected_leaves, expected_spec = torch.utils._pytree.tree_flatten(
        _lists_as_tuples(expected))
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


def parameter_counts(family: Family, arch: str, row: Row) -> Dict[str, int]:
    """The number of parameters of each eager model of ``row``."""
    return {name: sum(p.numel() for p in family.build(arch, name, row.size).parameters())
            for name in family.models_of(row)}


def row_record(family_name: str, arch: str, row: Row, results: Dict[str, Dict[str, float]],
               differences: Dict[str, float], params: Dict[str, int],
               environment: dict) -> dict:
    """The result line of one row (the format in this module's docstring)."""
    family = FAMILIES[family_name]
    return dict(family=family_name, arch=arch, mode=row.mode,
                shape=list(family.shape(arch, row)), reference=family.reference,
                bound=family.bound,
                results={name: dict(latency_ms=r['latency_ms'], peak_mb=r['peak_mb'])
                         for name, r in results.items()},
                max_abs_diff=differences, params=params,
                **(family.extra_fields(arch, row) if family.extra_fields else {}), **environment)
