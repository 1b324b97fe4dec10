# The narrow AA-ResNet-50 of the synthetic-data configs (16 base channels, 4
# heads), as a variable (a config cannot inherit two `model` bases):
# `_base_.narrow_aa_r50_backbone`.
narrow_aa_r50_backbone = dict(
    type='mmfreq.AAResNet',
    depth=50,
    stem_channels=16,
    base_channels=16,
    num_heads=4)
