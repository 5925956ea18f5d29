"""The runnable examples: the main job (including its offline fallback) and the tape demo."""

import os

import pytest

from chainrule.examples import mnist, mnist_convnet, tape_basics
from chainrule.keras.diagnostics import TrainingCheckWarning
from tests.keras._helpers import MNIST


def offline(monkeypatch, tmp_path):
    """No local MNIST anywhere and no network: the loaders must fall back cleanly."""
    monkeypatch.delenv("CHAINRULE_DATASETS", raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv("CHAINRULE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CHAINRULE_DATASETS_URL", "http://127.0.0.1:9/")  # refuses at once


def test_offline_main_job_says_where_to_put_mnist_and_trains_on_digits(monkeypatch, tmp_path, capsys):
    pytest.importorskip("sklearn")
    offline(monkeypatch, tmp_path)
    accuracy = mnist.main(["--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert "put mnist.npz" in err and "CHAINRULE_DATASETS" in err
    assert "Traceback" not in out + err
    assert "digits: 1437 training and 360 test images" in out
    assert accuracy >= 0.95 and f"test_acc: {accuracy:.4f}" in out
    assert sorted(os.listdir(tmp_path / "out")) == ["digits.chainrule", "digits_training.png"]


def test_offline_convnet_trains_on_digits_compiled(monkeypatch, tmp_path, capsys):
    pytest.importorskip("sklearn")
    offline(monkeypatch, tmp_path)
    accuracy = mnist_convnet.main(["--epochs", "6", "--jit", "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert "put mnist.npz" in err and "Traceback" not in out + err
    assert "digits: 1437 training and 360 test images of 8x8 pixels" in out
    assert "(None, 2, 2, 128)" in out  # "same" convolutions on the small images
    assert accuracy >= 0.9 and "(compiled)" in out
    assert os.listdir(tmp_path / "out") == ["digits_convnet.chainrule"]


@pytest.mark.skipif(MNIST is None or not os.path.exists(MNIST),
                    reason="needs mnist.npz in $CHAINRULE_DATASETS (unset or lacking it)")
def test_main_job_on_mnist_one_epoch(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CHAINRULE_DATASETS", os.path.dirname(MNIST))
    accuracy = mnist.main(["--epochs", "1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "469/469" in out and "first test image: predicted" in out
    assert accuracy > 0.95
    assert os.path.exists(tmp_path / "mnist.chainrule")


def test_tape_basics_prints_the_chapter_values(capsys):
    tape_basics.main()
    out = capsys.readouterr().out
    assert "d(2x + 3)/dx at x = 0: 2.0" in out
    assert "d loss/d w = 2.0, d loss/d b = 1.0" in out
    assert "acceleration 9.8" in out


def test_diagnostics_plot_example_writes_the_picture_and_a_diagnosis(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from chainrule.examples import diagnostics_plot
    # Its learning rate is high on purpose, so that the diagnostics have something to say.
    with pytest.warns(TrainingCheckWarning, match="the learning rate 0.05 is too large"):
        history = diagnostics_plot.main([str(tmp_path), "--epochs", "2"])
    out = capsys.readouterr().out
    assert history.diagnosis in out and f"wrote {tmp_path / 'diagnostics.png'}" in out
    with open(tmp_path / "diagnostics.png", "rb") as f:
        assert f.read(4) == b"\x89PNG"


def test_draw_distributed_step_prints_and_draws_the_all_reduce(tmp_path, capsys):
    from chainrule.examples import draw_distributed_step
    draw_distributed_step.main(str(tmp_path))
    out = capsys.readouterr().out
    assert "all_reduce(%" in out and "op='mean'" in out and "apply_gradients(" in out
    (drawn,) = list(tmp_path.iterdir())
    assert drawn.name.startswith("distributed_step") and "all_reduce" in drawn.read_text()
