"""Checks of a trained FDAM model for the defects that would make FDAM do
nothing (issue 35): FreqScale bases and AttInv gammas still at their 1e-5
initialisation, layers whose output is negligible against their input, and
parameters that no gradient reaches.

For every :class:`FreqScale` and :class:`AttInv` of a model, by module name:

- weights: the basis' std and max |value| against ``init_std`` and the
  router's last weight norm (FreqScale); mean / min / max of each gamma
  against ``gamma_init`` and the gate weight norms (AttInv);
- activity, by forward hooks on real images: mean |alpha| (the router's tanh
  mixing weights) and ``||FS(x)|| / ||x||`` (FreqScale), ``||out - AV|| /
  ||AV||`` (AttInv), each pooled over every call (the norms of all images);
- gradients: each parameter's norm and gradient norm after one backward of
  the model's training loss.
"""
import math
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import torch
import torch.nn as nn

from mmfreq.models.layers import AttInv, FreqScale

#: FreqScale's ``init_std`` and AttInv's ``gamma_init`` defaults (FDAM's).
DEFAULT_INIT = 1e-5
KINDS = {'freq_scale': FreqScale, 'att_inv': AttInv}
Report = Dict[str, Any]


def fdam_modules(model: nn.Module) -> Dict[str, List[Tuple[str, nn.Module]]]:
    """``{'freq_scale': [(name, module), ...], 'att_inv': [...]}`` in definition order."""
    return {kind: [(name, m) for name, m in model.named_modules() if isinstance(m, cls)]
            for kind, cls in KINDS.items()}


def check_fdam(model: nn.Module) -> None:
    """Raise a ValueError naming the model when it has no FreqScale and no AttInv."""
    if not any(fdam_modules(model).values()):
        raise ValueError(f'{type(model).__name__} has no FreqScale and no AttInv: '
                         'FDAM is switched off in this model')


def _norm(t: Optional[torch.Tensor]) -> Optional[float]:
    return None if t is None else float(t.detach().double().norm())


def freq_scale_weights(module: FreqScale) -> Dict[str, float]:
    """The basis' std and max |value| against its init std, and the router's
    last weight norm."""
    basis = module.basis.detach().double()
    init_std = getattr(module, 'init_std', DEFAULT_INIT)
    std = float(basis.std(unbiased=False))
    last = [m for m in module.router.modules() if isinstance(m, nn.Linear)][-1]
    return dict(basis_std=std, basis_max_abs=float(basis.abs().max()), init_std=init_std,
                std_ratio=std / init_std, router_last_weight_norm=_norm(last.weight))


def att_inv_weights(module: AttInv) -> Dict[str, Any]:
    """Mean / min / max of each gamma (None where the term is off), their
    init value, and the gate weight norms."""
    report: Dict[str, Any] = dict(gamma_init=getattr(module, 'gamma_init', DEFAULT_INIT))
    for term in ('lowpass', 'highpass'):
        gamma, gate = getattr(module, f'{term}_gamma'), getattr(module, f'{term}_gate')
        gamma = None if gamma is None else gamma.detach().double()
        report[f'{term}_gamma'] = None if gamma is None else dict(
            mean=float(gamma.mean()), min=float(gamma.min()), max=float(gamma.max()))
        report[f'{term}_gate_weight_norm'] = None if gate is None else _norm(gate.weight)
    return report


class _Sums:
    """Running sums of squared norms (and of |alpha|) of one module's calls."""

    def __init__(self) -> None:
        self.change = self.reference = self.alpha_abs = 0.0
        self.alpha_count = 0

    def add(self, change: torch.Tensor, reference: torch.Tensor) -> None:
        self.change += float(change.detach().double().square().sum())
        self.reference += float(reference.detach().double().square().sum())

    def ratio(self) -> Optional[float]:
        if self.reference == 0:
            return None  # never called (or fed zeros)
        return math.sqrt(self.change / self.reference)


@contextmanager
def activity_hooks(model: nn.Module) -> Iterator[Dict[str, Dict[str, Optional[float]]]]:
    """Forward hooks on every FreqScale and AttInv of ``model`` while in the
    block; the yielded dict is filled on leaving it: per module name,
    ``relative_output`` and ``mean_abs_alpha`` (FreqScale) or
    ``relative_modulation`` (AttInv), None for a module never called."""
    sums: Dict[str, _Sums] = {}
    handles = []

    def on_freq_scale(sum_: _Sums) -> Callable:
        return lambda module, args, out: sum_.add(out, args[0])

    def on_router(sum_: _Sums) -> Callable:
        def hook(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
            sum_.alpha_abs += float(torch.tanh(out.detach().double()).abs().sum())
            sum_.alpha_count += out.numel()
        return hook

    def on_att_inv(sum_: _Sums) -> Callable:
        def hook(module: nn.Module, args: tuple, kwargs: dict, out: torch.Tensor) -> None:
            attn_out = args[1] if len(args) > 1 else kwargs['attn_out']
            sum_.add(out - attn_out, attn_out)
        return hook

    modules = fdam_modules(model)
    for name, module in modules['freq_scale']:
        sums[name] = _Sums()
        handles.append(module.register_forward_hook(on_freq_scale(sums[name])))
        handles.append(module.router.register_forward_hook(on_router(sums[name])))
    for name, module in modules['att_inv']:
        sums[name] = _Sums()
        handles.append(module.register_forward_hook(on_att_inv(sums[name]), with_kwargs=True))
    results: Dict[str, Dict[str, Optional[float]]] = {}
    try:
        yield results
    finally:
        for handle in handles:
            handle.remove()
    for name, _ in modules['freq_scale']:
        s = sums[name]
        results[name] = dict(relative_output=s.ratio(), mean_abs_alpha=(
            s.alpha_abs / s.alpha_count if s.alpha_count else None))
    for name, _ in modules['att_inv']:
        results[name] = dict(relative_modulation=sums[name].ratio())


def loss_backward(model: nn.Module, batch: dict) -> float:
    """One forward and backward of the training loss on a data loader batch, as
    mmengine's ``BaseModel.train_step`` computes it (without the optimizer
    step): the gradients are left in ``.grad`` (earlier ones zeroed first)."""
    model.train()
    model.zero_grad(set_to_none=True)
    data = model.data_preprocessor(batch, True)
    loss, _ = model.parse_losses(model._run_forward(data, mode='loss'))
    loss.backward()
    return float(loss.detach())


def gradient_norms(module: nn.Module) -> Dict[str, Dict[str, Optional[float]]]:
    """``{parameter name: {'norm', 'grad_norm'}}`` of ``module``'s parameters;
    ``grad_norm`` None where no gradient was stored."""
    return {name: dict(norm=_norm(p), grad_norm=_norm(p.grad))
            for name, p in module.named_parameters()}


def unreached(report: Report) -> List[str]:
    """``layer.parameter`` of every parameter in ``report`` whose gradient is
    missing, zero or not finite."""
    bad = []
    for kind in KINDS:
        for layer in report[kind]:
            for name, norms in layer['parameters'].items():
                g = norms['grad_norm']
                if g is None or g == 0 or not math.isfinite(g):
                    bad.append(f'{layer["name"]}.{name}')
    return bad


def diagnose(model: nn.Module, test_batches: Iterable[dict], train_batch: dict) -> Report:
    """The weights, the activity on ``test_batches`` (data loader batches, eval
    mode) and the gradients after :func:`loss_backward` on ``train_batch``
    of every FreqScale and AttInv of a segmentor / detector; the model is left
    in eval mode with its gradients.

    Raises:
        ValueError: the model has no FreqScale and no AttInv.
    """
    check_fdam(model)
    modules = fdam_modules(model)
    weights = {name: freq_scale_weights(m) for name, m in modules['freq_scale']}
    weights.update({name: att_inv_weights(m) for name, m in modules['att_inv']})
    model.eval()
    with torch.no_grad(), activity_hooks(model) as activity:
        for batch in test_batches:
            model._run_forward(model.data_preprocessor(batch, False), mode='tensor')
    loss = loss_backward(model, train_batch)
    model.eval()
    report: Report = dict(loss=loss)
    for kind, layers in modules.items():
        report[kind] = [dict(name=name, **weights[name], **activity[name],
                             parameters=gradient_norms(m)) for name, m in layers]
    return report


def _cell(value: Any) -> str:
    if value is None:
        return '-'
    return f'{value:.3g}' if isinstance(value, float) else str(value)


def _table(header: List[str], rows: List[List[Any]]) -> List[str]:
    # text columns (those of the first row that hold strings) flush left, numbers right
    left = [isinstance(v, str) for v in rows[0]] if rows else [True] * len(header)
    cells = [header] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ['  '.join(c.ljust(w) if is_left else c.rjust(w)
                       for c, w, is_left in zip(row, widths, left)).rstrip() for row in cells]
    return [lines[0], '-' * len(lines[0]), *lines[1:]]


def _gamma(stats: Optional[Dict[str, float]]) -> str:
    if stats is None:
        return '-'
    return f'{stats["mean"]:.3g} [{stats["min"]:.3g}, {stats["max"]:.3g}]'


def format_report(report: Report) -> str:
    """The report as plain-text tables: one of weights and activity per layer
    kind, one of parameter and gradient norms, and the gradient verdict."""
    lines = [f'FreqScale ({len(report["freq_scale"])})']
    lines += _table(['layer', 'basis std', 'init std', 'std/init', 'max|basis|',
                     'router last |W|', 'mean|alpha|', '|FS(x)|/|x|'],
                    [[r['name'], r['basis_std'], r['init_std'], r['std_ratio'],
                      r['basis_max_abs'], r['router_last_weight_norm'], r['mean_abs_alpha'],
                      r['relative_output']] for r in report['freq_scale']])
    lines += ['', f'AttInv ({len(report["att_inv"])}): gamma mean [min, max]']
    lines += _table(['layer', 'lowpass gamma', 'highpass gamma', 'init', 'lowpass gate |W|',
                     'highpass gate |W|', '|out-AV|/|AV|'],
                    [[r['name'], _gamma(r['lowpass_gamma']), _gamma(r['highpass_gamma']),
                      r['gamma_init'], r['lowpass_gate_weight_norm'],
                      r['highpass_gate_weight_norm'], r['relative_modulation']]
                     for r in report['att_inv']])
    rows = []
    for kind in KINDS:
        for layer in report[kind]:
            for i, (name, n) in enumerate(layer['parameters'].items()):
                ratio = None if n['grad_norm'] is None or not n['norm'] \
                    else n['grad_norm'] / n['norm']
                rows.append([layer['name'] if i == 0 else '', name, n['norm'], n['grad_norm'],
                             ratio])
    lines += ['', f'Gradients after one backward of the training loss ({report["loss"]:.4g})']
    lines += _table(['layer', 'parameter', '|p|', '|grad|', '|grad|/|p|'], rows)
    bad = unreached(report)
    lines.append(f'no finite, non-zero gradient reaches {len(bad)} of {len(rows)} '
                 f'parameters: {", ".join(bad)}' if bad else
                 f'all {len(rows)} parameters have finite, non-zero gradients')
    return '\n'.join(lines)
