# Ablation of segformer_mit_b0_fdam_detail.py: AttInv alone in every encoder block,
# FreqScale off. Same data and schedule.
_base_ = './segformer_mit_b0_detail.py'

model = dict(backbone=dict(att_inv=True))
