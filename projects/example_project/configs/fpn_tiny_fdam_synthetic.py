# Semantic-FPN + the project's TinyFDAMNet on mmfreq's built-in synthetic scenes.
# custom_imports registers the backbone (run from the repository root); a list
# in a child config replaces the base's, so mmfreq's own imports are repeated.
# Everything else comes from mmfreq's small-data config.
_base_ = '../../../configs/fpn_van_t_synthetic.py'
custom_imports = dict(imports=['mmfreq.models', 'mmfreq.safe_loading',
                               'projects.example_project.tiny_fdam_net'],
                      allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='mmfreq.TinyFDAMNet', fdam=True),
    neck=dict(in_channels=[32, 64, 128, 256]))
