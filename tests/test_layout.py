"""The version-folder rule that export and serving share."""

import pytest

from keras_apps._layout import MAX_VERSION, parse_version


@pytest.mark.parametrize(
    "name, expected",
    [
        ("1", 1),
        ("0042", 42),
        (str(MAX_VERSION), MAX_VERSION),
        (str(MAX_VERSION + 1), None),
        ("99999999999999999999", None),
        ("\u00b2", None),  # superscript two: str.isdigit() says True
        ("\u0661\u0662", None),  # Arabic-Indic 12
        ("", None),
        ("1a", None),
        (" 1", None),
        ("-1", None),
        ("1\n", None),
    ],
)
def test_parse_version(name, expected):
    assert parse_version(name) == expected
