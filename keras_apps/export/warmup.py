"""TF Serving warmup requests: ``assets.extra/tf_serving_warmup_requests``.

TF Serving replays the records of this file before it marks a version
available, so the first real request does not pay for graph initialization.
The file is a TFRecord of ``PredictionLog`` protos, as TF Serving documents
(https://www.tensorflow.org/tfx/serving/saved_model_warmup). Needs TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from keras_apps._layout import DEFAULT_SIGNATURE_KEY, WARMUP_DIR, WARMUP_FILE

MAX_WARMUP_RECORDS = 1000  # TF Serving reads at most this many records


def warmup_file_path(export_dir: str) -> str:
    """Where TF Serving looks for the warmup file of one version folder."""
    return os.path.join(export_dir, WARMUP_DIR, WARMUP_FILE)


def split_batch(
    inputs: Mapping[str, Any], batch_size: int = 1
) -> list[dict[str, np.ndarray]]:
    """Splits one batch (a dict of equally long arrays) into requests.

    Args:
        inputs: Signature input key to array; all arrays share the first
            dimension.
        batch_size: Examples per request; the last request may be shorter.

    Example:
    >>> import numpy as np
    >>> from keras_apps.export.warmup import split_batch
    >>> [r["x"].shape for r in split_batch({"x": np.zeros((5, 2))}, 2)]
    [(2, 2), (2, 2), (1, 2)]
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"Expected a positive integer batch size. Received: {batch_size!r}"
        )
    arrays = {key: np.asarray(value) for key, value in inputs.items()}
    sizes = {key: (a.shape[0] if a.ndim else None) for key, a in arrays.items()}
    distinct = set(sizes.values())
    if len(distinct) != 1 or None in distinct:
        raise ValueError(
            f"Expected warmup arrays with one common batch dimension. "
            f"Received batch sizes {sizes}."
        )
    total = distinct.pop()
    return [
        {key: a[start : start + batch_size] for key, a in arrays.items()}
        for start in range(0, int(total or 0), batch_size)
    ]


def write_warmup_requests(
    export_dir: str,
    requests: Sequence[Mapping[str, Any]],
    model_name: str,
    signature_name: str = DEFAULT_SIGNATURE_KEY,
) -> str:
    """Writes ``requests`` as TF Serving warmup records of one export.

    Each request becomes one ``PredictionLog`` whose ``predict_log.request``
    names the model and signature and carries the inputs as ``TensorProto``s.
    The file is written to a temporary name and renamed into place.

    Args:
        export_dir: A SavedModel version folder (``base_path/<version>``).
        requests: One dict per request: signature input key to array.
        model_name: The name the model is served under (``--model_name``).
        signature_name: The signature the requests call.

    Returns:
        The path of the written file.

    Example:
    >>> import tempfile, numpy as np
    >>> from keras_apps.export import read_warmup_requests, write_warmup_requests
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_warmup_requests(folder, [{"x": np.ones((1, 2), "float32")}], "m")
    >>> [log.predict_log.request.model_spec.name for log in
    ...  read_warmup_requests(folder)]
    ['m']
    """
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    if not model_name or not isinstance(model_name, str):
        raise ValueError(f"Expected a model name. Received: {model_name!r}")
    requests = list(requests)
    if not requests:
        raise ValueError("Expected at least one warmup request. Received none.")
    if len(requests) > MAX_WARMUP_RECORDS:
        raise ValueError(
            f"TF Serving reads at most {MAX_WARMUP_RECORDS} warmup records. "
            f"Received {len(requests)} requests: pass fewer examples or a larger "
            "warmup batch size."
        )
    records = []
    for request_inputs in requests:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = model_name
        request.model_spec.signature_name = signature_name
        for key, value in request_inputs.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
        log = prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=request)
        )
        records.append(log.SerializeToString())

    directory = os.path.join(export_dir, WARMUP_DIR)
    os.makedirs(directory, exist_ok=True)
    path = warmup_file_path(export_dir)
    temp_path = f"{path}.partial"
    try:
        with tf.io.TFRecordWriter(temp_path) as writer:
            for record in records:
                writer.write(record)
        os.replace(temp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temp_path)
        raise
    return path


def read_warmup_requests(path: str) -> list[Any]:
    """Parses a warmup file (or a version folder's) back into ``PredictionLog``s.

    Args:
        path: The warmup file, or the version folder that holds it.
    """
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    if os.path.isdir(path):
        path = warmup_file_path(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No warmup file at {path!r}.")
    logs = []
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(record.numpy())
        logs.append(log)
    return logs
