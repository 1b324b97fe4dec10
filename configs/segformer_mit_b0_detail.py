# segformer_mit_b0_synthetic.py trained on the detail scenes (thin wires and ring
# outlines, stripes of equal mean colour that differ in frequency or orientation,
# dots beside large shapes; 10 classes) and evaluated with mIoU and Boundary IoU
# (mBIoU). The baseline of segformer_mit_b0_fdam_detail.py. 1600 iterations: the
# dots, the last class learned, appear at iteration 800 of this schedule (IoU 45,
# seed 0) and stay at 0 in an 800-iteration one, whose learning rate has decayed
# by then; docs/fdam_hosts.md has the per-class curves.
# Make the data first: python -m mmfreq.datasets.detail_scenes data/synthetic_detail
_base_ = './segformer_mit_b0_synthetic.py'
dataset_type = 'mmfreq.SyntheticDetailDataset'
data_root = 'data/synthetic_detail'
max_iters = 1600

model = dict(decode_head=dict(num_classes=10))

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
