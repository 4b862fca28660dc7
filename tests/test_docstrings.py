"""Runs the ``>>>`` examples in the docstrings of every public keras_apps module.

Modules are discovered on disk under ``keras_apps/`` when the tests are
collected, so a new module is picked up without editing this file, and a
module that fails to import fails its test instead of being skipped. A module
without examples passes with nothing to run.
"""

from __future__ import annotations

import doctest
import importlib
import io
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "keras_apps"
OPTION_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def public_modules() -> list[str]:
    """Dotted names of the package's modules with no private path component."""
    names = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(part.startswith("_") for part in parts):
            continue
        names.append(".".join(parts))
    return names


def public_doctests(module_name: str) -> list[doctest.DocTest]:
    """The examples of a module's docstring and of its public objects.

    ``DocTestFinder`` only returns objects defined in the module itself, so a
    name re-exported by a package ``__init__`` is run once, in its home.
    """
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = []
    for test in finder.find(module, module_name):
        local_name = test.name[len(module_name) :].lstrip(".")
        if any(part.startswith("_") for part in local_name.split(".") if part):
            continue
        tests.append(test)
    return sorted(tests, key=lambda t: t.name)


MODULES = public_modules()

# Modules whose examples need TensorFlow (module name or package prefix).
TENSORFLOW_MODULES = {
    "keras_apps.export": "export writes TensorFlow SavedModels",
    "keras_apps.serving": "serving loads TensorFlow SavedModels",
    "keras_apps.layers.hub_backbone": "HubBackbone loads TensorFlow SavedModels",
    "keras_apps.transfer.backbones": "load_backbone wraps TensorFlow SavedModels",
    "keras_apps.transfer.augment": "augment builds tf.data pipelines",
    "keras_apps.models.gan": "GAN's train_step is TensorFlow-first",
    "keras_apps.models.conditional_gan": "its train_step is TensorFlow-first",
    "keras_apps.models.wgan_gp": "WGANGP's train_step is TensorFlow-first",
    "keras_apps.models.style_transfer": "StyleTransfer's loop uses tf.GradientTape",
    "keras_apps.models.fast_style_net": "its example exports a SavedModel",
    "keras_apps.visualize.activation_maximization": "uses tf.GradientTape",
    "keras_apps.visualize.grad_cam": "uses tf.GradientTape",
    "keras_apps.transfer.feature_extractor": "reuses load_backbone",
}


def _module_param(name: str) -> object:
    for prefix, reason in TENSORFLOW_MODULES.items():
        if name == prefix or name.startswith(prefix + "."):
            return pytest.param(
                name, marks=pytest.mark.requires_tensorflow(reason=reason)
            )
    return name


@pytest.mark.parametrize("module_name", [_module_param(m) for m in MODULES])
def test_docstring_examples(module_name):
    tests = public_doctests(module_name)
    runner = doctest.DocTestRunner(optionflags=OPTION_FLAGS)
    report = io.StringIO()
    for test in tests:
        runner.run(test, out=report.write)
    assert runner.failures == 0, (
        f"{runner.failures} of {runner.tries} docstring examples failed in "
        f"{module_name}:\n{report.getvalue()}"
    )


def test_discovery_sees_the_layers_and_their_examples():
    assert "keras_apps.layers" in MODULES
    assert "keras_apps.layers.gram_matrix" in MODULES
    assert not any(part.startswith("_") for m in MODULES for part in m.split("."))
    names = [t.name for t in public_doctests("keras_apps.layers.gram_matrix")]
    assert "keras_apps.layers.gram_matrix.GramMatrix" in names
