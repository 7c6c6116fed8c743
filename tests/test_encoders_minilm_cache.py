"""The shared MiniLM embeds a question once, even when several channels ask for it at once."""

from __future__ import annotations

import threading

import numpy as np

from mmrag.encoders.minilm import MiniLMEncoder, clear_query_cache


def test_parallel_channels_embed_one_question_once():
    encoders = [MiniLMEncoder() for _ in range(4)]  # the text encoder and three translators' query sides
    encoders[0].warm_up()
    model = encoders[0]._model
    calls: list[int] = []
    real = model.encode

    def counting(texts, **kw):
        calls.append(len(texts))
        return real(texts, **kw)

    model.encode = counting
    try:
        clear_query_cache()
        start = threading.Barrier(len(encoders))
        out: list[np.ndarray] = [np.zeros(0)] * len(encoders)

        def ask(i: int) -> None:
            start.wait()
            out[i] = encoders[i].embed_text(["a dog barking in the park"])

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(encoders))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        model.encode = real
    assert calls == [1]
    assert all(np.allclose(o, out[0]) for o in out) and out[0].shape == (1, 384)
