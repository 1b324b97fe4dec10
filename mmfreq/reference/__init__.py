"""Reference formulations and attention-free stand-ins of mmfreq's layers.

:mod:`~mmfreq.reference.formulations` restates what each fast layer computes
the plain way (for parity tests and as the benchmarks' baseline);
:mod:`~mmfreq.reference.attention_free` gives each attention layer a stand-in
without the attention (the benchmarks' lower bound). Both swap layer classes
in a built network (:func:`swap_layer_types`), keeping its parameters.
Importing this package changes nothing in mmfreq's own layers.
"""
from .attention_free import make_attention_free
from .formulations import (
    ExplicitAttInvAttention,
    ExplicitFDAMBlock,
    ExplicitFDAMDeiT3,
    MaterialisedAttInvAttention,
    PaperAAConv2d,
    RolledFocalAttention,
    fft_freq_scale,
    paper_aa_conv,
    rolled_focal_attention,
    swap_layer_types,
)

__all__ = [
    'ExplicitAttInvAttention', 'ExplicitFDAMBlock', 'ExplicitFDAMDeiT3',
    'MaterialisedAttInvAttention', 'PaperAAConv2d', 'RolledFocalAttention', 'fft_freq_scale',
    'make_attention_free', 'paper_aa_conv', 'rolled_focal_attention', 'swap_layer_types'
]
