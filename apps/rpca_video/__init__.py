"""rpca-video: video background / foreground separation (low-rank background, sparse foreground).

Phase 1: the methods (:mod:`.methods` batch, :mod:`.stream` block by block with bounded memory), the
foreground-mask rule (:mod:`.masks`), the readers (:mod:`.readers`), the deep unfolded ``rpcanet``
model (:mod:`.rpcanet`).  The App class and CLI wiring come with the platform's streaming input.
"""
