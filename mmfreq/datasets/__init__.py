"""Small built-in datasets.

``synthetic_scenes`` writes the files (numpy and Pillow only, also a CLI);
``synthetic_ade`` reads them as an mmseg dataset and registers it in the
mmfreq scope, which imports it on first use of ``mmfreq.SyntheticADE20KDataset``.
"""
