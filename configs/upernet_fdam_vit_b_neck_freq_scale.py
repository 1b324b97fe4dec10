# upernet_fdam_vit_b.py with a residual FreqScale on every pyramid level as
# well (+4 x 61,442 parameters), to give back the detail that the transposed-conv
# upsampling blurs. mmfreq's extension: the official FDAM model has no FreqScale
# in the neck, and no paper reports this variant.
_base_ = './upernet_fdam_vit_b.py'

model = dict(neck=dict(freq_scale=True))
