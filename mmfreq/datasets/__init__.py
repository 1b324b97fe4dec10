"""Small built-in datasets, and checks of any dataset's files.

``synthetic_scenes`` writes the files (numpy, Pillow and OpenCV; also a CLI);
``synthetic_ade`` reads them as an mmseg dataset and registers it in the
mmfreq scope, which imports it on first use of ``mmfreq.SyntheticADE20KDataset``.
``doctor`` checks a config's dataset files (``tools/misc/check_dataset.py``);
``preflight`` holds the checks the tools run before the first step;
``transforms`` holds ``mmfreq.CheckedPipeline``, the pipeline wrapper that
names the files of a sample that fails to load; ``labels`` the rules a
segmentation label must satisfy, which both check.
"""
