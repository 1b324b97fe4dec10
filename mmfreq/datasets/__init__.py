"""Small built-in datasets.

``synthetic_scenes`` writes the files (numpy, Pillow and OpenCV; also a CLI);
``synthetic_ade`` reads them as an mmseg dataset and registers it in the
mmfreq scope, which imports it on first use of ``mmfreq.SyntheticADE20KDataset``.
"""
