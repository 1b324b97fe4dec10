"""Small built-in datasets, and checks of any dataset's files.

``synthetic_scenes`` writes the files (numpy, Pillow and OpenCV; also a CLI),
``detail_scenes`` those of the detail scenes; ``synthetic_ade`` reads both as
mmseg datasets and registers them in the mmfreq scope, which imports it on
first use of ``mmfreq.SyntheticADE20KDataset`` or ``mmfreq.SyntheticDetailDataset``.
``doctor`` checks a config's dataset files (``tools/misc/check_dataset.py``);
``preflight`` holds the checks the tools run before the first step;
``transforms`` holds ``mmfreq.CheckedPipeline``, the pipeline wrapper that
names the files of a sample that fails to load; ``labels`` the rules a
segmentation label must satisfy, which both check.
"""
