"""What the benchmark scripts share: their common flags, the record every
result line starts with, latency and peak memory of modules.

Used by ``tools/analysis_tools/benchmark*.py`` (the backbone families'
entries are in :mod:`mmfreq.analysis.backbone_benchmarks`). Latencies of several modules are taken
in one process, interleaved round by round so that machine drift hits all of
them alike. Peak memory on CPU is the
growth of the resident set during one pass (Linux high-water mark, reset just
before the pass), measured in a fresh process; on CUDA it is the allocator's peak.
A pass is a forward, or with ``backward`` a training step (forward and backward).
A :class:`Compiled` builder gives the ``torch.compile`` variant of a model; its
memory is measured on a pass after the compiling one.
"""
import argparse
import json
import multiprocessing
import os
import platform
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn

Builder = Callable[[], nn.Module]


class Compiled:
    """A builder of ``torch.compile(build(), **options)``.

    Picklable when ``build`` is (a module-level function or a
    ``functools.partial`` of one), so the peak-memory process can build it.

    Args:
        build: Builder of the eager module.
        **options: Keyword arguments of ``torch.compile`` (``backend``,
            ``mode``, ``dynamic``, ...).
    """

    def __init__(self, build: Builder, **options) -> None:
        self.build, self.options = build, options

    def __call__(self) -> nn.Module:
        return torch.compile(self.build(), **self.options)


def run_once(module: nn.Module, inputs: torch.Tensor, backward: bool) -> None:
    """One forward (and backward) pass; gradients are dropped afterwards."""
    if backward:
        outputs = module(inputs)
        outputs = outputs if isinstance(outputs, (tuple, list)) else [outputs]
        sum(o.float().mean() for o in outputs).backward()
        module.zero_grad(set_to_none=True)
    else:
        with torch.no_grad():
            module(inputs)
    if inputs.is_cuda:
        torch.cuda.synchronize()


def compare_latency(modules: Dict[str, nn.Module], inputs: torch.Tensor, iters: int = 5,
                    warmup: int = 1, backward: bool = False) -> Dict[str, float]:
    """Median seconds per pass of each module, timed in interleaved rounds."""
    for module in modules.values():
        module.train(backward)
        for _ in range(warmup):
            run_once(module, inputs, backward)
    times: Dict[str, List[float]] = {name: [] for name in modules}
    for _ in range(iters):
        for name, module in modules.items():
            start = time.perf_counter()
            run_once(module, inputs, backward)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _status_bytes(field: str) -> int:
    """A ``/proc/self/status`` memory field (VmRSS, VmHWM) in bytes."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def _peak_memory_child(build: Builder, shape: Sequence[int], backward: bool,
                       threads: int, warmup: int) -> float:
    torch.set_num_threads(threads)
    module = build()
    module.train(backward)
    inputs = torch.randn(*shape)
    for _ in range(warmup):
        run_once(module, inputs, backward)
    # Reset the resident-set high-water mark, so that what building the model
    # (or importing) allocated and freed cannot hide a smaller pass.
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    baseline = _status_bytes('VmRSS')
    run_once(module, inputs, backward)
    return max(0, _status_bytes('VmHWM') - baseline) / 2 ** 20


def peak_memory_mb(build: Builder, shape: Sequence[int], backward: bool = False,
                   device: str = 'cpu', warmup: Optional[int] = None) -> float:
    """Peak memory (MiB) one pass adds on top of the model and its input.

    Args:
        build: Builder of the module; picklable (a module-level function or a
            ``functools.partial`` of one) when ``device`` is the CPU.
        shape: Input shape.
        backward: Measure a training step instead of a forward.
        device: 'cpu' or a CUDA device.
        warmup: Passes run before the measured one. Defaults to 1 for a
            :class:`Compiled` builder (the first pass compiles), else 0.
    """
    if warmup is None:
        warmup = 1 if isinstance(build, Compiled) else 0
    if device == 'cpu':
        context = multiprocessing.get_context('spawn')
        with context.Pool(1) as pool:
            return pool.apply(_peak_memory_child, (build, tuple(shape), backward,
                                                   torch.get_num_threads(), warmup))
    module = build().to(device)
    module.train(backward)
    inputs = torch.randn(*shape, device=device)
    for _ in range(warmup):
        run_once(module, inputs, backward)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    baseline = torch.cuda.memory_allocated()
    run_once(module, inputs, backward)
    return (torch.cuda.max_memory_allocated() - baseline) / 2 ** 20


def append_result(path: str, record: dict) -> None:
    """Append ``record`` as one JSON line to ``path`` (folders are created)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'a') as f:
        f.write(json.dumps(record) + '\n')


def compare_models(builders: Dict[str, Builder], shape: Sequence[int], reference: str,
                   iters: int = 3, warmup: int = 1, backward: bool = False,
                   device: str = 'cpu') -> Dict[str, Dict[str, float]]:
    """Latency and peak memory of every model on one input shape, with ratios.

    Builders may be :class:`Compiled`: their warm-up rounds compile.
    Returns ``{name: {'latency_ms', 'peak_mb', 'latency_ratio', 'memory_ratio'}}``,
    the ratios taken against ``builders[reference]``.
    """
    modules = {name: build().to(device) for name, build in builders.items()}
    latency = compare_latency(modules, torch.randn(*shape, device=device), iters, warmup,
                              backward)
    del modules
    memory = {name: peak_memory_mb(build, shape, backward, device)
              for name, build in builders.items()}
    return {name: dict(latency_ms=round(latency[name] * 1e3, 1),
                       peak_mb=round(memory[name], 1),
                       latency_ratio=round(latency[name] / latency[reference], 3),
                       memory_ratio=round(memory[name] / max(memory[reference], 1e-9), 3))
            for name in builders}


def print_comparison(title: str, results: Dict[str, Dict[str, float]]) -> None:
    """One line per model: latency and peak memory with their ratios."""
    print(title)
    for name, r in results.items():
        print(f"  {name:<22} {r['latency_ms']:9.1f} ms (x{r['latency_ratio']:.2f})  "
              f"peak +{r['peak_mb']:8.1f} MiB (x{r['memory_ratio']:.2f})")


def benchmark_parser(doc: str, out: str, iters: int = 3) -> argparse.ArgumentParser:
    """The flags every benchmark script has: ``--iters``, ``--threads``, ``--out``.

    Args:
        doc: The script's module docstring; its first line is the description.
        out: Default JSON-lines file the result is appended to.
        iters: Default number of timed rounds.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument('--iters', type=int, default=iters, help='timed rounds (median taken)')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(),
                        help='CPU threads (default: all)')
    parser.add_argument('--out', default=out, help='JSON-lines file the result is appended to')
    return parser


def start_record(args: argparse.Namespace, device: str = 'cpu', **fields) -> dict:
    """Set the thread count and return the fields every result line starts with.

    They name the machine (``device_name``, ``cpu_count``), its load when the run
    started (``load_average``: 1, 5, 15 minutes), the threads, torch's version
    and glibc's malloc settings (``GLIBC_TUNABLES``: they change how often
    freed activations are page-faulted back in, a visible share of a CPU pass).
    """
    torch.set_num_threads(args.threads)
    device_name = (torch.cuda.get_device_name() if device.startswith('cuda')
                   else platform.processor() or platform.machine())
    return dict(**fields, device=device, device_name=device_name, cpu_count=os.cpu_count(),
                load_average=[round(v, 2) for v in os.getloadavg()], threads=args.threads,
                torch=torch.__version__, glibc_tunables=os.environ.get('GLIBC_TUNABLES'),
                time=time.strftime('%Y-%m-%dT%H:%M:%S'))


def save_record(args: argparse.Namespace, record: dict) -> None:
    """Append ``record`` to ``--out`` and say where it went."""
    append_result(args.out, record)
    print(f'appended to {args.out}')
