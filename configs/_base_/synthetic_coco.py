# The built-in synthetic COCO-format scenes (4 classes, 96-160 px, upscaled to
# 256 so that objects meet the anchors) with the from-scratch CPU schedule of the
# detectors trained on them: 3 epochs, AdamW lr 1e-3 (the VAN detection
# optimizer), 50 warm-up iterations, then cosine. A config adds a detector model
# base and its own pipelines. Make the data first:
#   python -m mmfreq.datasets.synthetic_scenes data/synthetic_coco --format coco
_base_ = [
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    './mmfreq_imports.py',
    './van.py',
]
data_root = 'data/synthetic_coco/'
metainfo = dict(classes=('disc', 'square', 'triangle', 'bar'))
scale = (256, 256)
max_epochs = 3

train_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root, metainfo=metainfo))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

optim_wrapper = dict(
    _base_.van_detection_optim_wrapper, _delete_=True,
    optimizer=dict(_base_.van_detection_optim_wrapper.optimizer, lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(max_keep_ckpts=2))
