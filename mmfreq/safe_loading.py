"""Importing this module turns on mmfreq's safe checkpoint loader for mmengine.

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

In Python, :func:`mmfreq.utils.enable_safe_checkpoint_loading` does the same,
:func:`mmfreq.utils.checkpoint.disable_safe_checkpoint_loading` gives mmengine
its own loader back, and :func:`mmfreq.utils.checkpoint.safe_checkpoint_loading`
turns the safe loader on for one ``with`` block.
"""
from mmfreq.utils.checkpoint import enable_safe_checkpoint_loading

enable_safe_checkpoint_loading()
