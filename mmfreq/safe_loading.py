"""Importing this module makes mmengine load local checkpoints through mmfreq's
safe unpickler (:mod:`mmfreq.utils.safe_unpickling`) for the rest of the process.

mmfreq's configs ask for it, so the host toolboxes' tools and inferencers get it too::

    custom_imports = dict(imports=['mmfreq.models', 'mmfreq.safe_loading'],
                          allow_failed_imports=False)

For one block, use :func:`mmfreq.utils.safe_checkpoint_loading` instead; why
the switch is process-wide: "Safe loading" in docs/reliability.md.
"""
from mmfreq.utils.safe_unpickling import enable_safe_checkpoint_loading

enable_safe_checkpoint_loading()
