# upernet_deit_s_synthetic.py (the CPU-sized DeiT-S: 6 blocks of 128 channels, patch 8)
# trained on the detail scenes and evaluated with mIoU and Boundary IoU (mBIoU), with
# the data of segformer_mit_b0_detail.py and twice its schedule: at 1600 iterations the
# ViT learns the dots in no seed (IoU under 11), at 3200 it does. The baseline of
# upernet_deit_s_fdam_detail.py. Make the data first:
#   python -m mmfreq.datasets.detail_scenes data/synthetic_detail
_base_ = './upernet_deit_s_synthetic.py'
dataset_type = 'mmfreq.SyntheticDetailDataset'
data_root = 'data/synthetic_detail'
max_iters = 3200

model = dict(decode_head=dict(num_classes=10), auxiliary_head=dict(num_classes=10))

train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                 dict(type='mmfreq.BoundaryIoUMetric')]
test_evaluator = val_evaluator

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=50, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=200)
default_hooks = dict(checkpoint=dict(interval=400))
