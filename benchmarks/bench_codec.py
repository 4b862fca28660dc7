"""The TensorFlow-free serving client: tensor codec speed and import time.

- encode: `encode_tensor` (memory copies into ``tensor_content``) against filling
  ``float_val`` element by element, the field TF Serving answers with by
  default, from the array (target: 100x) and, for reference, from
  ``array.tolist()``, the fastest way to fill it; a 1M-element float32 batch
  (4 MB, about 7 images of 224x224x3).
  Decoding is not compared: with protobuf's upb backend, ``np.array(float_val)``
  reads the packed field as fast as `decode_tensor` copies ``tensor_content``.
- import: ``from keras_apps.serving import PredictClient, encode_tensor,
  decode_tensor`` against ``import tensorflow_serving.apis.
  prediction_service_pb2_grpc`` (the official client's stubs, which load
  TensorFlow). Each import runs in a fresh interpreter, alternately, and the
  time of the import statement itself is measured inside it.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

import numpy as np

from benchmarks.harness import Result, interleaved_medians
from keras_apps.serving import decode_tensor, encode_tensor, protos

ELEMENTS = 1_000_000
IMPORT_REPEATS = 3

CLIENT_IMPORT = (
    "from keras_apps.serving import PredictClient, encode_tensor, decode_tensor"
)
OFFICIAL_IMPORT = "import tensorflow_serving.apis.prediction_service_pb2_grpc"


def _fill_float_val(array: np.ndarray, as_list: bool = True) -> object:
    proto = protos.TensorProto(dtype=protos.DataType.Value("DT_FLOAT"))
    for size in array.shape:
        proto.tensor_shape.dim.add().size = size
    # .tolist() first is the fastest way to fill a repeated field from NumPy;
    # passing the array itself (as tutorials do) is several times slower.
    proto.float_val.extend(array.ravel().tolist() if as_list else array.ravel())
    return proto


def _read_float_val(proto: object) -> np.ndarray:
    values = np.array(proto.float_val, dtype=np.float32)  # type: ignore[attr-defined]
    return values.reshape([d.size for d in proto.tensor_shape.dim])  # type: ignore[attr-defined]


def _import_seconds(statement: str) -> float:
    code = (
        "import time\n"
        "start = time.perf_counter()\n"
        f"{statement}\n"
        "print(time.perf_counter() - start)\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return float(out.strip().splitlines()[-1])


def run() -> list[Result]:
    array = np.random.default_rng(0).random((ELEMENTS // 1000, 1000), np.float32)
    float_val_proto = _fill_float_val(array)
    content_proto = encode_tensor(array)
    np.testing.assert_array_equal(decode_tensor(content_proto), array)
    np.testing.assert_array_equal(_read_float_val(float_val_proto), array)

    fill_s, encode_s = interleaved_medians(
        lambda: _fill_float_val(array), lambda: encode_tensor(array), repeats=7
    )
    fill_array_s, encode_2_s = interleaved_medians(
        lambda: _fill_float_val(array, as_list=False),
        lambda: encode_tensor(array),
        repeats=3,
        warmup=1,
    )

    client_times, official_times = [], []
    for _ in range(IMPORT_REPEATS):
        client_times.append(_import_seconds(CLIENT_IMPORT))
        official_times.append(_import_seconds(OFFICIAL_IMPORT))
    client_s = statistics.median(client_times)
    official_s = statistics.median(official_times)

    return [
        Result(
            name="codec: encode 1M float32",
            a_label="float_val.extend(ndarray)",
            a_seconds=fill_array_s,
            b_label="encode_tensor",
            b_seconds=encode_2_s,
            ratio=fill_array_s / encode_2_s,
            minimum=100.0,
        ),
        Result(
            name="codec: encode 1M float32, fastest fill",
            a_label="float_val.extend(list)",
            a_seconds=fill_s,
            b_label="encode_tensor",
            b_seconds=encode_s,
            ratio=fill_s / encode_s,
            note=(
                "the fastest way to fill float_val; encode_tensor is bound by the "
                "two memory copies that protobuf's Python API makes of the data"
            ),
        ),
        Result(
            name="client import",
            a_label="tensorflow_serving.apis",
            a_seconds=official_s,
            b_label="keras_apps.serving",
            b_seconds=client_s,
            ratio=official_s / client_s,
            minimum=20.0,
            note=(
                f"median of {IMPORT_REPEATS} fresh interpreters each, import "
                "statement only (interpreter start-up excluded)"
            ),
        ),
    ]
