# upernet_focal_t.py with FDAM as a plug-in: AttInv in every focal attention and
# a residual FreqScale after every attention and MLP (FDAM's lr_mult 2 on the
# FreqScale parameters). The FDAM parameters are not in the Focal-T ImageNet
# checkpoint and start fresh near zero; the log lists them. Tests the FDAM
# paper's claim beyond plain ViTs (not reported in either paper).
_base_ = './upernet_focal_t.py'

model = dict(backbone=dict(fdam=True))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'freq_scale': dict(lr_mult=2.0)}))
