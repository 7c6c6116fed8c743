"""`mmrag train-encoders` argument handling (training itself is exercised in test_encoders_heads)."""

from __future__ import annotations

import pytest

from mmrag.cli import build_parser, main
from mmrag.encoders import available


def test_train_encoders_is_registered_with_its_options() -> None:
    args = build_parser().parse_args(["train-encoders", "--which", "image", "--backbone", "lite0+lite2", "--head", "mlp",
                                      "--seed", "3", "--out", "/tmp/x"])
    assert args.which == "image" and args.backbone == "lite0+lite2" and args.head == "mlp" and args.seed == 3
    assert str(args.out) == "/tmp/x" and callable(args.func)


def test_defaults_reproduce_the_shipped_image_head() -> None:
    """Plain `mmrag train-encoders` trains what ships: the backbone and view count in image.json."""
    import json
    from pathlib import Path

    import mmrag.encoders as enc

    shipped = json.loads((Path(enc.__file__).parent / "weights" / "image.json").read_text())
    args = build_parser().parse_args(["train-encoders"])
    assert args.backbone.split("+") == shipped["features"]["backbones"]
    assert f"{args.views} augmented views" in shipped["training"]["train"]


def test_bad_backbone_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train-encoders", "--which", "image", "--backbone", "lite9"]) == 2
    assert "bad backbone" in capsys.readouterr().err


def test_all_encoders_registered() -> None:
    assert {"effnet-translator", "whisper-translator", "logmel-translator", "open-clip", "clap"} <= set(available())
