"""NumPy arrays to and from ``tensorflow.TensorProto``, without TensorFlow.

`encode_tensor` writes numeric arrays as raw little-endian bytes in
``tensor_content`` (one memory copy instead of one Python object per element,
as filling ``float_val`` needs) and string arrays into ``string_val``.
`decode_tensor` reads ``tensor_content`` and also every ``*_val`` field that TF
Serving fills by default (``float_val``, ``int_val``, ``half_val``, ...), with
TensorFlow's rule that fewer values than elements repeat the last value.

Supported dtypes: bool, int8/16/32/64, uint8/16/32/64, float16/32/64,
complex64/128, strings (bytes or str; decoded as an object array of bytes, as
`tf.make_ndarray` does), and, when ``ml_dtypes`` is importable (it ships with
TensorFlow and JAX), bfloat16 and the float8 types.

Example:

>>> import numpy as np
>>> from keras_apps.serving import decode_tensor, encode_tensor
>>> proto = encode_tensor(np.arange(6, dtype="float32").reshape(2, 3))
>>> [dim.size for dim in proto.tensor_shape.dim], len(proto.tensor_content)
([2, 3], 24)
>>> decode_tensor(proto)
array([[0., 1., 2.],
       [3., 4., 5.]], dtype=float32)
>>> decode_tensor(encode_tensor(np.array([b"cat", "dog"], dtype=object)))
array([b'cat', b'dog'], dtype=object)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_apps.serving import protos

_DT = protos.DataType
DT_STRING = _DT.Value("DT_STRING")

# NumPy scalar type -> DataType number, and back.
_NUMPY_TO_DT: dict[Any, int] = {}
_DT_TO_NUMPY: dict[int, np.dtype] = {}


def _register(types_to_names: dict[Any, str]) -> None:
    for scalar_type, name in types_to_names.items():
        _NUMPY_TO_DT[scalar_type] = _DT.Value(name)
        _DT_TO_NUMPY[_DT.Value(name)] = np.dtype(scalar_type).newbyteorder("<")


_register(
    {
        np.bool_: "DT_BOOL",
        np.int8: "DT_INT8",
        np.int16: "DT_INT16",
        np.int32: "DT_INT32",
        np.int64: "DT_INT64",
        np.uint8: "DT_UINT8",
        np.uint16: "DT_UINT16",
        np.uint32: "DT_UINT32",
        np.uint64: "DT_UINT64",
        np.float16: "DT_HALF",
        np.float32: "DT_FLOAT",
        np.float64: "DT_DOUBLE",
        np.complex64: "DT_COMPLEX64",
        np.complex128: "DT_COMPLEX128",
    }
)

_ml_dtypes_state: dict[str, bool] = {}


def _ml_dtypes_available() -> bool:
    """Registers bfloat16 and the float8 types on first need.

    ``ml_dtypes`` (it ships with TensorFlow and JAX) is optional for a
    TensorFlow-free install, and importing it costs a few milliseconds that a
    client sending float32 need not pay at import time.
    """
    if "available" not in _ml_dtypes_state:
        try:
            import ml_dtypes
        except ImportError:  # pragma: no cover - depends on the environment
            _ml_dtypes_state["available"] = False
        else:
            _register(
                {
                    ml_dtypes.bfloat16: "DT_BFLOAT16",
                    ml_dtypes.float8_e5m2: "DT_FLOAT8_E5M2",
                    ml_dtypes.float8_e4m3fn: "DT_FLOAT8_E4M3FN",
                    ml_dtypes.float8_e4m3fnuz: "DT_FLOAT8_E4M3FNUZ",
                    ml_dtypes.float8_e4m3b11fnuz: "DT_FLOAT8_E4M3B11FNUZ",
                    ml_dtypes.float8_e5m2fnuz: "DT_FLOAT8_E5M2FNUZ",
                }
            )
            _ml_dtypes_state["available"] = True
    return _ml_dtypes_state["available"]


# DataType name -> the repeated field TF Serving fills when it does not use
# tensor_content (tensorflow/core/framework/tensor.proto).
_VAL_FIELDS = {
    "DT_BOOL": "bool_val",
    "DT_INT8": "int_val",
    "DT_INT16": "int_val",
    "DT_INT32": "int_val",
    "DT_UINT8": "int_val",
    "DT_UINT16": "int_val",
    "DT_INT64": "int64_val",
    "DT_UINT32": "uint32_val",
    "DT_UINT64": "uint64_val",
    "DT_HALF": "half_val",
    "DT_BFLOAT16": "half_val",
    "DT_FLOAT": "float_val",
    "DT_DOUBLE": "double_val",
    "DT_COMPLEX64": "scomplex_val",
    "DT_COMPLEX128": "dcomplex_val",
    "DT_FLOAT8_E5M2": "float8_val",
    "DT_FLOAT8_E4M3FN": "float8_val",
    "DT_FLOAT8_E4M3FNUZ": "float8_val",
    "DT_FLOAT8_E4M3B11FNUZ": "float8_val",
    "DT_FLOAT8_E5M2FNUZ": "float8_val",
}

# A protobuf message may not exceed 2 GiB.
_MAX_CONTENT_BYTES = 2**31 - 1


def supported_dtypes() -> list[str]:
    """Names of the NumPy dtypes that `encode_tensor` accepts, plus strings."""
    _ml_dtypes_available()
    return sorted(np.dtype(t).name for t in _NUMPY_TO_DT) + ["bytes", "str"]


def data_type(dtype: Any) -> int:
    """The ``tensorflow.DataType`` number of a NumPy dtype (strings: DT_STRING).

    Args:
        dtype: Anything `np.dtype` accepts.

    Returns:
        The enum number, e.g. 1 for float32.

    Raises:
        TypeError: If the dtype has no TensorFlow equivalent.
    """
    dtype = np.dtype(dtype)
    number = _NUMPY_TO_DT.get(dtype.type)
    if number is not None:
        return number
    if dtype.kind in "SUO":
        return DT_STRING
    if number is None and _ml_dtypes_available():
        number = _NUMPY_TO_DT.get(dtype.type)
    if number is None:
        raise TypeError(
            f"Cannot encode dtype {dtype} as a TensorProto. "
            f"Expected one of {supported_dtypes()}."
            + (
                " bfloat16 and float8 need the `ml_dtypes` package."
                if not _ml_dtypes_available()
                else ""
            )
        )
    return number


def numpy_dtype(data_type_number: int) -> np.dtype:
    """The NumPy dtype of a ``tensorflow.DataType`` number (DT_STRING: object).

    Raises:
        TypeError: If the data type has no NumPy equivalent here.
    """
    if data_type_number == DT_STRING:
        return np.dtype(object)
    dtype = _DT_TO_NUMPY.get(data_type_number)
    if dtype is None and _ml_dtypes_available():
        dtype = _DT_TO_NUMPY.get(data_type_number)
    if dtype is None:
        raise TypeError(
            f"Cannot decode a TensorProto of dtype {_dtype_name(data_type_number)}. "
            f"Supported: {sorted(_DT.Name(n) for n in _DT_TO_NUMPY)} and DT_STRING."
        )
    return dtype.newbyteorder("=")


def shape_from_proto(shape_proto: Any) -> tuple[int | None, ...] | None:
    """A ``TensorShapeProto`` as a tuple; unknown dims (-1) are ``None``.

    Returns ``None`` when the rank itself is unknown.
    """
    if shape_proto.unknown_rank:
        return None
    return tuple(None if dim.size < 0 else int(dim.size) for dim in shape_proto.dim)


def encode_tensor(value: Any, dtype: Any = None, out: Any = None) -> Any:
    """Encodes an array as a ``tensorflow.TensorProto``.

    Numeric arrays go into ``tensor_content`` as little-endian bytes; string
    arrays (dtype ``S``, ``U`` or an object array of bytes/str) go into
    ``string_val``, with ``str`` encoded as UTF-8. The dtype is NumPy's: a
    Python float becomes float64 (`tf.make_tensor_proto` would pick float32);
    pass ``dtype`` to choose.

    Args:
        value: A NumPy array or anything `np.asarray` accepts (lists, scalars,
            tensors with ``__array__``).
        dtype: Optional dtype to convert ``value`` to first.
        out: Optional ``TensorProto`` to fill in place, for example
            ``request.inputs["x"]``. It may be this package's class or the
            official ``tensorflow.core.framework.tensor_pb2.TensorProto``.
            It is cleared first.

    Returns:
        The filled ``TensorProto`` (``out`` when given).

    Raises:
        TypeError: For dtypes without a TensorFlow equivalent and object
            arrays holding something other than bytes or str.
        ValueError: If the data exceeds protobuf's 2 GiB message limit.

    Example:

    >>> from keras_apps.serving import encode_tensor
    >>> proto = encode_tensor([[1, 2, 3]], dtype="int32")
    >>> proto.dtype == 3, [d.size for d in proto.tensor_shape.dim]
    (True, [1, 3])
    """
    array = np.asarray(value, dtype=dtype)
    proto = protos.TensorProto() if out is None else out
    if out is not None:
        proto.Clear()
    number = data_type(array.dtype)
    proto.dtype = number
    shape = proto.tensor_shape
    shape.SetInParent()
    for size in array.shape:
        shape.dim.add().size = size
    if number == DT_STRING:
        proto.string_val.extend(_to_bytes_list(array))
        return proto
    if array.nbytes > _MAX_CONTENT_BYTES:
        raise ValueError(
            f"Cannot encode {array.nbytes} bytes in one TensorProto: protobuf "
            f"messages are limited to 2 GiB. Received shape {array.shape}, "
            f"dtype {array.dtype}. Split the batch (PredictClient.predict_batched)."
        )
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    if array.size:
        proto.tensor_content = array.tobytes(order="C")
    return proto


def _to_bytes_list(array: np.ndarray) -> list[bytes]:
    flat = array.ravel(order="C").tolist()
    if array.dtype.kind == "S":
        return flat
    result = []
    for item in flat:
        if isinstance(item, str):
            result.append(item.encode("utf-8"))
        elif isinstance(item, bytes):
            result.append(item)
        else:
            raise TypeError(
                "String tensors hold bytes or str. Received an element of type "
                f"{type(item).__name__}: {item!r}."
            )
    return result


def decode_tensor(proto: Any) -> np.ndarray:
    """Decodes a ``tensorflow.TensorProto`` into a NumPy array.

    Reads ``tensor_content`` when it is set and otherwise the typed ``*_val``
    field (``float_val``, ``int_val``, ``half_val`` as uint16 bit patterns,
    ``string_val``, ...). As in TensorFlow, when a ``*_val`` field holds fewer
    values than the shape has elements, the last value repeats; an empty
    field gives zeros. String tensors decode to object arrays of bytes.

    Args:
        proto: A ``TensorProto`` of this package or the official class.

    Returns:
        A new, writable NumPy array.

    Raises:
        TypeError: If the dtype is not supported.
        ValueError: If the shape is unknown or the data does not fit it.

    Example:

    >>> from keras_apps.serving import decode_tensor, protos
    >>> proto = protos.TensorProto(dtype=protos.DataType.Value("DT_FLOAT"))
    >>> proto.tensor_shape.dim.add().size = 3
    >>> proto.float_val.append(0.5)
    >>> decode_tensor(proto)
    array([0.5, 0.5, 0.5], dtype=float32)
    """
    maybe_shape = shape_from_proto(proto.tensor_shape)
    if maybe_shape is None or any(size is None for size in maybe_shape):
        raise ValueError(
            "Cannot decode a TensorProto without a fully known shape. "
            f"Received tensor_shape {_shape_text(proto.tensor_shape)}."
        )
    shape = tuple(int(size) for size in maybe_shape if size is not None)
    num_elements = int(np.prod(shape, dtype=np.int64))
    number = proto.dtype
    if number == DT_STRING:
        if proto.tensor_content:
            raise ValueError(
                "String tensors are read from string_val; this DT_STRING "
                "TensorProto carries tensor_content instead, which TF Serving "
                "does not send. Received "
                f"{len(proto.tensor_content)} bytes of tensor_content."
            )
        values = np.empty(len(proto.string_val), dtype=object)
        values[:] = list(proto.string_val)
        return _fill(values, shape, num_elements, "string_val")
    dtype = numpy_dtype(number)
    content = proto.tensor_content
    if content:
        expected = num_elements * dtype.itemsize
        if len(content) != expected:
            raise ValueError(
                f"tensor_content holds {len(content)} bytes; shape {shape} of "
                f"{dtype} needs {expected}."
            )
        array = np.frombuffer(content, dtype=dtype.newbyteorder("<"))
        return array.astype(dtype).reshape(shape)
    name = _DT.Name(number)
    field = _VAL_FIELDS[name]
    raw = getattr(proto, field)
    if field == "half_val":
        values = np.array(raw, dtype=np.uint16).view(dtype)
    elif field == "float8_val":
        values = np.frombuffer(raw, dtype=np.uint8).view(dtype).copy()
    elif field == "scomplex_val":
        values = np.array(raw, dtype=np.float32).view(np.complex64)
    elif field == "dcomplex_val":
        values = np.array(raw, dtype=np.float64).view(np.complex128)
    else:
        values = np.array(raw, dtype=dtype)
    return _fill(values, shape, num_elements, field)


def _fill(
    values: np.ndarray, shape: Sequence[Any], num_elements: int, field: str
) -> np.ndarray:
    if values.size == num_elements:
        return values.reshape(shape)
    if values.size == 0:
        if values.dtype == object:
            filled = np.empty(num_elements, dtype=object)
            filled[:] = b""
            return filled.reshape(shape)
        return np.zeros(shape, dtype=values.dtype)
    if values.size > num_elements:
        raise ValueError(
            f"{field} holds {values.size} values; shape {tuple(shape)} has only "
            f"{num_elements} elements."
        )
    return np.pad(values, (0, num_elements - values.size), mode="edge").reshape(shape)


def _dtype_name(number: int) -> str:
    try:
        return str(_DT.Name(number))
    except ValueError:
        return f"<unknown DataType {number}>"


def _shape_text(shape_proto: Any) -> str:
    if shape_proto.unknown_rank:
        return "<unknown rank>"
    return str([dim.size for dim in shape_proto.dim])


def value_field(data_type_number: int) -> str:
    """The repeated ``TensorProto`` field that holds values of a data type.

    ``"float_val"`` for DT_FLOAT, ``"int_val"`` for DT_INT32 and DT_UINT8,
    ``"half_val"`` for DT_HALF and DT_BFLOAT16, ``"string_val"`` for DT_STRING,
    ...: the field TF Serving fills when it does not use ``tensor_content``.

    Raises:
        TypeError: If the data type is not supported (as for `numpy_dtype`).

    Example:

    >>> from keras_apps.serving.codec import value_field
    >>> value_field(1), value_field(7)
    ('float_val', 'string_val')
    """
    if data_type_number == DT_STRING:
        return "string_val"
    numpy_dtype(data_type_number)  # TypeError for what this codec cannot read
    return _VAL_FIELDS[_DT.Name(data_type_number)]


def encode_tensor_values(value: Any, dtype: Any = None, out: Any = None) -> Any:
    """Encodes an array in the typed ``*_val`` fields, as TF Serving answers.

    TF Serving fills ``float_val``, ``int_val``, ``int64_val``, ``half_val``
    (float16 and bfloat16 as uint16 bit patterns), ``scomplex_val`` (real and
    imaginary parts), ``string_val``, ... (TensorFlow's ``Tensor::AsProtoField``)
    unless it runs with ``--enable_serialization_as_tensor_content``, which
    `encode_tensor` matches. Scalars hold one value; int8, int16, uint8 and
    uint16 go to ``int_val``; float8 types to the ``float8_val`` bytes.

    Args:
        value: A NumPy array or anything `np.asarray` accepts.
        dtype: Optional dtype to convert ``value`` to first.
        out: Optional ``TensorProto`` to fill in place (cleared first).

    Returns:
        The filled ``TensorProto`` (``out`` when given).

    Example:

    >>> from keras_apps.serving.codec import encode_tensor_values
    >>> proto = encode_tensor_values([[1.5, 2.0]], dtype="float32")
    >>> list(proto.float_val), len(proto.tensor_content)
    ([1.5, 2.0], 0)
    """
    array = np.asarray(value, dtype=dtype)
    number = data_type(array.dtype)
    if number == DT_STRING:
        return encode_tensor(array, out=out)
    proto = protos.TensorProto() if out is None else out
    if out is not None:
        proto.Clear()
    proto.dtype = number
    shape = proto.tensor_shape
    shape.SetInParent()
    for size in array.shape:
        shape.dim.add().size = size
    field = _VAL_FIELDS[_DT.Name(number)]
    flat = array.ravel(order="C")
    values: list[Any]
    if field == "float8_val":
        proto.float8_val = flat.view(np.uint8).tobytes()
        return proto
    if field == "half_val":
        values = flat.view(np.uint16).tolist()
    elif field == "scomplex_val":
        values = flat.view(np.float32).tolist()
    elif field == "dcomplex_val":
        values = flat.view(np.float64).tolist()
    else:
        values = flat.tolist()
    getattr(proto, field).extend(values)
    return proto
