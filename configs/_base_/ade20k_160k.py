# ADE20K at 512x512 (crop_size), mmseg's runtime and 160k-iteration schedule,
# with mmfreq's modules: the pieces every 160k ADE20K config shares.
_base_ = [
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
    './mmfreq_imports.py',
]
