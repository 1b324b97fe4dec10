"""Importing this module turns on mmfreq's safe checkpoint loader for mmengine,
for the rest of the process.

mmengine 0.10 checkpoints pickle a few non-tensor types, which torch >= 2.6's
``weights_only`` loader refuses, so resuming or loading one fails with
``UnpicklingError: ... HistoryBuffer``. This import registers
:func:`mmfreq.utils.load_from_local_safely` as mmengine's loader for local
files: exactly those types are allowed, anything else is refused (see
:mod:`mmfreq.utils.checkpoint`). ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` still
loads a file the user trusts without the check.

Importing ``mmfreq`` or ``mmfreq.models`` does not do this. mmfreq's configs
ask for it, so the host toolboxes' own tools and inferencers get it too::

    custom_imports = dict(imports=['mmfreq.models', 'mmfreq.safe_loading'],
                          allow_failed_imports=False)

The switch is process-wide and stays on: an import is all a config can do,
and the host's tools load checkpoints long after reading it, with no block
to leave (mmengine keeps one table of loaders per process). Python code that
wants it for one block uses :func:`mmfreq.utils.safe_checkpoint_loading`,
which restores the previous loader on leaving;
:func:`mmfreq.utils.disable_safe_checkpoint_loading` gives mmengine its own
loader back.
"""
from mmfreq.utils.checkpoint import enable_safe_checkpoint_loading

enable_safe_checkpoint_loading()
